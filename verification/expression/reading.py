"""Per-frame expression: fer's 7 classes on the aligned face crop, fused with the blendshapes.

Why: the reviewer's trajectory needs one expression distribution per analysed frame with a
confidence. The face stage already has the mesh, the blendshapes and the five alignment points
(:class:`~verification.face.observation.FaceObservation`); this adds one 64x64 fer crop cut
straight from the frame with fer's own framing (:func:`verification.face.expression.fer_crop`),
one 112x112 face-api crop framed by the mesh
(:func:`verification.face.expression_faceapi.faceapi_crop`), and the smile fusion of
:mod:`verification.expression.smile` over the blendshapes and both networks.

Confidence is the face stage's quality score (light, sharpness, size, pose) times the mesh's
face-presence score: a dark, blurred or turned face counts less in the smoothed trajectory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from verification.expression.smile import fuse_expression, smile_log_odds
from verification.face.expression import LABELS, ExpressionClassifier
from verification.face.expression_faceapi import FaceApiExpressionClassifier
from verification.face.observation import FaceObservation


@dataclass(frozen=True, eq=False)  # holds numpy arrays: compare by identity
class ExpressionReading:
    """One frame's expression."""

    pts: float
    probabilities: np.ndarray  # (7,) fused, LABELS order
    fer: np.ndarray  # (7,) fer's own softmax
    faceapi: np.ndarray  # (7,) face-api's own softmax, in LABELS order
    smile: float  # fused P(smiling) (= probabilities[happy])
    blendshapes: np.ndarray  # (52,) as the face stage measured them
    confidence: float  # in [0, 1]
    latency_ms: float

    @property
    def top(self) -> str:
        return LABELS[int(np.argmax(self.probabilities))]

    @property
    def smile_log_odds(self) -> float:
        """The fused smile log-odds (> 0: smiling), before it became ``smile``."""
        happy = LABELS.index("happy")
        return smile_log_odds(mouth_smile(self.blendshapes), float(self.fer[happy]),
                              float(self.faceapi[happy]))


def mouth_smile(blendshapes: np.ndarray) -> float:
    from verification.face.blendshapes import BLENDSHAPE_NAMES

    left = BLENDSHAPE_NAMES.index("mouthSmileLeft")
    right = BLENDSHAPE_NAMES.index("mouthSmileRight")
    return float((blendshapes[left] + blendshapes[right]) / 2.0)


@dataclass(frozen=True)
class ExpressionModels:
    """The two expression networks the reading runs (loaded once, shared by every interview)."""

    fer: ExpressionClassifier
    faceapi: FaceApiExpressionClassifier

    @classmethod
    def from_registry(cls, registry) -> ExpressionModels:  # noqa: ANN001 (ModelRegistry)
        return cls(registry.adapter("face_expression"), registry.adapter("face_expression_faceapi"))


def read_expression(models: ExpressionModels, image: np.ndarray,
                    observation: FaceObservation) -> ExpressionReading | None:
    """The expression of the observed face, or None when the face stage found no face."""
    if not observation.face or observation.geometry is None or observation.blendshapes is None \
            or observation.landmarks is None:
        return None
    fer_scores = models.fer.classify_aligned(image, observation.geometry.five_points)
    faceapi_scores = models.faceapi.classify_landmarks(image, observation.landmarks)
    fer = np.array(fer_scores.probabilities, dtype=np.float64)
    faceapi = np.array(faceapi_scores.probabilities, dtype=np.float64)
    shapes = np.asarray(observation.blendshapes.scores, dtype=np.float64)
    fused = fuse_expression(fer, mouth_smile(shapes), float(faceapi[LABELS.index("happy")]))
    quality = observation.quality.score if observation.quality is not None else 1.0
    confidence = float(np.clip(quality * observation.presence, 0.0, 1.0))
    return ExpressionReading(pts=observation.pts, probabilities=fused, fer=fer, faceapi=faceapi,
                             smile=float(fused[LABELS.index("happy")]), blendshapes=shapes,
                             confidence=confidence,
                             latency_ms=fer_scores.latency_ms + faceapi_scores.latency_ms)
