"""Per-frame and per-pair measurements the presentation-attack decision is made from.

Kept as small frozen records (no images), so a whole interview's worth stays cheap in memory
and the decision (:mod:`.decision`) is a pure function that tests and the evaluation can
drive directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from verification.face.alignment import FivePoints
from verification.face.geometry import HeadPose
from verification.face.pad.landmarks import LandmarkMotion, inter_ocular, landmark_motion
from verification.face.pad.scene import SceneMotion, scene_motion
from verification.face.pad.screen import (
    Box,
    frame_sides,
    glare_share,
    moire,
    tone_floor,
)
from verification.face.pad.shading import ShadingMeasure, shading
from verification.face.pad.texture import TextureMeasure, paper_texture

CROP_SIZE = 64


@dataclass(frozen=True)
class FrameMeasure:
    t: float
    iod_px: float
    mouth: float  # inner-lip gap / IOD
    eyes: float  # mean eye aspect ratio
    blink: float  # mean eyeBlink blendshape (NaN without blendshapes)
    sides: frozenset[str]
    encloses_face: bool
    moire_luma: float
    moire_chroma: float
    glare: float
    tone_floor: float
    texture: TextureMeasure | None = None  # None: not measured (too little exposed skin)
    shading: ShadingMeasure | None = None  # None: no head pose given


@dataclass(frozen=True)
class PairMeasure:
    t0: float
    t1: float
    pixel_change: float  # mean absolute grey-level change of the face crop
    motion: LandmarkMotion
    scene: SceneMotion | None


def grey_of(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def face_crop(grey: np.ndarray, box: Box) -> np.ndarray:
    """The face region (grown 20 %) resampled to a fixed size, for frame-to-frame change."""
    x, y, w, h = box
    cx, cy, side = x + w / 2, y + h / 2, 1.2 * max(w, h)
    height, width = grey.shape[:2]
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(width, cx + side / 2)), int(min(height, cy + side / 2))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.zeros((CROP_SIZE, CROP_SIZE), np.float32)
    return cv2.resize(grey[y0:y1, x0:x1], (CROP_SIZE, CROP_SIZE),
                      interpolation=cv2.INTER_AREA).astype(np.float32)


def measure_frame(t: float, image: np.ndarray, grey: np.ndarray, points: np.ndarray,
                  box: Box, mouth: float, eyes: float, blink: float,
                  five_points: FivePoints | None = None,
                  pose: HeadPose | None = None) -> FrameMeasure:
    """Every per-frame measure; paper texture needs the alignment points, shading the pose."""
    sides = frame_sides(grey, box)
    pattern = moire(image, box)
    iod = inter_ocular(points)
    return FrameMeasure(
        t=t, iod_px=iod, mouth=mouth, eyes=eyes, blink=blink,
        sides=sides.sides, encloses_face=sides.encloses_face,
        moire_luma=pattern.luma if pattern else float("nan"),
        moire_chroma=pattern.chroma if pattern else float("nan"),
        glare=glare_share(image, box), tone_floor=tone_floor(image, box),
        texture=None if five_points is None else paper_texture(image, five_points),
        shading=None if pose is None else shading(grey, points, iod, pose.yaw, pose.pitch))


def measure_pair(t0: float, t1: float, grey0: np.ndarray, grey1: np.ndarray, crop0: np.ndarray,
                 crop1: np.ndarray, points0: np.ndarray, points1: np.ndarray) -> PairMeasure:
    return PairMeasure(t0=t0, t1=t1, pixel_change=float(np.mean(np.abs(crop1 - crop0))),
                       motion=landmark_motion(points0, points1),
                       scene=scene_motion(grey0, grey1, points0, points1))
