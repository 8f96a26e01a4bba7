"""Per-frame expression: fer's 7 classes on the aligned face crop, fused with the blendshapes.

Why: the reviewer's trajectory needs one expression distribution per analysed frame with a
confidence. The face stage already has the mesh, the blendshapes and the five alignment points
(:class:`~verification.face.observation.FaceObservation`); this adds one 64x64 fer crop cut
straight from the frame with fer's own framing (:func:`verification.face.expression.fer_crop`)
and the smile fusion of :mod:`verification.expression.smile`.

Confidence is the face stage's quality score (light, sharpness, size, pose) times the mesh's
face-presence score: a dark, blurred or turned face counts less in the smoothed trajectory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from verification.expression.smile import fuse_expression
from verification.face.expression import LABELS, ExpressionClassifier
from verification.face.observation import FaceObservation


@dataclass(frozen=True, eq=False)  # holds numpy arrays: compare by identity
class ExpressionReading:
    """One frame's expression."""

    pts: float
    probabilities: np.ndarray  # (7,) fused, LABELS order
    fer: np.ndarray  # (7,) fer's own softmax
    smile: float  # fused P(smiling) (= probabilities[happy])
    blendshapes: np.ndarray  # (52,) as the face stage measured them
    confidence: float  # in [0, 1]
    latency_ms: float

    @property
    def top(self) -> str:
        return LABELS[int(np.argmax(self.probabilities))]


def mouth_smile(blendshapes: np.ndarray) -> float:
    from verification.face.blendshapes import BLENDSHAPE_NAMES

    left = BLENDSHAPE_NAMES.index("mouthSmileLeft")
    right = BLENDSHAPE_NAMES.index("mouthSmileRight")
    return float((blendshapes[left] + blendshapes[right]) / 2.0)


def read_expression(classifier: ExpressionClassifier, image: np.ndarray,
                    observation: FaceObservation) -> ExpressionReading | None:
    """The expression of the observed face, or None when the face stage found no face."""
    if not observation.face or observation.geometry is None or observation.blendshapes is None:
        return None
    scores = classifier.classify_aligned(image, observation.geometry.five_points)
    fer = np.array(scores.probabilities, dtype=np.float64)
    shapes = np.asarray(observation.blendshapes.scores, dtype=np.float64)
    fused = fuse_expression(fer, mouth_smile(shapes))
    quality = observation.quality.score if observation.quality is not None else 1.0
    confidence = float(np.clip(quality * observation.presence, 0.0, 1.0))
    return ExpressionReading(pts=observation.pts, probabilities=fused, fer=fer,
                             smile=float(fused[LABELS.index("happy")]), blendshapes=shapes,
                             confidence=confidence, latency_ms=scores.latency_ms)
