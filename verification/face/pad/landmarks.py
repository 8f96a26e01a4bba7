"""Landmark-motion measures: how the 478 mesh points move between two analysed frames.

Why: a flat object (a printed photo, a phone or tablet screen) moves as a plane, and the image
of a moving plane is related between two views by one homography. A live face is neither flat
(under rotation the nose moves against the cheeks: parallax) nor rigid (it speaks, blinks,
frowns). So between two frames:

* **face motion** - how far the rigid part of the face moved (median, in inter-ocular
  distances), to know whether there was motion to judge at all;
* **homography residual** - the RMS distance, in inter-ocular distances, between the points and
  their best single-homography prediction from the previous frame. A photo leaves only the
  mesh's own jitter; a live face leaves parallax and expression.

The mouth and eye regions are reported separately because speech and blinks live there.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from verification.face.geometry import (
    INNER_LIP_LOWER,
    INNER_LIP_UPPER,
    LEFT_EYE_CORNERS,
    MOUTH_CORNERS,
    RIGHT_EYE_CORNERS,
    pose_landmark_indices,
)

RIGID = np.array(pose_landmark_indices())
MOUTH = np.array([INNER_LIP_UPPER, INNER_LIP_LOWER, *MOUTH_CORNERS, 0, 17, 78, 308, 82, 87,
                  312, 317, 84, 314, 181, 405])


@dataclass(frozen=True)
class LandmarkMotion:
    """Motion of the face between two frames, in inter-ocular distances (IOD)."""

    face_motion: float  # median displacement of the rigid points
    residual: float  # RMS residual of all points after the best homography
    residual_rigid: float
    residual_mouth: float


def inter_ocular(points: np.ndarray) -> float:
    left = points[list(LEFT_EYE_CORNERS), :2].mean(axis=0)
    right = points[list(RIGHT_EYE_CORNERS), :2].mean(axis=0)
    return float(np.linalg.norm(left - right))


def homography_residuals(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per-point distance (pixels) between ``after`` and the least-squares homography image of
    ``before`` (both ``(N, >=2)``). A plain least-squares fit: every point counts, so a region
    that moves on its own (the mouth) cannot be voted out as an outlier."""
    src = np.ascontiguousarray(before[:, :2], dtype=np.float64)
    dst = np.ascontiguousarray(after[:, :2], dtype=np.float64)
    matrix, _ = cv2.findHomography(src, dst, 0)
    if matrix is None:
        return np.full(len(src), np.inf)
    predicted = cv2.perspectiveTransform(src[None], matrix)[0]
    return np.linalg.norm(predicted - dst, axis=1)


def landmark_motion(before: np.ndarray, after: np.ndarray) -> LandmarkMotion:
    scale = max(inter_ocular(before), 1e-6)
    shift = np.linalg.norm(after[RIGID, :2] - before[RIGID, :2], axis=1)
    res = homography_residuals(before, after) / scale
    return LandmarkMotion(
        face_motion=float(np.median(shift)) / scale,
        residual=float(np.sqrt(np.mean(res ** 2))),
        residual_rigid=float(np.sqrt(np.mean(res[RIGID] ** 2))),
        residual_mouth=float(np.sqrt(np.mean(res[MOUTH] ** 2))),
    )

