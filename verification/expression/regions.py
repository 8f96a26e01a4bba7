"""Facial regions on a rigidly aligned face chip: the canvas the micro-movement measures use.

Why a chip of its own: optical flow between two frames of the face must show the face's own
movement (a brow lowering, a lip-corner pull), not the head's. Each frame is warped onto a fixed
128-px chip by a least-squares similarity fit of the *rigid* mesh points (forehead, nose ridge,
eye corners, cheekbones, temples: :func:`verification.face.geometry.pose_landmark_indices`, the
same points the head-pose fit uses) onto the frontal template :data:`POSE_TEMPLATE`. Lips, brows
and eyelids are left out of the fit, so a smile or a frown does not move the chip; they move
*inside* it, which is what the flow measures. The five-point dlib framing
(:mod:`verification.face.alignment`) would do too, but its mouth corners move with expression.

The chip is scaled so that the eye centres are :data:`CHIP_IOD_PX` pixels apart; every flow
amplitude is reported in inter-ocular distances (IOD), so numbers do not depend on how far the
applicant sits from the camera.

Regions are boxes around landmark groups (MediaPipe face-mesh indices), placed with the frame's
own landmarks mapped into the chip and padded by a share of the IOD. "Left"/"right" are the
applicant's own sides (their left eye is on the image's right).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from verification.face.alignment import similarity_transform
from verification.face.geometry import POSE_TEMPLATE, pose_landmark_indices

CHIP_SIZE = 128
CHIP_IOD_PX = 48.0
# POSE_TEMPLATE's eye centres (midpoints of the eye corners) are 0.981 units apart.
_TEMPLATE_IOD = float(np.linalg.norm((POSE_TEMPLATE[0, :2] + POSE_TEMPLATE[2, :2]) / 2
                                     - (POSE_TEMPLATE[1, :2] + POSE_TEMPLATE[3, :2]) / 2))
_CHIP_SCALE = CHIP_IOD_PX / _TEMPLATE_IOD
# The template point (0, 0.36) (the upper nose) lands on the chip's centre: the brows and
# the lips both fit with margin.
_CHIP_ORIGIN = np.array([CHIP_SIZE / 2.0, CHIP_SIZE / 2.0 - 0.36 * _CHIP_SCALE])
RIGID_INDICES: tuple[int, ...] = pose_landmark_indices()
CHIP_TEMPLATE = POSE_TEMPLATE[:, :2] * _CHIP_SCALE + _CHIP_ORIGIN


@dataclass(frozen=True)
class RegionSpec:
    """A facial region: the landmarks it surrounds and the padding (share of the IOD)."""

    name: str
    landmarks: tuple[int, ...]
    pad: float
    label: str  # plain words for reviewers


# Order matters only for reports. The rigid reference (forehead, nose ridge) is not a region.
REGIONS: tuple[RegionSpec, ...] = (
    RegionSpec("brow_left", (276, 283, 282, 295, 285, 300, 293, 334, 296, 336), 0.10,
               "left brow"),
    RegionSpec("brow_right", (46, 53, 52, 65, 55, 70, 63, 105, 66, 107), 0.10, "right brow"),
    RegionSpec("glabella", (9, 107, 336, 55, 285, 8), 0.06, "between the brows"),
    RegionSpec("eye_left", (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386,
                            387, 388, 466), 0.08, "left eye"),
    RegionSpec("eye_right", (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160,
                             161, 246), 0.08, "right eye"),
    RegionSpec("nose", (1, 2, 4, 5, 98, 327, 129, 358, 49, 279, 195, 197), 0.06, "nose"),
    RegionSpec("mouth_corner_left", (291, 375, 409, 287), 0.16, "left mouth corner"),
    RegionSpec("mouth_corner_right", (61, 146, 185, 57), 0.16, "right mouth corner"),
    RegionSpec("mouth", (0, 13, 14, 17, 37, 267, 84, 314, 82, 312, 87, 317), 0.08, "lips"),
)
REGION_NAMES: tuple[str, ...] = tuple(r.name for r in REGIONS)
LOWER_FACE: frozenset[str] = frozenset({"mouth_corner_left", "mouth_corner_right", "mouth"})
EYE_REGIONS: frozenset[str] = frozenset({"eye_left", "eye_right"})
# Rigid reference for the residual head motion that the landmark fit leaves: forehead, nose
# ridge and cheekbones (boxes around these points; the face outline is avoided because the
# background behind it does not move with the head).
REFERENCE_LANDMARKS: tuple[int, ...] = (10, 151, 109, 338, 67, 297, 168, 6, 197, 116, 345)
IRIS_LANDMARKS: tuple[tuple[int, ...], ...] = ((468, 469, 470, 471, 472), (473, 474, 475, 476, 477))

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), chip pixels


@dataclass(frozen=True, eq=False)  # holds numpy arrays: compare by identity
class FaceChip:
    """One frame's face on the rigid chip: grey pixels, the transform, region boxes."""

    pts: float
    gray: np.ndarray  # (CHIP_SIZE, CHIP_SIZE) uint8
    matrix: np.ndarray  # (2, 3) image -> chip
    landmarks: np.ndarray  # (478, 2) in chip pixels
    boxes: dict[str, Box]
    reference_mask: np.ndarray  # (CHIP_SIZE, CHIP_SIZE) bool: rigid skin for residual motion
    iris_mask: np.ndarray  # (CHIP_SIZE, CHIP_SIZE) bool: the irises (gaze, not expression)
    fit_residual: float  # RMS distance of the rigid points from the template, in IOD

    @property
    def source_iod_px(self) -> float:
        """The inter-ocular distance in pixels of the frame the chip was cut from."""
        scale = float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))
        return CHIP_IOD_PX / scale if scale > 0 else float("nan")


def chip_matrix(landmarks: np.ndarray) -> tuple[np.ndarray, float]:
    """Image -> chip similarity from the rigid mesh points, and its RMS residual in IOD units."""
    points = np.asarray(landmarks, dtype=np.float64)[list(RIGID_INDICES), :2]
    matrix = similarity_transform(points, CHIP_TEMPLATE)
    mapped = points @ matrix[:, :2].T + matrix[:, 2]
    residual = float(np.sqrt(((mapped - CHIP_TEMPLATE) ** 2).sum(axis=1).mean())) / CHIP_IOD_PX
    return matrix, residual


def _box(points: np.ndarray, pad_px: float) -> Box:
    x0, y0 = points.min(axis=0) - pad_px
    x1, y1 = points.max(axis=0) + pad_px
    clip = lambda v: int(min(max(round(float(v)), 0), CHIP_SIZE))  # noqa: E731
    return clip(x0), clip(y0), clip(x1), clip(y1)


def region_boxes(chip_landmarks: np.ndarray) -> dict[str, Box]:
    return {r.name: _box(chip_landmarks[list(r.landmarks)], r.pad * CHIP_IOD_PX) for r in REGIONS}


def _reference_mask(chip_landmarks: np.ndarray) -> np.ndarray:
    mask = np.zeros((CHIP_SIZE, CHIP_SIZE), bool)
    radius = 0.12 * CHIP_IOD_PX
    for index in REFERENCE_LANDMARKS:
        x, y = chip_landmarks[index]
        x0, y0, x1, y1 = _box(np.array([[x, y]]), radius)
        mask[y0:y1, x0:x1] = True
    return mask


def _iris_mask(chip_landmarks: np.ndarray) -> np.ndarray:
    mask = np.zeros((CHIP_SIZE, CHIP_SIZE), np.uint8)
    if len(chip_landmarks) < 478:
        return mask.astype(bool)
    for group in IRIS_LANDMARKS:
        ring = chip_landmarks[list(group)]
        centre = ring[0]
        radius = float(np.linalg.norm(ring[1:] - centre, axis=1).mean()) * 1.3
        cv2.circle(mask, (int(round(centre[0])), int(round(centre[1]))),
                   max(1, int(round(radius))), 1, -1)
    return mask.astype(bool)


def face_chip(image: np.ndarray, landmarks: np.ndarray, pts: float) -> FaceChip:
    """Warp one RGB (or grey) frame's face onto the rigid chip, in grey."""
    matrix, residual = chip_matrix(landmarks)
    chip = cv2.warpAffine(image, matrix, (CHIP_SIZE, CHIP_SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    if chip.ndim == 3:
        chip = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    xy = np.asarray(landmarks, dtype=np.float64)[:, :2]
    chip_points = xy @ matrix[:, :2].T + matrix[:, 2]
    return FaceChip(pts=pts, gray=chip, matrix=matrix, landmarks=chip_points,
                    boxes=region_boxes(chip_points), reference_mask=_reference_mask(chip_points),
                    iris_mask=_iris_mask(chip_points), fit_residual=residual)
