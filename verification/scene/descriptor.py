"""A global descriptor of the masked background: one vector per place, for candidate search.

Why hand-made and not a CNN embedding: no scene or ImageNet network ships in a package registry
(``shared/notes/models.md``); the only learnt models here detect objects and segment people.
The descriptor only has to put the true match among the few dozen candidates that geometric
verification (``verification.scene.matching``) then decides on, so it combines three cheap,
complementary views of the background, each computed over background pixels only:

* **layout** - a GIST-like spatial pyramid (1x1, 2x2, 4x4 cells) of gradient energy in 8
  orientations; each level is L1-normalised, so a brighter or darker exposure does not matter;
* **colour** - a hue/saturation histogram (plus lightness bins for grey pixels), the part of a
  room's look that survives a change of framing;
* **texture words** - the mean RootSIFT descriptor of the background keypoints (sum pooling),
  which describes *what* kind of texture is there regardless of *where*.

Each block is square-rooted (Hellinger), L2-normalised and weighted; the result is L2-normalised
so the inner product is the cosine similarity. Cells the applicant covers contribute nothing.
"""

from __future__ import annotations

import cv2
import numpy as np

from verification.scene.features import LocalFeatures
from verification.scene.masking import BackgroundView

ORIENTATIONS = 8
PYRAMID = (1, 2, 4)
HUE_BINS, SAT_BINS, GREY_BINS = 12, 3, 4
GREY_SATURATION = 0.15
BLOCK_WEIGHTS = {"layout": 1.0, "colour": 0.8, "texture": 1.0}
LAYOUT_DIM = sum(n * n for n in PYRAMID) * ORIENTATIONS
COLOUR_DIM = HUE_BINS * SAT_BINS + GREY_BINS
TEXTURE_DIM = 128
DESCRIPTOR_DIM = LAYOUT_DIM + COLOUR_DIM + TEXTURE_DIM
MIN_CELL_BACKGROUND = 0.2


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 1e-12 else vector


def layout_block(view: BackgroundView) -> np.ndarray:
    """Gradient energy per orientation in a 1x1 / 2x2 / 4x4 pyramid of cells (background only).

    Cells where the applicant hides most of the view (< ``MIN_CELL_BACKGROUND``) stay zero;
    the others are scaled up by their background share, so a half-hidden cell is comparable
    with a fully visible one. Each pyramid level is L1-normalised (exposure invariance).
    """
    gray = cv2.GaussianBlur(view.gray().astype(np.float32), (0, 0), 1.0)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    magnitude, angle = cv2.cartToPolar(gx, gy)
    background = view.background
    orientation = (np.mod(angle, np.pi) * (ORIENTATIONS / np.pi)).astype(np.int32)
    orientation = np.minimum(orientation, ORIENTATIONS - 1)
    height, width = gray.shape
    finest = PYRAMID[-1]
    rows = np.minimum(np.arange(height) * finest // height, finest - 1)
    cols = np.minimum(np.arange(width) * finest // width, finest - 1)
    cell = rows[:, None] * finest + cols[None, :]
    energy = np.bincount((cell * ORIENTATIONS + orientation)[background],
                         weights=magnitude[background],
                         minlength=finest * finest * ORIENTATIONS)
    energy = energy.reshape(finest, finest, ORIENTATIONS)
    visible = np.bincount(cell[background], minlength=finest * finest).reshape(finest, finest)
    pixels = np.bincount(cell.ravel(), minlength=finest * finest).reshape(finest, finest)
    levels = []
    for cells in PYRAMID:
        step = finest // cells
        e = energy.reshape(cells, step, cells, step, ORIENTATIONS).sum(axis=(1, 3))
        share = (visible.reshape(cells, step, cells, step).sum(axis=(1, 3))
                 / pixels.reshape(cells, step, cells, step).sum(axis=(1, 3)))
        level = np.where(share[..., None] >= MIN_CELL_BACKGROUND,
                         e / np.maximum(share, 1e-6)[..., None], 0.0)
        total = level.sum()
        levels.append((level / total).ravel() if total > 0 else level.ravel())
    return np.concatenate(levels)


def colour_block(view: BackgroundView) -> np.ndarray:
    """Hue x saturation histogram of the background (grey pixels by lightness), sums to 1.

    Every second pixel in each direction is enough for a histogram and four times cheaper.
    """
    hsv = cv2.cvtColor(view.image[::2, ::2], cv2.COLOR_RGB2HSV_FULL)
    keep = view.background[::2, ::2]
    hue = hsv[..., 0][keep].astype(np.int32)
    sat = hsv[..., 1][keep].astype(np.float32) / 255.0
    val = hsv[..., 2][keep].astype(np.int32)
    if hue.size == 0:
        return np.zeros(COLOUR_DIM, np.float64)
    grey = sat < GREY_SATURATION
    colour_sat = (sat - GREY_SATURATION) / (1.0 - GREY_SATURATION)
    h_idx = np.minimum(hue * HUE_BINS // 256, HUE_BINS - 1)
    s_idx = np.clip((colour_sat * SAT_BINS).astype(np.int32), 0, SAT_BINS - 1)
    g_idx = np.minimum(val * GREY_BINS // 256, GREY_BINS - 1)
    bins = np.where(grey, HUE_BINS * SAT_BINS + g_idx, h_idx * SAT_BINS + s_idx)
    counts = np.bincount(bins, minlength=COLOUR_DIM).astype(np.float64)
    return counts / counts.sum()


def texture_block(features: LocalFeatures) -> np.ndarray:
    if len(features) == 0:
        return np.zeros(TEXTURE_DIM, np.float64)
    descriptors = features.descriptors.astype(np.float64) / 255.0
    return descriptors.mean(axis=0)


def global_descriptor(view: BackgroundView, features: LocalFeatures) -> np.ndarray:
    """(DESCRIPTOR_DIM,) float32, unit length (all zeros only for an empty background)."""
    blocks = {
        "layout": layout_block(view),
        "colour": colour_block(view),
        "texture": texture_block(features),
    }
    parts = [BLOCK_WEIGHTS[name] * _unit(np.sqrt(np.maximum(block, 0.0)))
             for name, block in blocks.items()]
    return _unit(np.concatenate(parts)).astype(np.float32)
