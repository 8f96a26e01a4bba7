"""Variants of the neutral-vs-smiling decision that were measured and not shipped.

Why: the shipped smile fusion (:mod:`verification.expression.smile`) is one choice among several
principled ones; this keeps the others reproducible, each scored leave-one-person-out exactly as
the shipped fusion is (``benchmarks/eval_expression.py --ablations``):

* fer's input closer to FER2013's distribution: histogram equalisation; area downsampling to
  FER2013's native 48 px, then bilinear up to the model's 64 px (anti-aliased); looser and
  tighter crops;
* the blendshapes averaged over the portrait and its mirror image (a second mesh run);
* a geometric third expert: mouth-corner lift over the lip midline and mouth width, both in
  inter-ocular distances, in the eye-line frame;
* the fusion fitted with each ethnic group weighted equally (rather than each portrait).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from verification.expression.reading import mouth_smile
from verification.face.alignment import align_region
from verification.face.blendshapes import BLENDSHAPE_NAMES
from verification.face.expression import (
    FER_CROP_CENTER,
    FER_CROP_SIDE,
    INPUT_SIZE,
    LABELS,
    ExpressionClassifier,
)
from verification.face.observation import FaceObservation, FaceTracker

HAPPY = LABELS.index("happy")
LEFT_EYE, RIGHT_EYE = (263, 362), (33, 133)
MOUTH_CORNERS, INNER_LIPS = (61, 291), (13, 14)


def _mirror_happy(classifier: ExpressionClassifier, gray: np.ndarray) -> float:
    rgb = np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
    return float(classifier.classify_mirrored(rgb).happy)


def _gray_crop(image: np.ndarray, obs: FaceObservation, side_scale: float, size: int) -> np.ndarray:
    chip = align_region(image, obs.geometry.five_points, FER_CROP_CENTER,
                        FER_CROP_SIDE * side_scale, size).chip
    return cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)


def mouth_geometry(landmarks: np.ndarray) -> tuple[float, float]:
    """(corner lift over the inner-lip midpoint, mouth width), in inter-ocular distances, in
    the frame whose x axis is the eye line (so head roll does not read as a lift)."""
    p = np.asarray(landmarks, dtype=np.float64)[:, :2]
    left, right = p[list(LEFT_EYE)].mean(axis=0), p[list(RIGHT_EYE)].mean(axis=0)
    axis = left - right
    iod = float(np.linalg.norm(axis))
    c, s = axis / iod
    rotate = np.array([[c, s], [-s, c]])
    q = (p - (left + right) / 2) @ rotate.T / iod
    corners = q[list(MOUTH_CORNERS)]
    lift = float(q[list(INNER_LIPS)].mean(axis=0)[1] - corners.mean(axis=0)[1])
    return lift, float(np.linalg.norm(corners[0] - corners[1]))


def _swap_sides(name: str) -> str:
    return name.replace("Left", "#").replace("Right", "Left").replace("#", "Right")


_MIRROR = [BLENDSHAPE_NAMES.index(_swap_sides(n)) for n in BLENDSHAPE_NAMES]


def ablation_features(classifier: ExpressionClassifier, tracker: FaceTracker, image: np.ndarray,
                      obs: FaceObservation) -> dict[str, float]:
    """Every variant's inputs for one portrait (``obs``: the tracker's reading of ``image``)."""
    base = _gray_crop(image, obs, 1.0, INPUT_SIZE)
    big = _gray_crop(image, obs, 1.0, 256)
    area48 = cv2.resize(cv2.resize(big, (48, 48), interpolation=cv2.INTER_AREA),
                        (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
    mirrored = np.ascontiguousarray(image[:, ::-1])
    tracker.reset()
    tracker.observe(mirrored, 0.0)
    mirror_obs = tracker.observe(mirrored, 0.04)
    shapes = np.asarray(obs.blendshapes.scores, dtype=np.float64)
    if mirror_obs.blendshapes is not None:
        flipped = np.asarray(mirror_obs.blendshapes.scores, dtype=np.float64)[_MIRROR]
        shapes = (shapes + flipped) / 2.0
    lift, width = mouth_geometry(obs.landmarks)
    return {"fer_equalized": _mirror_happy(classifier, cv2.equalizeHist(base)),
            "fer_area48": _mirror_happy(classifier, area48),
            "fer_loose": _mirror_happy(classifier, _gray_crop(image, obs, 1.1, INPUT_SIZE)),
            "fer_tight": _mirror_happy(classifier, _gray_crop(image, obs, 0.9, INPUT_SIZE)),
            "mouth_smile_mirrored": mouth_smile(shapes), "lift": lift, "width": width}


def evaluate_ablations(rows: list[dict], y: np.ndarray, logit: Callable[[np.ndarray], np.ndarray],
                       lopo: Callable[..., np.ndarray],
                       quality: Callable[[np.ndarray, np.ndarray], dict]) -> dict:
    """Leave-one-person-out accuracy, West-Asian count, log-loss and AUC of each variant."""
    ms = logit(np.array([r["mouth_smile"] for r in rows]))
    fer = logit(np.array([r["fer"][HAPPY] for r in rows]))

    def col(key: str) -> np.ndarray:
        return np.array([r["ablation"][key] for r in rows])

    groups = np.array([r["group"] for r in rows])
    counts = {g: int((groups == g).sum()) for g in set(groups)}
    balanced = np.array([len(rows) / (len(counts) * counts[g]) for g in groups])
    variants = {
        "shipped: mouthSmile + fer (mirror)": (np.c_[ms, fer], None),
        "fer histogram-equalised": (np.c_[ms, logit(col("fer_equalized"))], None),
        "fer area-downsampled to 48 px": (np.c_[ms, logit(col("fer_area48"))], None),
        "fer crop 10 % looser": (np.c_[ms, logit(col("fer_loose"))], None),
        "fer crop 10 % tighter": (np.c_[ms, logit(col("fer_tight"))], None),
        "blendshapes mirror-averaged": (np.c_[logit(col("mouth_smile_mirrored")), fer], None),
        "+ mouth-corner lift": (np.c_[ms, fer, 10 * col("lift")], None),
        "+ mouth width": (np.c_[ms, fer, 10 * col("width")], None),
        "+ lift + width": (np.c_[ms, fer, 10 * col("lift"), 10 * col("width")], None),
        "groups weighted equally": (np.c_[ms, fer], balanced),
    }
    west = groups == "west_asian"
    out = {}
    print("\n== Not shipped: variants, leave-one-person-out ==")
    for name, (features, weights) in variants.items():
        z = lopo(rows, features, y, weights)
        ok = (z > 0) == (y > 0.5)
        scores = quality(z, y)
        out[name] = {"correct": int(ok.sum()), "n": len(ok), "west_asian": int(ok[west].sum()),
                     **scores}
        print(f"  {name:36s} {ok.sum():3d}/{len(ok)} {ok.mean():6.1%}  west-asian "
              f"{ok[west].sum()}/{west.sum()}  log-loss {scores['log_loss']:.4f}  "
              f"AUC {scores['auc']:.4f}")
    return out
