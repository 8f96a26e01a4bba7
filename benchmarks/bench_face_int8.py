"""Would int8 copies of the face models make the face stage cheaper without losing accuracy?

Why this script exists: the machine's CPU has AVX-512 VNNI (and AMX), and onnxruntime's MLAS
has int8 kernels for it, so a quantised ``face_mesh`` / ``face_blendshapes`` looked like the
way to a face stage clearly cheaper than MediaPipe's FaceLandmarker. This measures it instead
of assuming it, and is kept so the answer can be re-checked on another CPU or onnxruntime:

* each model is made float32 (its fp16 weights cast up, as onnxruntime does at load), then
  quantised with ``onnxruntime.quantization.quantize_static`` (QDQ, int8 weights per output
  channel, uint8 activations, MinMax calibration) on *real* inputs: the mesh crops and the
  146-landmark inputs of the London portraits with ids <= 70 (detection ROI and tracking ROI
  of each portrait);
* accuracy against the float model on inputs it was not calibrated on: the 90 tracked frames
  of the 6 GRID clips (the cost benchmark's frames) and the London portraits with ids > 70 -
  landmark error in crop pixels (the crop is 256 px; GRID faces span ~200 px in the frame,
  so crop pixels are about image pixels) and blendshape score differences;
* cost: process CPU time per call with the runtime's own load-time rewrites and session
  options (one thread), the float and int8 sessions interleaved over several rounds.

Nothing is written to ``models/``; the quantised files live in a temporary folder.

    .venv/bin/python -m benchmarks.bench_face_int8 [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from benchmarks.bench_face_stage import load_frames
from verification.face.blendshapes import model_input
from verification.face.mesh import preprocess, roi_from_detection, roi_from_landmarks
from verification.face.observation import FaceTracker, TrackerConfig
from verification.runtime import ModelRegistry, ThreadBudget
from verification.runtime.graph_rewrite import nchwc_block_size, rewritten_model
from verification.runtime.providers import session_options
from verification.video.images import load_image

REPO = Path(__file__).resolve().parents[1]
LONDON = REPO.parent / "shared" / "media" / "faces" / "london"
CALIBRATION_MAX_ID = 70  # London ids <= 70 calibrate, the rest evaluate


def float32_copy(src: Path, dst: Path) -> None:
    """The model with its fp16 initializers behind ``Cast`` nodes stored as float32."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    for node in list(graph.node):
        source = inits.get(node.input[0]) if node.op_type == "Cast" else None
        if source is not None and source.data_type == onnx.TensorProto.FLOAT16:
            values = numpy_helper.to_array(source).astype(np.float32)
            graph.initializer.append(numpy_helper.from_array(values, node.output[0]))
            graph.node.remove(node)
    used = {name for node in graph.node for name in node.input}
    for init in list(graph.initializer):
        if init.name not in used:
            graph.initializer.remove(init)
    onnx.save(model, str(dst))


def quantise(src: Path, dst: Path, input_name: str, samples: list[np.ndarray],
             op_types: list[str]) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds = iter([{input_name: sample} for sample in samples])

        def get_next(self) -> dict | None:
            return next(self._feeds, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, op_types_to_quantize=op_types)


def session(path: Path) -> tuple[ort.InferenceSession, bool]:
    """A session as the registry makes it (load-time rewrites, one thread); NCHW input?"""
    rewritten = rewritten_model(path, nchwc_block_size())
    sess = ort.InferenceSession(rewritten.model_bytes if rewritten else str(path),
                                sess_options=session_options(ThreadBudget(1, 1)),
                                providers=["CPUExecutionProvider"])
    return sess, bool(rewritten and rewritten.channels_first)


def feeds_for(sess: ort.InferenceSession, channels_first: bool,
              samples: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
    name = sess.get_inputs()[0].name
    if channels_first:
        samples = [np.ascontiguousarray(s.transpose(0, 3, 1, 2)) for s in samples]
    return [{name: s} for s in samples]


def cpu_ms(sessions: dict[str, tuple[ort.InferenceSession, list]], rounds: int) -> dict:
    """Median over rounds of CPU ms per call; the sessions take turns within each round."""
    spent: dict[str, list[float]] = {label: [] for label in sessions}
    for _ in range(rounds):
        for label, (sess, feeds) in sessions.items():
            start = time.process_time()
            for feed in feeds:
                sess.run(None, feed)
            spent[label].append((time.process_time() - start) * 1000.0 / len(feeds))
    return {label: float(np.median(v)) for label, v in spent.items()}


def collect(registry: ModelRegistry) -> dict[str, list[np.ndarray]]:
    """Real model inputs: London mesh crops / landmark sets split by id, GRID tracked frames."""
    detector, mesh = registry.adapter("face_detector"), registry.adapter("face_mesh")
    out: dict[str, list[np.ndarray]] = {k: [] for k in
                                        ("cal_mesh", "cal_bs", "london_mesh", "london_bs",
                                         "grid_mesh", "grid_bs")}
    for path in sorted(LONDON.glob("*.jpg")):
        image = load_image(path)
        faces = detector.detect(image)
        if not len(faces):
            continue
        split = "cal" if int(path.stem.split("_")[0]) <= CALIBRATION_MAX_ID else "london"
        marks = mesh.landmarks(image, faces[0])
        out[f"{split}_bs"].append(model_input(marks.points))
        for roi in (roi_from_detection(faces[0]), roi_from_landmarks(marks.points,
                                                                     marks.image_size)):
            out[f"{split}_mesh"].append(preprocess(image, roi).copy())
    tracker = FaceTracker.from_registry(registry, TrackerConfig(detect_every=5),
                                        with_encoder=False)
    clip = None
    for name, frame in load_frames():
        if name != clip:
            tracker.reset()
            clip = name
        obs = tracker.observe(frame.image, frame.pts, frame.index)
        if obs.face:
            out["grid_mesh"].append(preprocess(frame.image, roi_from_landmarks(
                obs.landmarks, obs.image_size)).copy())
            out["grid_bs"].append(model_input(obs.landmarks))
    return out


def outputs(sess: ort.InferenceSession, feeds: list[dict]) -> list[list[np.ndarray]]:
    return [[np.asarray(v).reshape(-1) for v in sess.run(None, feed)] for feed in feeds]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    registry = ModelRegistry.from_manifest(provider="cpu", budget=ThreadBudget(1, 1))
    data = collect(registry)
    report: dict = {"calibration_inputs": {"mesh": len(data["cal_mesh"]),
                                           "blendshapes": len(data["cal_bs"])}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        jobs = [("face_mesh", "image", "cal_mesh", ["Conv", "Add", "Relu", "MaxPool"]),
                ("face_blendshapes", "points", "cal_bs", ["Conv", "MatMul", "Gemm"])]
        for name, input_name, cal, op_types in jobs:
            fp32, int8 = work / f"{name}_fp32.onnx", work / f"{name}_int8.onnx"
            float32_copy(registry.spec(name).file, fp32)
            quantise(fp32, int8, input_name, data[cal], op_types)
            (ref, ref_cf), (quant, quant_cf) = session(registry.spec(name).file), session(int8)
            kind = "mesh" if name == "face_mesh" else "bs"
            row: dict = {}
            for split in ("grid", "london"):
                samples = data[f"{split}_{kind}"]
                a = outputs(ref, feeds_for(ref, ref_cf, samples))
                b = outputs(quant, feeds_for(quant, quant_cf, samples))
                if kind == "mesh":
                    la = np.array([x[0].reshape(-1, 3)[:, :2] for x in a])
                    lb = np.array([x[0].reshape(-1, 3)[:, :2] for x in b])
                    err = np.linalg.norm(la - lb, axis=-1)
                    logit = np.abs(np.array([x[1][0] - y[1][0] for x, y in zip(a, b, strict=True)]))
                    row[split] = {"inputs": len(samples),
                                  "landmark_error_crop_px_mean": float(err.mean()),
                                  "landmark_error_crop_px_p99": float(np.percentile(err, 99)),
                                  "landmark_error_crop_px_max": float(err.max()),
                                  "presence_logit_diff_max": float(logit.max())}
                else:
                    diff = np.abs(np.array([x[0] for x in a]) - np.array([x[0] for x in b]))
                    row[split] = {"inputs": len(samples), "score_diff_mean": float(diff.mean()),
                                  "score_diff_max": float(diff.max())}
            grid = data[f"grid_{kind}"]
            row["cpu_ms_per_call"] = cpu_ms({"float": (ref, feeds_for(ref, ref_cf, grid)),
                                             "int8": (quant, feeds_for(quant, quant_cf, grid))},
                                            args.rounds)
            report[name] = row
            print(f"{name}: CPU ms per call float {row['cpu_ms_per_call']['float']:.2f}, "
                  f"int8 {row['cpu_ms_per_call']['int8']:.2f}")
            for split in ("grid", "london"):
                print(f"  int8 vs float on {split} ({row[split]['inputs']} inputs): "
                      + ", ".join(f"{k} {v:.4f}" for k, v in row[split].items() if k != "inputs"))
    out = REPO / "benchmarks" / "results" / "face_int8.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
