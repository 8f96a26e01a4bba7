"""Per-frame face quality: exposure, sharpness, size, centring, pose, motion, occlusion.

Why: a liveness decision or a face match is only as good as the frames it rests on (commercial
liveness services are criticised for passing on frames too poor to match later). Each frame
gets measured numbers, a list of guidance codes the applicant page can show ("move closer"),
and one score in [0, 1] used to keep the session's best frame as the reviewers' reference.

All measurements are taken on the face, not the whole frame (a bright window behind a dark
face is still a dark face):

* exposure: mean luma (BT.601) of the inner face region and the shares of clipped pixels;
* sharpness: variance of the Laplacian of the face, resampled so the eyes are a fixed
  :data:`SHARPNESS_IOD_PX` apart (the measure then does not depend on distance), divided by the
  face's own luma variance (a dim face is not called blurry for its low contrast);
* size: inter-ocular distance in pixels (the matcher's chip has the eyes 52 px apart; below
  about 30 px detail is being invented by upsampling) and the face's share of the frame;
* centring: offset of the face centre from the frame centre, and mesh points outside the frame;
* pose: yaw / pitch from :mod:`verification.face.geometry`;
* motion: movement of the rigid face points since the previous analysed frame, in inter-ocular
  distances per second (``hold_still``);
* occlusion: a region is called occluded when it lost the structure a face has there: the eye
  regions and the mouth (lip line, corners) are the most textured parts of a face, so their
  luma spread relative to the whole inner face's drops when a hand, a phone, dark glasses or
  a mask covers them. (Lip redness against the cheeks is reported too, but it is not used: it
  varies too much between people to be a gate.)

Thresholds live in :class:`QualityConfig` (one place, documented units).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from verification.face.alignment import CHIP_SIZE, FivePoints, fit_alignment
from verification.face.geometry import FaceGeometry

# Guidance codes, in the order the applicant page should show them (most important first).
NO_FACE = "no_face"
MULTIPLE_FACES = "multiple_faces"
TOO_DARK = "too_dark"
TOO_BRIGHT = "too_bright"
MOVE_CLOSER = "move_closer"
MOVE_BACK = "move_back"
FACE_NOT_CENTERED = "face_not_centered"
LOOK_AT_CAMERA = "look_at_camera"
FACE_OCCLUDED = "face_occluded"
HOLD_STILL = "hold_still"
BLURRY = "blurry"
EYES_CLOSED = "eyes_closed"
GUIDANCE_CODES: tuple[str, ...] = (
    NO_FACE, MULTIPLE_FACES, TOO_DARK, TOO_BRIGHT, MOVE_CLOSER, MOVE_BACK, FACE_NOT_CENTERED,
    LOOK_AT_CAMERA, FACE_OCCLUDED, HOLD_STILL, BLURRY, EYES_CLOSED,
)

# The face region used for exposure and sharpness, in dlib-chip coordinates (150-px chip: eyes
# at y 47, mouth at y 102): the inner face from brows to chin, no hair or background.
INNER_FACE_CENTER = (73.9, 78.0)
INNER_FACE_SIDE = 100.0
SHARPNESS_IOD_PX = 32.0  # eyes this far apart in the sharpness crop
_CHIP_IOD = 52.07  # eye distance of the 150-px dlib chip template


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the quality gate (units in the names)."""

    # mean face luma (0-255) below: too dark. Dark skin in good light measures 50-70, so the
    # threshold sits well below it (a dim room measures 20-30).
    min_luma: float = 40.0
    max_luma: float = 205.0
    max_clipped_share: float = 0.25  # share of face pixels at >= 250
    # Laplacian variance / luma variance at SHARPNESS_IOD_PX: studio 6-13, webcam 5-8, MPEG-1
    # video at 360x288 2.5-5, a face out of focus (sigma 0.08 x IOD) 0.3-1.0.
    min_sharpness: float = 1.2
    min_iod_px: float = 30.0  # eyes closer than this in pixels: move closer
    max_face_height_share: float = 0.85  # face box taller than this share of the frame: move back
    max_center_offset: float = 0.30  # face centre off the frame centre, in frame sizes
    max_outside_share: float = 0.02  # mesh points outside the frame
    max_yaw_deg: float = 25.0
    max_pitch_deg: float = 20.0
    max_motion_iod_per_s: float = 1.5
    min_eye_openness: float = 0.15  # eye aspect ratio, both eyes
    min_eye_structure: float = 0.4  # eye-region luma std over inner-face luma std
    min_mouth_structure: float = 0.3  # mouth-region luma std over inner-face luma std


@dataclass(frozen=True)
class FaceQuality:
    """Measured quality of one face in one frame, the guidance it implies and a [0, 1] score."""

    luma: float
    clipped_share: float
    dark_share: float
    sharpness: float
    iod_px: float
    face_height_share: float
    center_offset: float
    outside_share: float
    motion_iod_per_s: float | None
    eye_structure: float
    mouth_structure: float
    lip_redness: float
    guidance: tuple[str, ...]
    score: float

    @property
    def good(self) -> bool:
        """No guidance to give: usable for matching and as a reference frame."""
        return not self.guidance

    def to_json(self) -> dict[str, object]:
        return {"luma": round(self.luma, 1), "clipped_share": round(self.clipped_share, 3),
                "dark_share": round(self.dark_share, 3), "sharpness": round(self.sharpness, 3),
                "iod_px": round(self.iod_px, 1),
                "face_height_share": round(self.face_height_share, 3),
                "center_offset": round(self.center_offset, 3),
                "outside_share": round(self.outside_share, 3),
                "motion_iod_per_s": None if self.motion_iod_per_s is None
                else round(self.motion_iod_per_s, 3),
                "eye_structure": round(self.eye_structure, 3),
                "mouth_structure": round(self.mouth_structure, 3),
                "lip_redness": round(self.lip_redness, 2),
                "guidance": list(self.guidance), "score": round(self.score, 3)}


def _luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma as uint8 (OpenCV's rounding); statistics are taken in float64 by OpenCV."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and population standard deviation of a single-channel array (one OpenCV pass)."""
    mean, std = cv2.meanStdDev(values)
    return float(mean[0, 0]), float(std[0, 0])


def _inner_faces(image: np.ndarray, points: FivePoints,
                 iods_px: tuple[float, ...]) -> list[np.ndarray]:
    """The inner face resampled so the eyes are each of ``iods_px`` apart.

    One alignment fit serves every resolution (the exposure and the sharpness crops), with the
    same construction as :func:`verification.face.alignment.align_region`.
    """
    to_chip, _ = fit_alignment(points, CHIP_SIZE)
    origin = np.array([INNER_FACE_CENTER[0] - INNER_FACE_SIDE / 2.0,
                       INNER_FACE_CENTER[1] - INNER_FACE_SIDE / 2.0])
    crops = []
    for iod_px in iods_px:
        size = max(8, int(round(INNER_FACE_SIDE * iod_px / _CHIP_IOD)))
        scale = size / INNER_FACE_SIDE
        matrix = scale * to_chip
        matrix[:, 2] -= scale * origin
        crops.append(cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE))
    return crops


def _patch(image: np.ndarray, mesh: np.ndarray, indices: np.ndarray,
           grow: float = 0.15) -> np.ndarray | None:
    xy = mesh[indices, :2]
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    pad_x, pad_y = (x1 - x0) * grow, (y1 - y0) * grow
    h, w = image.shape[:2]
    xa, xb = int(max(0, math.floor(x0 - pad_x))), int(min(w, math.ceil(x1 + pad_x)))
    ya, yb = int(max(0, math.floor(y0 - pad_y))), int(min(h, math.ceil(y1 + pad_y)))
    if xb - xa < 2 or yb - ya < 2:
        return None
    return image[ya:yb, xa:xb]


# Mesh points outlining each region (subject's right eye on the image's left).
_RIGHT_EYE = np.array((33, 160, 158, 133, 153, 144))
_LEFT_EYE = np.array((263, 387, 385, 362, 380, 373))
_LIPS = np.array((61, 0, 291, 17))
_MOUTH = np.array((61, 291, 0, 17, 40, 270, 91, 321))
_CHEEKS = (np.array((50, 101, 118, 117, 123, 187, 205)),
           np.array((280, 330, 347, 346, 352, 411, 425)))


def _structure(image: np.ndarray, mesh: np.ndarray, indices: np.ndarray, grow: float,
               face_std: float) -> float:
    """Luma std of one mesh region over the inner face's (0 when the region is off-frame)."""
    patch = _patch(image, mesh, indices, grow=grow)
    return 0.0 if patch is None else _mean_std(_luma(patch))[1] / max(face_std, 1e-3)


def _eye_structure(image: np.ndarray, mesh: np.ndarray, face_std: float) -> float:
    """Min over both eyes of (eye-region luma std / inner-face luma std)."""
    return min(_structure(image, mesh, eye, 0.25, face_std) for eye in (_RIGHT_EYE, _LEFT_EYE))


def _mouth_structure(image: np.ndarray, mesh: np.ndarray, face_std: float) -> float:
    """Luma std of the mouth region (corners, lip line) over the inner face's."""
    return _structure(image, mesh, _MOUTH, 0.1, face_std)


def _mean_a(rgb: np.ndarray) -> float:
    """Mean CIELAB a* (OpenCV's 8-bit encoding) of an RGB patch."""
    return float(cv2.mean(cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB))[1])


def _lip_redness(image: np.ndarray, mesh: np.ndarray) -> float:
    """CIELAB a* of the lips minus that of the cheeks (lips are redder than skin)."""
    lips = _patch(image, mesh, _LIPS, grow=-0.2)
    cheeks = [p for idx in _CHEEKS if (p := _patch(image, mesh, idx, grow=0.0)) is not None]
    if lips is None or not cheeks:
        return 0.0
    return _mean_a(lips) - float(np.mean([_mean_a(c) for c in cheeks]))


def assess_face(image: np.ndarray, mesh: np.ndarray, geometry: FaceGeometry,
                motion_iod_per_s: float | None, config: QualityConfig | None = None) -> FaceQuality:
    """Measure one face (mesh points in image pixels) and derive guidance and a score."""
    cfg = config or QualityConfig()
    height, width = image.shape[:2]
    iod = geometry.inter_ocular_px
    exposure_crop, sharp_crop = _inner_faces(image, geometry.five_points,
                                             (min(iod, 64.0), SHARPNESS_IOD_PX))
    inner = _luma(exposure_crop)
    luma, face_std = _mean_std(inner)
    clipped = np.count_nonzero(inner >= 250) / inner.size
    dark = np.count_nonzero(inner <= 10) / inner.size
    sharp_luma = _luma(sharp_crop)
    # 3x3 Laplacian of 8-bit luma is exact in 16 bits; its variance over the crop's.
    laplacian_std = _mean_std(cv2.Laplacian(sharp_luma, cv2.CV_16S, ksize=3))[1]
    sharpness = laplacian_std ** 2 / max(_mean_std(sharp_luma)[1] ** 2, 1.0)

    x, y, w, h = geometry.box
    cx, cy = x + w / 2.0, y + h / 2.0
    offset = max(abs(cx / width - 0.5), abs(cy / height - 0.5))
    xy = mesh[:, :2]
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
    outside = float(1.0 - inside.mean())
    eye_structure = _eye_structure(image, mesh, face_std)
    mouth_structure = _mouth_structure(image, mesh, face_std)
    lip_redness = _lip_redness(image, mesh)

    guidance: list[str] = []
    if luma < cfg.min_luma or dark > cfg.max_clipped_share:
        guidance.append(TOO_DARK)
    if luma > cfg.max_luma or clipped > cfg.max_clipped_share:
        guidance.append(TOO_BRIGHT)
    if iod < cfg.min_iod_px:
        guidance.append(MOVE_CLOSER)
    if h / height > cfg.max_face_height_share or (outside > cfg.max_outside_share
                                                  and h / height > 0.6):
        guidance.append(MOVE_BACK)
    elif offset > cfg.max_center_offset or outside > cfg.max_outside_share:
        guidance.append(FACE_NOT_CENTERED)
    pose = geometry.pose
    if abs(pose.yaw) > cfg.max_yaw_deg or abs(pose.pitch) > cfg.max_pitch_deg:
        guidance.append(LOOK_AT_CAMERA)
    # Structure is only meaningful on a well-exposed, sharp face (blur flattens it too).
    measurable = TOO_DARK not in guidance and TOO_BRIGHT not in guidance \
        and sharpness >= cfg.min_sharpness
    if measurable and (eye_structure < cfg.min_eye_structure
                        or mouth_structure < cfg.min_mouth_structure):
        guidance.append(FACE_OCCLUDED)
    if motion_iod_per_s is not None and motion_iod_per_s > cfg.max_motion_iod_per_s:
        guidance.append(HOLD_STILL)
    if sharpness < cfg.min_sharpness and MOVE_CLOSER not in guidance:
        guidance.append(BLURRY)
    if max(geometry.eye_openness_left, geometry.eye_openness_right) < cfg.min_eye_openness:
        guidance.append(EYES_CLOSED)

    score = _score(cfg, luma, clipped, sharpness, iod, offset, outside, pose.yaw, pose.pitch,
                   motion_iod_per_s, len(guidance))
    return FaceQuality(luma=luma, clipped_share=clipped, dark_share=dark, sharpness=sharpness,
                       iod_px=iod, face_height_share=h / height, center_offset=offset,
                       outside_share=outside, motion_iod_per_s=motion_iod_per_s,
                       eye_structure=eye_structure, mouth_structure=mouth_structure,
                       lip_redness=lip_redness,
                       guidance=tuple(g for g in GUIDANCE_CODES if g in guidance), score=score)


def _ramp(value: float, bad: float, good: float) -> float:
    """0 at ``bad``, 1 at ``good``, linear between (either direction)."""
    if good == bad:
        return 1.0
    return float(min(1.0, max(0.0, (value - bad) / (good - bad))))


def _score(cfg: QualityConfig, luma: float, clipped: float, sharpness: float, iod: float,
           offset: float, outside: float, yaw: float, pitch: float,
           motion: float | None, n_guidance: int) -> float:
    """Product of soft per-factor scores; frames with guidance are capped below clean ones."""
    exposure = min(_ramp(luma, cfg.min_luma * 0.6, cfg.min_luma * 1.5),
                   _ramp(luma, 255.0, cfg.max_luma * 0.9), _ramp(clipped, 0.5, 0.02))
    factors = (
        exposure,
        _ramp(sharpness, cfg.min_sharpness * 0.5, cfg.min_sharpness * 3.0),
        _ramp(iod, cfg.min_iod_px * 0.5, cfg.min_iod_px * 2.0),
        _ramp(offset, 0.5, 0.1) * _ramp(outside, 0.2, 0.0),
        _ramp(math.hypot(yaw, pitch), 45.0, 5.0),
        1.0 if motion is None else _ramp(motion, cfg.max_motion_iod_per_s * 2, 0.2),
    )
    score = float(np.prod(factors))
    return score * (1.0 if n_guidance == 0 else 0.5 / n_guidance)
