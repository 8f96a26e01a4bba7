"""Time MediaPipe's FaceLandmarker in VIDEO mode (it tracks between frames, as our face stage
does) on a numbered frame sequence; print one JSON line with per-frame milliseconds: wall time, and
CPU time of the whole process (all of MediaPipe's threads) per frame.

Runs in a separate interpreter that has ``mediapipe`` (see ``benchmarks/bench_face_stage.py``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import BaseOptions
from mediapipe.tasks.python.vision import FaceLandmarker, FaceLandmarkerOptions, RunningMode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", type=Path, required=True)
    parser.add_argument("--frames", type=Path, required=True, help="folder of NNNNN_<ms>.png")
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    files = sorted(args.frames.glob("*.png"))
    images = [(mp.Image.create_from_file(str(p)), int(p.stem.split("_")[1]), p.stem.split("_")[2])
              for p in files]
    samples, cpu = [], []
    offset = 0
    for _ in range(args.passes):
        options = FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(args.task)),
            running_mode=RunningMode.VIDEO, num_faces=1, output_face_blendshapes=True)
        with FaceLandmarker.create_from_options(options) as landmarker:
            clip = None
            for image, ms, name in images:
                if name != clip:  # a new clip: timestamps must keep increasing
                    offset += 10_000
                    clip = name
                start, start_cpu = time.perf_counter(), time.process_time()
                landmarker.detect_for_video(image, offset + ms)
                samples.append((time.perf_counter() - start) * 1000.0)
                cpu.append((time.process_time() - start_cpu) * 1000.0)
    skip = len(images) if args.passes > 1 else 0
    arr = np.array(samples[skip:])
    cpu_arr = np.array(cpu[skip:])
    print(json.dumps({"version": mp.__version__, "frames": len(images), "mode": "VIDEO",
                      "p50_ms": float(np.percentile(arr, 50)),
                      "p95_ms": float(np.percentile(arr, 95)),
                      "mean_ms": float(arr.mean()), "min_ms": float(arr.min()),
                      "cpu_mean_ms": float(cpu_arr.mean()),
                      "cpu_p50_ms": float(np.percentile(cpu_arr, 50))}))


if __name__ == "__main__":
    main()
