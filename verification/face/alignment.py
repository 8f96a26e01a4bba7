"""Five-point face alignment that reproduces the framing of dlib's 150-px face chips.

Why: dlib's face descriptor network was trained on chips cut by dlib's own aligner (5-point
shape predictor -> similarity transform -> 150x150 chip with 25 % padding). The descriptor is
only as good as the framing matches, but at run time the landmarks come from MediaPipe's mesh,
not dlib. So we map five generic points onto a fixed 150-px template with a least-squares
similarity transform (Umeyama) and warp with bilinear interpolation.

The points, in image pixels, in this order (image-left first, as seen in the unmirrored image):

0. centre of the eye on the image's left (the subject's right eye): midpoint of its two corners
1. centre of the eye on the image's right: midpoint of its two corners
2. nose tip
3. mouth corner on the image's left
4. mouth corner on the image's right

How the template was derived (``models/convert/eval_dlib_parity.py``): on the 138 London
portraits (CC BY 4.0) dlib's HOG detector + 5-point predictor gave the parameters of
``get_face_chip(img, shape, 150, 0.25)``. The exact image->chip mapping of each chip was
measured numerically (coordinate ramps pushed through ``dlib.extract_image_chip``: the mapping
is a similarity transform to 2e-5 px; note dlib maps the chip's 150-px rectangle onto 149 pixel
steps, so its built-in template is not the framing in pixels). The five points above, taken from
MediaPipe's 478-point mesh (indices :data:`MESH_FIVE_POINT_INDICES`), were mapped into each
dlib chip and averaged. dlib's own 5 landmarks land within ~1 px of its built-in template (a
check of the measured mappings); the same five points from dlib's 68-point model land within
1.3 px of ours, except the nose tip (dlib's point 30 sits 6 px above MediaPipe's point 1).

dlib frames the chip from eye corners and the nose base only, so the mouth corners, which move
with expression, get weight 0.1 in the fit. Re-aligning all 138 portraits this way samples the
image within 1.1 px (mean over a 7x7 grid of the chip; p95 1.9, max 3.0) of where dlib's chip
samples it; with equal weights the error was 2.3 px. BlazeFace's coarser keypoints give 2.8 px.
Descriptors of our chips are within L2 0.08 (mean; max 0.14) of dlib's descriptors of dlib's
chips, against 0.037 for the same chips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from verification.errors import InvalidInputError

CHIP_SIZE = 150
FIVE_POINT_NAMES = ("eye_left", "eye_right", "nose_tip", "mouth_left", "mouth_right")


@dataclass(frozen=True, eq=False)
class ChipTemplate:
    """Where a landmark set lands in dlib's 150x150 chip (padding 0.25), and how much to trust it.

    ``points`` are chip pixels (x right, y down, pixel centres at integers). ``weights`` enter
    the least-squares fit: dlib frames the chip from the eyes and the nose base only, so points
    that move with expression (mouth corners, which widen and rise in a smile) are down-weighted;
    on the London set this halves the framing error (see the module docstring).
    """

    points: np.ndarray
    weights: np.ndarray


# The five points (FIVE_POINT_NAMES) from MediaPipe's mesh, mean over 138 London portraits.
# Std over faces (x, y) in chip px: eyes 0.8, 0.6; nose 1.1, 2.2; mouth corners 2.7, 3.6
# (neutral and smiling mixed).
DLIB_CHIP_TEMPLATE = ChipTemplate(
    points=np.array([[47.830, 47.136], [99.902, 47.142], [73.913, 79.123],
                     [50.601, 102.460], [97.169, 102.368]]),
    weights=np.array([1.0, 1.0, 1.0, 0.1, 0.1]),
)

# MediaPipe face-mesh indices averaged for each of the five points (image-left first).
MESH_FIVE_POINT_INDICES: tuple[tuple[int, ...], ...] = ((33, 133), (362, 263), (1,), (61,), (291,))

# BlazeFace's first four keypoints (right eye, left eye, nose tip, mouth centre; the subject's
# right eye is on the image's left), derived the same way from verification.face.detector.
# Std over faces: 1.4-2.1 px, nose y 3.6 px. The ear keypoints are not used (they move with
# head yaw and are often hidden).
BLAZEFACE_CHIP_TEMPLATE = ChipTemplate(
    points=np.array([[45.772, 47.137], [102.100, 46.313], [73.584, 76.671], [73.831, 105.554]]),
    weights=np.array([1.0, 1.0, 0.5, 0.5]),
)


def _checked(points: np.ndarray, count: int, what: str) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    if pts.shape != (count, 2) or not np.all(np.isfinite(pts)):
        raise ValueError(f"{what} must be a finite ({count}, 2) array, got {pts.shape}")
    return pts


@dataclass(frozen=True, eq=False)  # holds a numpy array: compare by identity
class FivePoints:
    """Five alignment points in image pixels, shape (5, 2), order :data:`FIVE_POINT_NAMES`."""

    points: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", _checked(self.points, 5, "five alignment points"))

    @property
    def template(self) -> ChipTemplate:
        return DLIB_CHIP_TEMPLATE

    @classmethod
    def from_mesh(cls, landmarks: np.ndarray) -> FivePoints:
        """From MediaPipe face-mesh landmarks in image pixels, shape (468 or 478, >=2)."""
        mesh = np.asarray(landmarks, dtype=np.float64)[:, :2]
        return cls(np.stack([mesh[list(idx)].mean(axis=0) for idx in MESH_FIVE_POINT_INDICES]))


@dataclass(frozen=True, eq=False)
class BlazeFacePoints:
    """BlazeFace's right eye, left eye, nose tip and mouth centre in image pixels, shape (4, 2).

    A coarser fallback for when no mesh is available: the detector's keypoints are less
    precise than the mesh's, so the chip framing is a little less faithful to dlib's.
    """

    points: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", _checked(self.points, 4, "BlazeFace keypoints"))

    @property
    def template(self) -> ChipTemplate:
        return BLAZEFACE_CHIP_TEMPLATE

    @classmethod
    def from_keypoints(cls, keypoints: np.ndarray) -> BlazeFacePoints:
        """From ``FaceDetection.keypoints`` (6, 2) in MediaPipe's order; the ears are dropped."""
        return cls(np.asarray(keypoints, dtype=np.float64)[:4, :2])


AlignmentPoints = FivePoints | BlazeFacePoints


@dataclass(frozen=True, eq=False)
class AlignedFace:
    """A face chip cut from an image, with the transform that cut it."""

    chip: np.ndarray  # (size, size, 3) uint8 RGB
    matrix: np.ndarray  # (2, 3) image -> chip similarity transform
    residual_px: float  # RMS distance (chip px) of the mapped points from the template (unweighted)


def similarity_transform(src: np.ndarray, dst: np.ndarray,
                         weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted least-squares similarity (rotation, uniform scale, shift; no reflection) src -> dst.

    Umeyama (1991) with the reflection guard, in its 2-D closed form: for the weighted
    cross-covariance ``[[p, q], [r, t]]`` the best rotation has angle ``atan2(r - q, p + t)``
    and the guarded singular-value sum is ``hypot(p + t, r - q)``, so no SVD is needed (the
    same matrix to ~1e-13; this runs on every analysed frame). Returns a (2, 3) matrix ``M``
    with ``dst ~= M[:, :2] @ src + M[:, 2]``.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError("need two matching (N>=2, 2) point arrays")
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(src),) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be non-negative, one per point, not all zero")
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    s, d = src - mu_s, dst - mu_d
    var_s = float(w @ (s**2).sum(axis=1))
    if var_s <= 1e-12:
        raise ValueError("source points are degenerate (all at one place)")
    (p, q), (r, t) = ((d * w[:, None]).T @ s).tolist()
    along, across = p + t, r - q
    norm = math.hypot(along, across)
    cos, sin = (along / norm, across / norm) if norm > 0 else (1.0, 0.0)
    rot = np.array([[cos, -sin], [sin, cos]])
    scale = norm / var_s
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rot
    matrix[:, 2] = mu_d - scale * rot @ mu_s
    return matrix


def fit_alignment(points: AlignmentPoints, size: int = CHIP_SIZE) -> tuple[np.ndarray, float]:
    """The (2, 3) image -> chip transform for a ``size``-px chip, and the RMS fit residual (px)."""
    template = points.template
    target = template.points * (size / CHIP_SIZE)
    matrix = similarity_transform(points.points, target, template.weights)
    mapped = points.points @ matrix[:, :2].T + matrix[:, 2]
    residual = float(np.sqrt(((mapped - target) ** 2).sum(axis=1).mean()))
    return matrix, residual


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 \
            or image.dtype != np.uint8:
        raise InvalidInputError("expected an RGB uint8 image of shape (height, width, 3)")


def align_face(image: np.ndarray, points: AlignmentPoints, size: int = CHIP_SIZE) -> AlignedFace:
    """Cut the dlib-style face chip from an RGB uint8 image (outside the image: black, as dlib).

    Other ``size`` values scale the template, giving the same framing at another resolution.
    """
    _check_image(image)
    matrix, residual = fit_alignment(points, size)
    chip = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return AlignedFace(chip=chip, matrix=matrix, residual_px=residual)


def align_region(image: np.ndarray, points: AlignmentPoints, center: tuple[float, float],
                 side: float, out_size: int) -> AlignedFace:
    """Cut a square region given in dlib-chip coordinates, resampled to ``out_size`` pixels.

    ``center`` and ``side`` are in the pixels of the 150-px dlib chip (the region may extend
    past the chip; outside the image the edge pixels are repeated). This lets other face models
    reuse the same alignment with their own framing (e.g. the expression classifier's looser,
    higher crop) in one bilinear resampling step.
    """
    _check_image(image)
    to_chip, residual = fit_alignment(points, CHIP_SIZE)
    scale = out_size / float(side)
    origin = np.array([center[0] - side / 2.0, center[1] - side / 2.0])
    matrix = scale * to_chip
    matrix[:, 2] -= scale * origin
    crop = cv2.warpAffine(image, matrix, (out_size, out_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    return AlignedFace(chip=crop, matrix=matrix, residual_px=residual)
