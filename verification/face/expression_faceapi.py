"""A second expression expert: face-api's FaceExpressionNet (colour, 112 px), for the smile fusion.

Why: fer's mini-Xception saw only FER2013 (48-px gray, mostly posed, open-mouth expressions) and
calls most closed-mouth smiles "neutral"; the blendshapes read a lip-corner pull but also give
some resting mouths 0.2-0.4. face-api's network was designed and trained independently (colour
input, public data sets plus web images per face-api.js's README), so its errors are not fer's:
as a third opinion in :mod:`verification.expression.smile` it lifts the neutral-vs-smiling
accuracy on the London set and, more to the point, the worst ethnic group
(``benchmarks/eval_expression.py``).

Framing, reproduced from face-api 1.7.15 (``withFaceLandmarks().withFaceExpressions()``): the
face is cut from the *landmark* box, the tightest box around its 68 points (jaw line, brows,
nose, eyes, mouth) grown by 20 % of its width and height (10 % a side); that box is padded with
black to a square, centred, and resized to 112x112. We have MediaPipe's 478-point mesh, not
iBUG's 68 points, so the box is taken over the mesh points that trace the same outline: the jaw
contour from ear to ear (:data:`JAW_CONTOUR`) and both brows (:data:`BROWS`); every other
68-point landmark lies inside that outline. Two deliberate differences from face-api: the box is
taken in the eye-line frame (rotated so the eyes are level), so a tilted head is framed like an
upright one; and a box that runs past the image edge is kept whole, its outside black, where
face-api clips it at the border (which shifts the face off-centre in the square). One bilinear
warp cuts, rotates and scales (face-api's tensor path also resizes bilinearly, without
anti-aliasing).

The network's input is the 112x112 RGB crop in 0..255; it normalises itself (mean RGB
subtraction, / 255: in the ONNX graph, as in face-api). Like fer, it is not mirror-symmetric, so
:meth:`FaceApiExpressionClassifier.classify_landmarks` averages the crop and its mirror image
(one batch of two). Its labels are re-ordered into fer's
:data:`~verification.face.expression.LABELS`, so both experts speak through
:class:`~verification.face.expression.ExpressionScores`.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from verification.errors import InvalidInputError
from verification.face.expression import LABELS, ExpressionScores, mirror_average
from verification.face.geometry import eye_centres
from verification.runtime import OnnxModel

log = logging.getLogger(__name__)

INPUT_SIZE = 112
FACEAPI_LABELS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fearful", "disgusted",
                                   "surprised")
# fer's label (LABELS order) -> face-api's name for the same basic expression.
_FACEAPI_NAME = {"angry": "angry", "disgust": "disgusted", "fear": "fearful", "happy": "happy",
                 "sad": "sad", "surprise": "surprised", "neutral": "neutral"}
# Column of face-api's output for each of fer's labels, in LABELS order.
_TO_FER_ORDER = [FACEAPI_LABELS.index(_FACEAPI_NAME[label]) for label in LABELS]
# MediaPipe mesh points on the outline of iBUG's 68 points: the jaw contour from the right ear
# (tragus level) over the chin to the left ear, and the upper and lower edges of both brows.
JAW_CONTOUR = (127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379,
               365, 397, 288, 361, 323, 454, 356)
BROWS = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46, 336, 296, 334, 293, 300, 285, 295, 282, 283,
         276)
BOX_PADDING = 0.2  # face-api's alignMinBbox(minBoxPadding=0.2): 20 % of width / height in all


def faceapi_crop(image: np.ndarray, landmarks: np.ndarray, padding: float = BOX_PADDING,
                 black_outside_box: bool = True) -> np.ndarray:
    """The 112x112 RGB uint8 crop framed as face-api frames it (see the module notes), from a
    frame and its (478, 3) mesh landmarks in pixels. ``padding`` and
    ``black_outside_box=False`` (image context instead of black bars) exist for the framing
    ablations of ``benchmarks/eval_expression.py``; the live path uses the defaults."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 \
            or image.dtype != np.uint8:
        raise InvalidInputError("expected an RGB uint8 image of shape (height, width, 3)")
    points = np.asarray(landmarks, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] < 468 or points.shape[1] != 3:
        raise InvalidInputError("expected the face mesh landmarks, shape (478, 3)")
    left_eye, right_eye = eye_centres(points)
    eye_axis = (left_eye - right_eye)[:2]
    points = points[:, :2]
    angle = float(np.arctan2(eye_axis[1], eye_axis[0]))
    cos, sin = np.cos(-angle), np.sin(-angle)
    level = np.array([[cos, -sin], [sin, cos]])  # rotates the eye line onto the x axis
    outline = points[list(JAW_CONTOUR + BROWS)] @ level.T
    low, high = outline.min(axis=0), outline.max(axis=0)
    size = (high - low) * (1.0 + padding)
    centre = (low + high) / 2.0  # in the eye-line frame
    if not np.all(np.isfinite(size)) or size.min() < 2.0:
        raise InvalidInputError("face landmarks span less than 2 pixels")
    scale = INPUT_SIZE / float(size.max())
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * level
    matrix[:, 2] = INPUT_SIZE / 2.0 - scale * centre
    crop = cv2.warpAffine(image, matrix, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    if not black_outside_box:
        return crop
    # face-api pads the (non-square) box with black to a square: keep only the box.
    half = size * scale / 2.0
    x0, x1 = (int(round(INPUT_SIZE / 2.0 + s * half[0])) for s in (-1, 1))
    y0, y1 = (int(round(INPUT_SIZE / 2.0 + s * half[1])) for s in (-1, 1))
    boxed = np.zeros_like(crop)
    boxed[max(y0, 0):y1, max(x0, 0):x1] = crop[max(y0, 0):y1, max(x0, 0):x1]
    return boxed


class FaceApiExpressionClassifier:
    """Adapter for ``face_expression_faceapi``: face crop(s) -> :class:`ExpressionScores`
    (probabilities re-ordered into fer's label order)."""

    def __init__(self, model: OnnxModel) -> None:
        self.model = model
        self._input = model.input_names[0]
        self._output = model.output_names[0]

    def classify_landmarks(self, image: np.ndarray, landmarks: np.ndarray) -> ExpressionScores:
        """Crop the face with face-api's framing from the mesh landmarks, then classify it and
        its mirror image (probabilities averaged)."""
        return mirror_average(self.classify_many, faceapi_crop(image, landmarks))

    def classify_many(self, crops: list[np.ndarray]) -> list[ExpressionScores]:
        """Several 112x112 RGB uint8 crops in one batched run; each result carries an equal
        share of its latency."""
        if not crops:
            return []
        for crop in crops:
            if not isinstance(crop, np.ndarray) or crop.shape != (INPUT_SIZE, INPUT_SIZE, 3) \
                    or crop.dtype != np.uint8:
                raise InvalidInputError(f"expected RGB uint8 crops of shape ({INPUT_SIZE}, "
                                        f"{INPUT_SIZE}, 3)")
        batch = np.stack(crops).astype(np.float32)
        result = self.model.run({self._input: batch})
        probs = result[self._output].astype(np.float64)[:, _TO_FER_ORDER]
        share = result.latency_ms / len(crops)
        log.debug("face_expression_faceapi: %d faces in %.1f ms", len(crops), result.latency_ms)
        return [ExpressionScores(*(float(p) for p in row), latency_ms=share) for row in probs]
