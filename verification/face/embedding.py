"""Face descriptors for matching the live face against the ID photo (dlib ResNet, 128-d).

Why dlib's network: it is the only real face-recognition model obtainable from a package
registry (see ``models/convert/dlib_resnet.py``). Its descriptors are compared with the
Euclidean distance; dlib's published same-person threshold is 0.6, but it must be calibrated on
the deployment's population (on the London set some impostor pairs fall below 0.6).

The ONNX graph takes the 150x150 RGB chip as it is (0..255, NHWC) and normalises internally,
so this adapter only aligns (``verification.face.alignment``) and batches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from verification.errors import InvalidInputError
from verification.face.alignment import CHIP_SIZE, AlignmentPoints, align_face
from verification.runtime import OnnxModel

log = logging.getLogger(__name__)

DESCRIPTOR_SIZE = 128
# dlib's documented decision threshold for its descriptors (Euclidean distance).
DLIB_SAME_PERSON_THRESHOLD = 0.6


@dataclass(frozen=True, eq=False)
class FaceEmbedding:
    """One face's descriptor, the chip it was computed from, and the inference cost."""

    chip: np.ndarray  # (150, 150, 3) uint8 RGB, dlib-style aligned
    vector: np.ndarray  # (128,) float32, dlib's raw descriptor (not unit length)
    latency_ms: float
    alignment_residual_px: float | None = None  # None when the caller supplied the chip


def face_distance(a: FaceEmbedding | np.ndarray, b: FaceEmbedding | np.ndarray) -> float:
    """Euclidean distance between two descriptors: dlib's matching metric (smaller = closer)."""
    return float(np.linalg.norm(_vector(a).astype(np.float64) - _vector(b).astype(np.float64)))


def face_similarity(a: FaceEmbedding | np.ndarray, b: FaceEmbedding | np.ndarray) -> float:
    """Cosine similarity in [-1, 1] (larger = closer), for policies that prefer a similarity."""
    va, vb = _vector(a).astype(np.float64), _vector(b).astype(np.float64)
    denom = float(np.linalg.norm(va) * np.linalg.norm(vb))
    return float(va @ vb / denom) if denom > 0 else 0.0


def _vector(item: FaceEmbedding | np.ndarray) -> np.ndarray:
    vector = item.vector if isinstance(item, FaceEmbedding) else np.asarray(item)
    if vector.shape != (DESCRIPTOR_SIZE,):
        raise ValueError(f"expected a ({DESCRIPTOR_SIZE},) descriptor, got {vector.shape}")
    return vector


class DlibFaceEmbedder:
    """Adapter for ``face_embedding``: (RGB image, alignment points) -> :class:`FaceEmbedding`."""

    def __init__(self, model: OnnxModel) -> None:
        self.model = model
        self._input = model.input_names[0]
        self._output = model.output_names[0]

    def embed(self, image: np.ndarray, points: AlignmentPoints) -> FaceEmbedding:
        """Align one face with dlib's framing and compute its descriptor."""
        aligned = align_face(image, points, CHIP_SIZE)
        result = self.embed_chips(aligned.chip[None])[0]
        return FaceEmbedding(chip=aligned.chip, vector=result.vector, latency_ms=result.latency_ms,
                             alignment_residual_px=aligned.residual_px)

    def embed_many(self, image: np.ndarray, faces: list[AlignmentPoints]) -> list[FaceEmbedding]:
        """Several faces of one image in one batched run (e.g. ID photo page, group frame)."""
        aligned = [align_face(image, points, CHIP_SIZE) for points in faces]
        if not aligned:
            return []
        results = self.embed_chips(np.stack([a.chip for a in aligned]))
        return [FaceEmbedding(chip=a.chip, vector=r.vector, latency_ms=r.latency_ms,
                              alignment_residual_px=a.residual_px)
                for a, r in zip(aligned, results, strict=True)]

    def embed_chips(self, chips: np.ndarray) -> list[FaceEmbedding]:
        """Descriptors for already aligned chips, shape (N, 150, 150, 3) uint8, in one batch.

        The reported latency of the single run is split evenly across the batch.
        """
        chips = np.asarray(chips)
        expected = (CHIP_SIZE, CHIP_SIZE, 3)
        if chips.ndim != 4 or chips.shape[1:] != expected or chips.dtype != np.uint8:
            raise InvalidInputError(f"expected uint8 chips of shape (N, {CHIP_SIZE}, {CHIP_SIZE}, "
                                    f"3), got {chips.dtype} {chips.shape}")
        if len(chips) == 0:
            return []
        result = self.model.run({self._input: chips.astype(np.float32)})
        vectors = result[self._output].astype(np.float32)
        share = result.latency_ms / len(chips)
        log.debug("face_embedding: %d chips in %.1f ms", len(chips), result.latency_ms)
        return [FaceEmbedding(chip=chip, vector=vector, latency_ms=share)
                for chip, vector in zip(chips, vectors, strict=True)]
