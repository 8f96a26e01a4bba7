"""Benchmark cases for the MediaPipe face pipeline, on the real photos in tests/data/faces.

Each case is one adapter call, as it runs per video frame:

* ``face_detector``: ``detect`` on a 600x800 webcam frame (letterbox warp to 128x128, model,
  anchor decode, weighted NMS, projection back to pixels);
* ``face_mesh``: ``landmarks`` for the face found there (eye-aligned ROI, 256x256 warp, model,
  projection of 478 points);
* ``face_blendshapes``: ``scores`` from those landmarks (146-point subset, model).

No batch cases: the models have a fixed batch of 1 (TFLite signatures).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

FRAME = "faces/lisa1.jpg"


def _rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def detector_case(registry, data_dir: Path) -> Callable[[], object]:
    detector = registry.adapter("face_detector")
    image = _rgb(data_dir / FRAME)
    return lambda: detector.detect(image)


def mesh_case(registry, data_dir: Path) -> Callable[[], object]:
    mesh = registry.adapter("face_mesh")
    image = _rgb(data_dir / FRAME)
    face = registry.adapter("face_detector").detect(image)[0]
    return lambda: mesh.landmarks(image, face)


def blendshapes_case(registry, data_dir: Path) -> Callable[[], object]:
    blendshapes = registry.adapter("face_blendshapes")
    image = _rgb(data_dir / FRAME)
    face = registry.adapter("face_detector").detect(image)[0]
    landmarks = registry.adapter("face_mesh").landmarks(image, face)
    return lambda: blendshapes.scores(landmarks)


CASES = {
    "face_detector": detector_case,
    "face_mesh": mesh_case,
    "face_blendshapes": blendshapes_case,
}
