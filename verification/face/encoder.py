"""Face descriptors with test-time flip averaging, the one way every face is encoded.

Why: the live face and the ID photo must be encoded identically, or their distance measures the
pipeline instead of the person. Averaging the descriptor of the aligned chip and of its mirror
image (test-time augmentation) cancels part of the framing and lighting asymmetry the network
reacts to; it costs one more chip in the same batch. The alignment is the dlib-style 5-point
similarity fit of :mod:`verification.face.alignment`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from verification.face.alignment import CHIP_SIZE, AlignmentPoints, align_face
from verification.face.embedding import DlibFaceEmbedder, FaceEmbedding


@dataclass(frozen=True)
class EncoderConfig:
    flip_average: bool = True


class FaceEncoder:
    """(RGB image, alignment points) -> :class:`FaceEmbedding` (flip-averaged by default)."""

    def __init__(self, embedder: DlibFaceEmbedder, config: EncoderConfig | None = None) -> None:
        self.embedder = embedder
        self.config = config or EncoderConfig()

    @property
    def model(self):  # noqa: ANN201 - the OnnxModel, for provider/latency reporting
        return self.embedder.model

    def encode(self, image: np.ndarray, points: AlignmentPoints) -> FaceEmbedding:
        return self.encode_many(image, [points])[0]

    def encode_many(self, image: np.ndarray, faces: list[AlignmentPoints]) -> list[FaceEmbedding]:
        """Several faces of one image in one batched run."""
        aligned = [align_face(image, points, CHIP_SIZE) for points in faces]
        if not aligned:
            return []
        chips = np.stack([a.chip for a in aligned])
        batch = np.concatenate([chips, chips[:, :, ::-1]]) if self.config.flip_average else chips
        results = self.embedder.embed_chips(np.ascontiguousarray(batch))
        n = len(aligned)
        out = []
        for i, item in enumerate(aligned):
            vector = results[i].vector
            latency = results[i].latency_ms
            if self.config.flip_average:
                vector = (vector + results[n + i].vector) / 2.0
                latency += results[n + i].latency_ms
            out.append(FaceEmbedding(chip=item.chip, vector=vector.astype(np.float32),
                                     latency_ms=latency, alignment_residual_px=item.residual_px))
        return out
