"""Does the face move with the scene around it, as one plane?

Why: a photo or a screen is one flat object: whatever surrounds the face *inside* it (the
photo's backdrop, the replayed video's room) moves with the face, and when the camera shakes
in front of a still image, the face moves exactly as the rest of the view does. A live head
moves on its own against a static background; and a hand-held camera translates, so the face
(near) and the room (far) move by different amounts (parallax).

Method: track corner features outside the face and the body below it (pyramidal Lucas-Kanade,
forward-backward checked), fit one homography to them (RANSAC), and predict the face's rigid
landmarks with it. The *scene residual* is the median distance between predicted and observed
landmarks in inter-ocular distances; compared with how far the face moved, a small residual
means the face moved as part of the scene plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from verification.face.pad.landmarks import RIGID, inter_ocular

MAX_FEATURES = 200
MIN_TRACKS = 12
FB_TOLERANCE_PX = 1.0
RANSAC_PX = 1.5
FACE_GROW = 1.3  # exclude the face hull grown by this factor
BODY_WIDTH = 1.0  # and a column this many face widths either side below the chin


@dataclass(frozen=True)
class SceneMotion:
    """Motion of the scene (everything but the applicant) relative to the face, in IOD."""

    tracks: int  # background features tracked both ways
    scene_motion: float  # median displacement of the tracked scene features
    residual: float  # median distance of the face's rigid points from the scene prediction


def scene_mask(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """255 where the scene is, 0 over the face (grown) and the body column below it."""
    mask = np.full(shape, 255, np.uint8)
    xy = points[:, :2].astype(np.float32)
    centre = xy.mean(axis=0)
    hull = cv2.convexHull(xy)[:, 0, :]
    cv2.fillConvexPoly(mask, ((hull - centre) * FACE_GROW + centre).astype(np.int32), 0)
    x0, _ = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    width = x1 - x0
    cv2.rectangle(mask, (int(x0 - BODY_WIDTH * width), int(y1 - 0.1 * width)),
                  (int(x1 + BODY_WIDTH * width), shape[0]), 0, -1)
    return mask


def scene_motion(grey_before: np.ndarray, grey_after: np.ndarray, points_before: np.ndarray,
                 points_after: np.ndarray) -> SceneMotion | None:
    """The scene's homography applied to the face; None when too few scene features track."""
    mask = scene_mask(grey_before.shape[:2], points_before)
    corners = cv2.goodFeaturesToTrack(grey_before, MAX_FEATURES, 0.01, 6, mask=mask)
    if corners is None or len(corners) < MIN_TRACKS:
        return None
    params = {"winSize": (21, 21), "maxLevel": 3}
    moved, status, _ = cv2.calcOpticalFlowPyrLK(grey_before, grey_after, corners, None, **params)
    back, status_back, _ = cv2.calcOpticalFlowPyrLK(grey_after, grey_before, moved, None,
                                                    **params)
    good = (status[:, 0] == 1) & (status_back[:, 0] == 1) & (
        np.linalg.norm(back - corners, axis=2)[:, 0] < FB_TOLERANCE_PX)
    if good.sum() < MIN_TRACKS:
        return None
    matrix, _ = cv2.findHomography(corners[good], moved[good], cv2.RANSAC, RANSAC_PX)
    if matrix is None:
        return None
    scale = max(inter_ocular(points_before), 1e-6)
    rigid_before = np.ascontiguousarray(points_before[RIGID, :2], dtype=np.float64)[None]
    predicted = cv2.perspectiveTransform(rigid_before, matrix)[0]
    residual = np.linalg.norm(predicted - points_after[RIGID, :2], axis=1)
    displacement = np.linalg.norm(moved[good] - corners[good], axis=2)[:, 0]
    return SceneMotion(tracks=int(good.sum()), scene_motion=float(np.median(displacement)) / scale,
                       residual=float(np.median(residual)) / scale)
