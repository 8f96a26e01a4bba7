"""Flat shading under pose change: does the light on the face follow the head's rotation?

Why: a real head is curved. When it turns, one cheek turns towards the light and the other
away, so the brightness of the applicant's left half relative to their right half changes
with the yaw; nodding changes the forehead against the chin the same way. A printed photo
(or a screen) is one flat surface with one normal: tilting it can only brighten or darken the
whole picture at once, so those *ratios* stay what the photo shows, whatever pose the mesh
reads from the picture's foreshortening. (Matte paper under a lamp: a uniform gain; the
ratios are unchanged.)

Per frame this module samples the luma at symmetric pairs of rigid mesh points (cheekbones,
temples, eye corners, forehead sides) and at forehead and lower-face points, each averaged
over a small square that scales with the face, and keeps two log-ratios with the head pose:

* ``left_right`` - mean log luma of the applicant's left points minus their right ones;
* ``upper_lower`` - mean log luma of the forehead points minus the lower face's.

The pose change is read two ways, because the mesh reads a tilted *picture* of a frontal face
as nearly frontal (a print tilted by 60 degrees moves its yaw by about 6): the mesh's yaw and
pitch, and ``turn``, the image's own foreshortening - the log-ratio of the face's left and
right half-widths (nose midline to the face contour, along the eye line), which grows when a head
turns *and* when a picture is tilted. :mod:`.decision` compares how far the brightness ratios
move with how far the pose moved over the interview: a clear pose change with ratios that
stay within the noise of a still face is shading that does not follow the pose.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from verification.face.geometry import LEFT_EYE_CORNERS, POSE_PAIRS, RIGHT_EYE_CORNERS

# Applicant's (right, left) point pairs on rigid parts of the face: the pose fit's pairs
# without the eye corners (eyelids and eyes darken on their own when someone blinks).
SIDE_PAIRS = tuple(p for p in POSE_PAIRS if p not in ((33, 263), (133, 362)))
UPPER = (10, 151, 109, 338, 67, 297, 108, 337)  # forehead
LOWER = (152, 175, 199, 200, 208, 428, 32, 262)  # chin and the cheeks beside it
_RIGHT = np.array([r for r, _ in SIDE_PAIRS])
_LEFT = np.array([left for _, left in SIDE_PAIRS])
_UPPER = np.array(UPPER)
_LOWER = np.array(LOWER)
# Face contour at eye, nose and mouth height (applicant's right, left) and the nose's midline:
# several points each, so that the mesh's jitter on one contour point does not read as a turn.
RIGHT_CONTOUR = np.array((234, 93, 132))
LEFT_CONTOUR = np.array((454, 323, 361))
NOSE_MIDLINE = np.array((1, 4, 5, 195))
PATCH_IOD = 0.12  # half-side of each sampled square, in inter-ocular distances


@dataclass(frozen=True)
class ShadingMeasure:
    """Head pose (degrees) and the face's two brightness log-ratios in one frame."""

    yaw: float
    pitch: float
    turn: float  # log(left half-width / right half-width) of the face in the image
    left_right: float
    upper_lower: float


def _patch_means(grey: np.ndarray, xy: np.ndarray, half: int) -> np.ndarray:
    """Mean grey level of a (2 half + 1)-pixel square around each point (clipped to the
    image), from one integral image of the points' bounding box."""
    height, width = grey.shape[:2]
    x0 = int(max(0, np.floor(xy[:, 0].min()) - half))
    y0 = int(max(0, np.floor(xy[:, 1].min()) - half))
    x1 = int(min(width, np.ceil(xy[:, 0].max()) + half + 1))
    y1 = int(min(height, np.ceil(xy[:, 1].max()) + half + 1))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.full(len(xy), np.nan)
    integral = cv2.integral(grey[y0:y1, x0:x1], sdepth=cv2.CV_64F)
    cx = np.clip(np.rint(xy[:, 0]).astype(int) - x0, 0, x1 - x0 - 1)
    cy = np.clip(np.rint(xy[:, 1]).astype(int) - y0, 0, y1 - y0 - 1)
    left, right = np.maximum(cx - half, 0), np.minimum(cx + half + 1, x1 - x0)
    top, bottom = np.maximum(cy - half, 0), np.minimum(cy + half + 1, y1 - y0)
    sums = integral[bottom, right] - integral[top, right] - integral[bottom, left] \
        + integral[top, left]
    return sums / ((right - left) * (bottom - top))


def turn(points: np.ndarray) -> float:
    """Log-ratio of the applicant's left and right face half-widths along the eye line."""
    xy = np.asarray(points, dtype=np.float64)[:, :2]
    axis = xy[list(LEFT_EYE_CORNERS)].mean(axis=0) - xy[list(RIGHT_EYE_CORNERS)].mean(axis=0)
    norm = float(np.hypot(axis[0], axis[1]))
    if norm <= 0:
        return 0.0
    axis /= norm
    nose = xy[NOSE_MIDLINE].mean(axis=0)
    left = float((xy[LEFT_CONTOUR].mean(axis=0) - nose) @ axis)
    right = float((nose - xy[RIGHT_CONTOUR].mean(axis=0)) @ axis)
    if left <= 0 or right <= 0:  # a profile view: the nose passes the contour
        return float(np.sign(left - right)) * 3.0
    return float(np.log(left / right))


def shading(grey: np.ndarray, points: np.ndarray, iod_px: float, yaw: float,
            pitch: float) -> ShadingMeasure:
    """The brightness log-ratios of one frame (``grey`` the luma image, ``points`` the mesh)."""
    half = max(1, int(round(PATCH_IOD * iod_px)))
    index = np.concatenate([_RIGHT, _LEFT, _UPPER, _LOWER])
    means = _patch_means(grey, points[index, :2], half)
    logs = np.log(means + 1.0)
    n, m = len(_RIGHT), len(_UPPER)
    right, left = logs[:n], logs[n:2 * n]
    upper, lower = logs[2 * n:2 * n + m], logs[2 * n + m:]
    return ShadingMeasure(yaw=float(yaw), pitch=float(pitch), turn=turn(points),
                          left_right=float(np.mean(left) - np.mean(right)),
                          upper_lower=float(np.mean(upper) - np.mean(lower)))
