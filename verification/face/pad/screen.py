"""Pixel cues of a reproduced face: a frame around it, moiré, glare, compressed tone range.

Why each one:

* **Frame around the face** - a screen's display area ends at its bezel, a print at its edge;
  in both the reproduced person is *inside* a straight-edged quadrilateral, cut off at its
  bottom edge. Straight edges are common in rooms (doors, shelves), but an edge that passes
  *beneath the face across the body* is in front of the person, which a background cannot be.
  So a frame counts only with its bottom side plus at least two of left, right and top.
* **Moiré** - a camera filming a display samples the display's pixel grid, which aliases into
  periodic stripes; in the spectrum of the face region they are narrow peaks far above the
  smooth spectrum of skin and sensor noise. Video codecs add their own periodicity on the
  8-pixel block grid, so those frequencies are left out.
* **Glare** - a glossy screen or photo reflects lamps as a bright, colourless blob over the
  face; skin highlights are small.
* **Tone range** - displays and prints cannot show real black: the darkest parts of the face
  region (pupils, nostrils, hair) stay grey relative to the brightest.

Glare and tone range are measured and reported, not decisive: lighting alone changes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[float, float, float, float]

# Frame (border) detection.
CANNY_LOW, CANNY_HIGH = 40, 120
MIN_SIDE_LENGTH = 0.5  # face heights
BORDER_PX = 3  # segments hugging the image border are the image's own edge
MAX_SIDE_OFFSET = {"left": 2.5, "right": 2.5, "top": 2.0, "bottom": 3.0}  # face sizes away
MAX_TILT_DEG = 20.0

# Moiré.
SPECTRUM_SIZE = 96
MIN_FREQUENCY, MAX_FREQUENCY = 0.06, 0.45  # cycles per pixel
CODEC_GRID = 8


@dataclass(frozen=True)
class FrameSides:
    """Straight edges found around the face, by side (left/right/top/bottom)."""

    sides: frozenset[str]

    @property
    def encloses_face(self) -> bool:
        """A bottom edge across the body plus at least two other sides."""
        return "bottom" in self.sides and len(self.sides) >= 3


def _segments(grey: np.ndarray, min_length: float) -> np.ndarray:
    edges = cv2.Canny(cv2.GaussianBlur(grey, (3, 3), 0), CANNY_LOW, CANNY_HIGH)
    lines = cv2.HoughLinesP(edges, 1, np.pi / 180, threshold=max(15, int(min_length * 0.5)),
                            minLineLength=max(10, int(min_length)), maxLineGap=4)
    return np.zeros((0, 4)) if lines is None else lines.reshape(-1, 4).astype(np.float64)


def frame_sides(grey: np.ndarray, box: Box) -> FrameSides:
    """Which sides of a quadrilateral around the face ``box`` (x, y, w, h) have a long
    straight edge: vertical ones beside the face, horizontal ones above or below it."""
    height, width = grey.shape[:2]
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    found: set[str] = set()
    for x1, y1, x2, y2 in _segments(grey, MIN_SIDE_LENGTH * h):
        xs, ys = (min(x1, x2), max(x1, x2)), (min(y1, y2), max(y1, y2))
        if xs[1] < BORDER_PX or xs[0] > width - 1 - BORDER_PX or \
                ys[1] < BORDER_PX or ys[0] > height - 1 - BORDER_PX:
            continue
        if (xs[1] - xs[0] < BORDER_PX and (xs[0] < BORDER_PX or xs[1] > width - 1 - BORDER_PX)) \
                or (ys[1] - ys[0] < BORDER_PX
                    and (ys[0] < BORDER_PX or ys[1] > height - 1 - BORDER_PX)):
            continue
        dx, dy = x2 - x1, y2 - y1
        angle = math.degrees(math.atan2(abs(dy), abs(dx)))
        if angle > 90 - MAX_TILT_DEG:  # vertical: must run alongside the face
            if ys[1] < y or ys[0] > y + h:
                continue
            at = x1 + (cy - y1) * dx / dy
            if x - MAX_SIDE_OFFSET["left"] * w < at < x - 0.05 * w:
                found.add("left")
            elif x + 1.05 * w < at < x + w + MAX_SIDE_OFFSET["right"] * w:
                found.add("right")
        elif angle < MAX_TILT_DEG:  # horizontal: must pass above or below the face
            if xs[1] < x or xs[0] > x + w:
                continue
            at = y1 + (cx - x1) * dy / dx if dx else y1
            if y - MAX_SIDE_OFFSET["top"] * h < at < y - 0.05 * h:
                found.add("top")
            elif y + 1.05 * h < at < y + h + MAX_SIDE_OFFSET["bottom"] * h:
                found.add("bottom")
    return FrameSides(frozenset(found))



def _window(image: np.ndarray, centre: tuple[float, float], size: int) -> np.ndarray | None:
    height, width = image.shape[:2]
    if height < size or width < size:
        return None
    x0 = int(min(max(centre[0] - size / 2, 0), width - size))
    y0 = int(min(max(centre[1] - size / 2, 0), height - size))
    return image[y0:y0 + size, x0:x0 + size]


def _spectral_peakiness(channel: np.ndarray) -> float:
    """Strongest narrow spectral peak over the median of the band (codec grid left out)."""
    n = channel.shape[0]
    data = channel.astype(np.float32)
    high = data - cv2.GaussianBlur(data, (0, 0), 2.0)
    window = np.outer(np.hanning(n), np.hanning(n)).astype(np.float32)
    power = np.abs(np.fft.fftshift(np.fft.fft2(high * window))) ** 2
    fy, fx = np.mgrid[-(n // 2):n - n // 2, -(n // 2):n - n // 2] / n
    radius = np.hypot(fx, fy)
    band = (radius > MIN_FREQUENCY) & (radius < MAX_FREQUENCY)
    tolerance = 1.5 / n
    for k in range(-CODEC_GRID // 2, CODEC_GRID // 2 + 1):
        band &= np.abs(fx - k / CODEC_GRID) >= tolerance
        band &= np.abs(fy - k / CODEC_GRID) >= tolerance
    values = power[band]
    if values.size == 0:
        return 0.0
    return float(values.max() / (np.median(values) + 1e-9))


@dataclass(frozen=True)
class Moire:
    luma: float  # peak-to-median power ratio in the luma spectrum
    chroma: float  # the same in the stronger chroma channel

    @property
    def strength(self) -> float:
        return max(self.luma, self.chroma)


def moire(image: np.ndarray, box: Box) -> Moire | None:
    """Spectral peakiness of a window centred on the face (None if the frame is too small)."""
    x, y, w, h = box
    crop = _window(image, (x + w / 2, y + 0.45 * h), SPECTRUM_SIZE)
    if crop is None:
        return None
    ycc = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2YCrCb)
    return Moire(luma=_spectral_peakiness(ycc[..., 0]),
                 chroma=max(_spectral_peakiness(ycc[..., 1]), _spectral_peakiness(ycc[..., 2])))


def _grown(box: Box, factor: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    x0 = int(max(0, cx - factor * w / 2))
    y0 = int(max(0, cy - factor * h / 2))
    x1 = int(min(shape[1], cx + factor * w / 2))
    y1 = int(min(shape[0], cy + factor * h / 2))
    return x0, y0, x1, y1


def glare_share(image: np.ndarray, box: Box) -> float:
    """Area of the largest bright colourless blob over the face region, over the face area."""
    x0, y0, x1, y1 = _grown(box, 1.2, image.shape)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return 0.0
    hsv = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2HSV)
    bright = ((hsv[..., 2] >= 240) & (hsv[..., 1] <= 30)).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=8)
    if count <= 1:
        return 0.0
    return float(stats[1:, cv2.CC_STAT_AREA].max()) / float(bright.size)


def tone_floor(image: np.ndarray, box: Box) -> float:
    """Darkest tones of the face region relative to its brightest (2nd / 98th percentile of
    luma): near 0 for a real face in normal light, raised for screens and prints."""
    x0, y0, x1, y1 = _grown(box, 1.3, image.shape)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return 0.0
    luma = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    low, high = np.percentile(luma, (2, 98))
    return float(low / max(high, 1.0))
