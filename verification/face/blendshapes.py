"""52 ARKit-style face blendshape scores from the 478-point mesh (MediaPipe's blendshape model).

Why: blendshapes are the per-frame expression signal behind the active-liveness challenges
("smile", "blink", "open your mouth") and the micro-movement cues; no action-unit model with
weights is available offline, these are.

The model reads 146 of the 478 landmarks (``kLandmarksSubsetIdxs`` in MediaPipe's
``face_blendshapes_graph.cc``) as ``(1, 146, 2)`` x, y in *image pixels*: MediaPipe's
LandmarksToTensorCalculator multiplies normalised x by the image width and y by the height and
applies nothing else; the model normalises internally. Its 52 outputs are already in [0, 1] and
are reported as they are (the graph's classification step has no activation, no top-k).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from verification.face.mesh import NUM_LANDMARKS, FaceLandmarks
from verification.runtime import OnnxModel

log = logging.getLogger(__name__)

# The 146 mesh landmarks the blendshape model reads, in the model's input order.
LANDMARK_SUBSET: tuple[int, ...] = (
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39,
    40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70, 78, 80,
    81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133,
    136, 144, 145, 146, 148, 149, 150, 152, 153, 154, 155, 157, 158, 159, 160,
    161, 162, 163, 168, 172, 173, 176, 178, 181, 185, 191, 195, 197, 234, 246,
    249, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295,
    296, 297, 300, 308, 310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334,
    336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379, 380, 381, 382,
    384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454,
    466, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477,
)

# Output order of the model. "Left"/"Right" are the subject's sides; index 0 is unused.
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft",
    "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
    "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft",
    "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen",
    "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower",
    "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)
_INDEX = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}


@dataclass(frozen=True, eq=False)  # holds numpy arrays: compare by identity
class BlendshapeScores:
    """52 scores in [0, 1] in :data:`BLENDSHAPE_NAMES` order; look one up with :meth:`score`."""

    scores: np.ndarray
    latency_ms: float

    names = BLENDSHAPE_NAMES

    def score(self, name: str) -> float:
        try:
            return float(self.scores[_INDEX[name]])
        except KeyError:
            raise KeyError(f"unknown blendshape {name!r}") from None

    def top(self, k: int = 5) -> tuple[tuple[str, float], ...]:
        """The ``k`` strongest blendshapes (``_neutral`` excluded), for logs and reviewers."""
        order = np.argsort(-self.scores[1:], kind="stable")[:k] + 1
        return tuple((BLENDSHAPE_NAMES[i], float(self.scores[i])) for i in order)


def model_input(points: np.ndarray) -> np.ndarray:
    """``(478, >=2)`` landmark pixels -> the model's ``(1, 146, 2)`` float32 input."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[0] != NUM_LANDMARKS or points.shape[1] < 2:
        raise ValueError(f"expected ({NUM_LANDMARKS}, 2 or 3) landmarks, got {points.shape}")
    return np.ascontiguousarray(points[LANDMARK_SUBSET, :2], dtype=np.float32)[None]


class FaceBlendshapes:
    """Adapter for ``face_blendshapes``: :class:`FaceLandmarks` -> :class:`BlendshapeScores`."""

    def __init__(self, model: OnnxModel) -> None:
        self.model = model
        self._input = model.input_names[0]
        self._output = model.output_names[0]

    def scores(self, landmarks: FaceLandmarks | np.ndarray) -> BlendshapeScores:
        points = landmarks.points if isinstance(landmarks, FaceLandmarks) else landmarks
        result = self.model.run({self._input: model_input(points)})
        values = np.asarray(result[self._output], dtype=np.float32).reshape(-1)
        if values.size != len(BLENDSHAPE_NAMES):
            raise ValueError(f"blendshape model returned {values.size} values, expected 52")
        return BlendshapeScores(scores=values, latency_ms=result.latency_ms)
