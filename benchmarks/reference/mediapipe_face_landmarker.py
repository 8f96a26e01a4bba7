"""Time MediaPipe's own FaceLandmarker (Tasks API) on image files; print one JSON line.

Runs in a separate interpreter that has ``mediapipe`` installed (it pulls a non-headless OpenCV
that must not share an environment with the server). Not imported by the server.
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
    parser.add_argument("--frames", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    options = FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(args.task)),
        running_mode=RunningMode.IMAGE, num_faces=1, output_face_blendshapes=True)
    files = sorted(p for p in args.frames.iterdir() if p.suffix.lower() in {".jpg", ".png"})
    images = [mp.Image.create_from_file(str(p)) for p in files]
    samples = []
    with FaceLandmarker.create_from_options(options) as landmarker:
        for image in images[:2]:
            landmarker.detect(image)
        for i in range(args.repeat):
            image = images[i % len(images)]
            start = time.perf_counter()
            landmarker.detect(image)
            samples.append((time.perf_counter() - start) * 1000.0)
    arr = np.array(samples)
    print(json.dumps({"version": mp.__version__, "frames": len(images),
                      "p50_ms": float(np.percentile(arr, 50)),
                      "p95_ms": float(np.percentile(arr, 95)), "min_ms": float(arr.min())}))


if __name__ == "__main__":
    main()
