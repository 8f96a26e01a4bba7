"""Paper texture: the colour and fine detail of a face printed on paper and filmed again.

Why: a printed photo is a second reproduction of the face. Two physical limits show in the
pixels of the face itself, whatever surrounds it:

* **Gamut** - ink on paper reflects light; it cannot reach the saturation of skin lit
  directly, and its darkest ink stays grey. Skin's chromaticity (r, g, b over their sum, which
  does not depend on exposure or on the camera's gain) lies clearly away from neutral grey;
  a print pulls it towards grey. Measured as the median chromaticity distance from grey of the
  well-exposed skin pixels of the inner face.
* **Fine detail** - the print was itself an image (the original camera's blur, then the
  printer's dot gain), and the webcam blurs it once more. Skin imaged once keeps detail (pores,
  fine wrinkles, hair) next to the face's coarse structure; a re-imaged face loses it.
  Measured as the energy of a fine difference-of-Gaussians band over that of the next
  coarser band, on the face resampled to a fixed eye distance so that faces of any size are
  compared alike. The very finest band is left out on purpose: sensor noise lives there, and
  a blurred (printed) face under noise would read as *more* detailed.

Both are measured on the same aligned inner-face crop as the quality gate's exposure and
sharpness. Neither is decisive alone: lighting colour moves the chromaticity, and a weak
video link removes fine detail from a live face too. :mod:`.decision` lets paper texture
speak only when *both* limits show in most frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from verification.face.alignment import CHIP_SIZE, FivePoints, fit_alignment

TEXTURE_IOD_PX = 32.0  # eyes this far apart in the texture crop (the quality gate's sharpness)
_CHIP_IOD = 52.07  # eye distance of the 150-px dlib chip template
# The inner face (brows to chin, cheek to cheek) in dlib-chip pixels, the quality gate's crop.
INNER_FACE_CENTER = (73.9, 78.0)
INNER_FACE_SIDE = 100.0
MIN_LUMA, MAX_LUMA = 40, 235  # skin pixels neither in the noise floor nor clipped
MIN_SKIN_SHARE = 0.2  # of the crop, else the frame is not measured
# Gaussian scales (px of the 32-px-IOD crop): detail band 0.7-1.4, structure band 1.4-2.8.
DETAIL_SIGMAS = (0.7, 1.4, 2.8)


@dataclass(frozen=True)
class TextureMeasure:
    """Texture of the inner face in one frame."""

    chroma: float  # median chromaticity distance from grey of the skin pixels
    fine_detail: float  # detail-band energy over the next coarser band's


def _inner_face(image: np.ndarray, points: FivePoints) -> np.ndarray:
    to_chip, _ = fit_alignment(points, CHIP_SIZE)
    size = max(8, int(round(INNER_FACE_SIDE * TEXTURE_IOD_PX / _CHIP_IOD)))
    scale = size / INNER_FACE_SIDE
    matrix = scale * to_chip
    matrix[:, 2] -= scale * np.array([INNER_FACE_CENTER[0] - INNER_FACE_SIDE / 2.0,
                                      INNER_FACE_CENTER[1] - INNER_FACE_SIDE / 2.0])
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_REPLICATE)


def skin_chroma(crop: np.ndarray) -> float | None:
    """Median distance of the skin pixels' (r, g) chromaticity from grey (1/3, 1/3)."""
    luma = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).reshape(-1)
    pixels = crop.reshape(-1, 3)
    skin = (luma >= MIN_LUMA) & (luma <= MAX_LUMA) & (pixels.max(axis=1) < 250)
    count = int(np.count_nonzero(skin))
    if count < MIN_SKIN_SHARE * luma.size:
        return None
    chosen = pixels[skin].astype(np.float32)
    total = chosen.sum(axis=1)
    r = chosen[:, 0] / total - np.float32(1.0 / 3.0)
    g = chosen[:, 1] / total - np.float32(1.0 / 3.0)
    return float(np.sqrt(np.median(r * r + g * g)))  # sqrt is monotonic: median of squares


def fine_detail(crop: np.ndarray) -> float:
    """Energy of the detail DoG band over the structure band's (luma of the aligned crop)."""
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    fine, mid, coarse = (cv2.GaussianBlur(grey, (0, 0), s) for s in DETAIL_SIGMAS)
    margin = 4  # the replicated border has no detail of its own
    detail = (fine - mid)[margin:-margin, margin:-margin]
    structure = (mid - coarse)[margin:-margin, margin:-margin]
    return float(np.mean(detail * detail) / max(float(np.mean(structure * structure)), 1e-6))


def paper_texture(image: np.ndarray, points: FivePoints) -> TextureMeasure | None:
    """Both texture measures of one frame; None when too little skin is well exposed."""
    crop = _inner_face(image, points)
    chroma = skin_chroma(crop)
    if chroma is None:
        return None
    return TextureMeasure(chroma=chroma, fine_detail=fine_detail(crop))
