"""Are two backgrounds the same place? Descriptor matching plus RANSAC geometric verification.

Why geometric verification decides, not descriptor similarity: two offices share the same kinds
of things (monitors, keyboards, white walls), so appearance alone confuses them; but only the
*same* place gives many matches that agree on one geometric transform. Between two phone frames
of one room the camera moves a little (hand-held height, distance, tilt), and for the background
behind a seated applicant a homography is a good model of that motion. The decision rule is a
count of RANSAC inliers, the classic principle for verified retrieval (Philbin et al., 2007):

* tentative matches: mutual nearest neighbours under Lowe's ratio test (0.8);
* a homography by MAGSAC++ with a reprojection threshold of 1 % of the frame diagonal;
* plausibility: the transform keeps orientation, changes scale by at most 3x, and is not
  strongly projective - the camera moved, it did not mirror or collapse the scene;
* spread: the inliers cover a real part of the frame in both images (a cluster on one small
  patch, e.g. a logo both rooms happen to show, is not a place).

``similarity = inliers / (inliers + MIN_INLIERS)`` is monotone in the evidence, 0 with none and
0.5 exactly at the decision threshold, so a caller can sort or re-threshold by it.

The threshold comes from the null model, not from the same-place pairs: a homography needs four
matches, and among wrong tentative matches RANSAC finds chance consensus sets of a few points -
at most 5 over the 3,220 different-place pairs of the *tune* split of
``benchmarks/eval_scene.py``, and at most 10 when the applicant's hair leaked past a thinner
mask margin (same person in two rooms) while the margin was being chosen. :data:`MIN_INLIERS`
is 3x the largest chance consensus seen and 1.5x the largest leak.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from verification.scene.features import ORB, LocalFeatures

RATIO = 0.8
# ORB distances are Hamming counts; matchable() turns them into 4 x Hamming squared-Euclidean,
# so Lowe's 0.8 on Hamming distances is sqrt(0.8) on the Euclidean ones.
ORB_RATIO = float(np.sqrt(0.8))
RANSAC_THRESHOLD_SHARE = 0.01
MIN_INLIERS = 15
MAX_SCALE_CHANGE = 3.0
MAX_PERSPECTIVE = 0.002  # |h31|, |h32| at working size (pixels^-1)
MIN_SPREAD_SHARE = 0.02  # inlier hull area / frame area, in both images
MIN_TENTATIVE = 8


@dataclass(frozen=True)
class PlaceMatch:
    """The verdict on one pair of backgrounds, with the numbers it rests on."""

    same_place: bool
    similarity: float
    inliers: int
    tentative: int
    features: tuple[int, int]
    reason: str  # why the pair is or is not the same place, in words

    def to_json(self) -> dict[str, object]:
        return {"same_place": self.same_place, "similarity": round(self.similarity, 4),
                "inliers": self.inliers, "tentative_matches": self.tentative,
                "features": list(self.features), "reason": self.reason}


def similarity_from_inliers(inliers: int, min_inliers: int = MIN_INLIERS) -> float:
    return float(inliers) / float(inliers + min_inliers) if inliers > 0 else 0.0


def tentative_matches(a: LocalFeatures, b: LocalFeatures, ratio: float | None = None) -> np.ndarray:
    """Mutual nearest neighbours passing the ratio test in both directions: (K, 2) indices.

    One BLAS matrix product gives all squared distances; the two nearest neighbours per row and
    per column come from partial sorts, so a 500 x 500 match costs about a millisecond.
    """
    if a.kind != b.kind:
        raise ValueError(f"cannot match {a.kind} features with {b.kind} features")
    if ratio is None:
        ratio = ORB_RATIO if a.kind == ORB else RATIO
    if len(a) < 2 or len(b) < 2:
        return np.zeros((0, 2), np.int64)
    da, db = a.matchable(), b.matchable()
    squared = ((da * da).sum(1)[:, None] + (db * db).sum(1)[None, :] - 2.0 * (da @ db.T))
    np.maximum(squared, 0.0, out=squared)
    forward = _ratio_nearest(squared, ratio)
    backward = _ratio_nearest(squared.T, ratio)
    rows = np.nonzero(forward >= 0)[0]
    mutual = rows[backward[forward[rows]] == rows]
    return np.stack([mutual, forward[mutual]], axis=1).astype(np.int64)


def _ratio_nearest(squared: np.ndarray, ratio: float) -> np.ndarray:
    """Per row: the nearest column if it passes Lowe's ratio test, else -1."""
    rows = np.arange(squared.shape[0])
    nearest = np.argmin(squared, axis=1)
    best = squared[rows, nearest]
    others = squared.copy()
    others[rows, nearest] = np.inf
    second = others.min(axis=1)
    passes = best < (ratio * ratio) * second
    return np.where(passes, nearest, -1)


def _hull_share(points: np.ndarray, size: tuple[int, int]) -> float:
    if len(points) < 3:
        return 0.0
    hull = cv2.convexHull(points.astype(np.float32))
    return float(cv2.contourArea(hull)) / float(size[0] * size[1])


def plausible_motion(h: np.ndarray) -> tuple[bool, str]:
    """Is ``h`` the kind of transform a camera moving a little in one room produces?"""
    h = h / h[2, 2] if abs(h[2, 2]) > 1e-12 else h
    det = float(np.linalg.det(h[:2, :2]))
    if det <= 0:
        return False, "the transform mirrors the image"
    scale = float(np.sqrt(det))
    if not (1.0 / MAX_SCALE_CHANGE <= scale <= MAX_SCALE_CHANGE):
        return False, f"implausible scale change x{scale:.2f}"
    if max(abs(h[2, 0]), abs(h[2, 1])) > MAX_PERSPECTIVE:
        return False, "implausibly strong perspective change"
    return True, "plausible camera motion"


def verify_place(a: LocalFeatures, b: LocalFeatures, min_inliers: int = MIN_INLIERS,
                 early_exit: bool = False) -> PlaceMatch:
    """The full pairwise decision; never raises on degenerate inputs (it says why instead).

    ``early_exit``: skip RANSAC when there are fewer tentative matches than ``min_inliers``
    (inliers are a subset of them, so the decision cannot be "same place"). Index search uses
    it; the pairwise CLI does not, so its similarity stays graded below the threshold.
    """
    features = (len(a), len(b))
    pairs = tentative_matches(a, b)
    tentative = int(len(pairs))
    if tentative < max(MIN_TENTATIVE, min_inliers if early_exit else 0):
        return PlaceMatch(False, 0.0, 0, tentative, features,
                          f"only {tentative} tentative matches (background features "
                          f"{features[0]} / {features[1]})")
    src = a.points[pairs[:, 0]]
    dst = b.points[pairs[:, 1]]
    diag = float(np.hypot(*a.image_size) + np.hypot(*b.image_size)) / 2.0
    h, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, RANSAC_THRESHOLD_SHARE * diag,
                                 maxIters=2000, confidence=0.999)
    if h is None or mask is None:
        return PlaceMatch(False, 0.0, 0, tentative, features, "no consistent geometry")
    inlier = mask.ravel().astype(bool)
    count = int(inlier.sum())
    ok, why = plausible_motion(h)
    if not ok:
        return PlaceMatch(False, 0.0, count, tentative, features, why)
    spread = min(_hull_share(src[inlier], a.image_size), _hull_share(dst[inlier], b.image_size))
    if spread < MIN_SPREAD_SHARE:
        return PlaceMatch(False, 0.0, count, tentative, features,
                          f"{count} inliers cluster on {spread:.1%} of the frame")
    similarity = similarity_from_inliers(count, min_inliers)
    same = count >= min_inliers
    reason = (f"{count} geometrically consistent matches (threshold {min_inliers})")
    return PlaceMatch(same, similarity, count, tentative, features, reason)
