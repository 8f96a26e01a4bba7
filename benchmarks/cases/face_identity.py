"""Benchmark cases for face matching and expression, on the London portraits in tests/data/faces_id.

* ``face_embedding``: ``embed`` on one 480x480 portrait with its five alignment points
  (similarity fit, 150-px warp, dlib ResNet descriptor).
* ``face_expression``: ``classify_aligned`` on the same portrait (64-px fer-framed warp, gray,
  mini-Xception softmax on the crop and its mirror in one batch of two, averaged).
* ``face_expression_faceapi``: ``classify_landmarks`` on the same portrait (112-px face-api
  framing from its stored mesh landmarks, ``mesh_landmarks.npz``; crop and mirror in one batch).

The alignment points come from ``points.json`` and the landmarks from ``mesh_landmarks.npz``
(MediaPipe mesh at conversion time), so the detector and mesh are not part of these timings.

Batch cases: N faces of one image in one ONNX call (``embed_many`` / ``classify_many``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from verification.face.alignment import FivePoints
from verification.face.expression import fer_crop
from verification.face.expression_faceapi import faceapi_crop

_FACE = "107_smiling.jpg"


def _face(data_dir: Path) -> tuple[np.ndarray, FivePoints]:
    folder = data_dir / "faces_id"
    image = cv2.cvtColor(cv2.imread(str(folder / _FACE), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    points = json.loads((folder / "points.json").read_text())["faces"][_FACE]["five_points"]
    return image, FivePoints(np.array(points))


def _landmarks(data_dir: Path) -> np.ndarray:
    stored = np.load(data_dir / "faces_id" / "mesh_landmarks.npz")
    return stored["landmarks"][list(stored["names"]).index(_FACE)]


def embedding_case(registry, data_dir: Path) -> Callable[[], object]:
    embedder = registry.adapter("face_embedding")
    image, points = _face(data_dir)
    return lambda: embedder.embed(image, points)


def embedding_batch_case(registry, data_dir: Path, batch: int) -> Callable[[], object]:
    embedder = registry.adapter("face_embedding")
    image, points = _face(data_dir)
    faces = [points] * batch
    return lambda: embedder.embed_many(image, faces)


def expression_case(registry, data_dir: Path) -> Callable[[], object]:
    classifier = registry.adapter("face_expression")
    image, points = _face(data_dir)
    return lambda: classifier.classify_aligned(image, points)


def expression_batch_case(registry, data_dir: Path, batch: int) -> Callable[[], object]:
    classifier = registry.adapter("face_expression")
    image, points = _face(data_dir)

    def run() -> object:
        return classifier.classify_many([fer_crop(image, points) for _ in range(batch)])

    return run


def faceapi_case(registry, data_dir: Path) -> Callable[[], object]:
    classifier = registry.adapter("face_expression_faceapi")
    image, _ = _face(data_dir)
    landmarks = _landmarks(data_dir)
    return lambda: classifier.classify_landmarks(image, landmarks)


def faceapi_batch_case(registry, data_dir: Path, batch: int) -> Callable[[], object]:
    classifier = registry.adapter("face_expression_faceapi")
    image, _ = _face(data_dir)
    landmarks = _landmarks(data_dir)

    def run() -> object:
        return classifier.classify_many([faceapi_crop(image, landmarks) for _ in range(batch)])

    return run


CASES: dict[str, Callable[..., Callable[[], object]]] = {
    "face_embedding": embedding_case,
    "face_expression": expression_case,
    "face_expression_faceapi": faceapi_case,
}
BATCH_CASES: dict[str, Callable[..., Callable[[], object]]] = {
    "face_embedding": embedding_batch_case,
    "face_expression": expression_batch_case,
    "face_expression_faceapi": faceapi_batch_case,
}
