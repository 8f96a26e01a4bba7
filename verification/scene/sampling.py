"""When to analyse the background: about once a second, and at once when the scene changes.

Why not every frame: the background of an interview changes rarely, and object detection plus
features cost tens of milliseconds; once a second follows the interview closely enough. But a
cut to another video source must be caught *when* it happens, so every offered frame gets a
cheap look (a 32x24 grey thumbnail, well under a millisecond): the zero-mean, unit-variance
thumbnails of two frames of one scene correlate strongly, while a cut drops the correlation
towards zero. The correlation is taken over the background cells of the last analysed moment,
so the applicant moving does not look like a scene change.

Two signals come out: ``scene_changed`` (the frame differs from the last *analysed* one: analyse
now) and ``abrupt`` (it differs from the *previous frame*: a discontinuity, not a pan). At most
one early analysis is spent between two routine ones, so an applicant who keeps moving cannot
push the cost to several analyses a second; a cut right after it is still caught (the abrupt
frame's time is kept) by the next routine analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

THUMB_SIZE = (32, 24)
SAMPLE_INTERVAL_S = 1.0
MIN_GAP_S = 0.2  # at most five analyses a second, even while the scene keeps changing
CHANGE_CORRELATION = 0.6
ABRUPT_CORRELATION = 0.5
MIN_CELLS = 40


def thumbnail(image_rgb: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(gray, THUMB_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
    return cv2.GaussianBlur(small, (3, 3), 0.8)


def masked_correlation(a: np.ndarray, b: np.ndarray, cells: np.ndarray | None) -> float:
    """Pearson correlation of two thumbnails over ``cells`` (all cells when None or too few)."""
    if cells is None or int(cells.sum()) < MIN_CELLS:
        cells = np.ones(a.shape, bool)
    x, y = a[cells].astype(np.float64), b[cells].astype(np.float64)
    x -= x.mean()
    y -= y.mean()
    denom = float(np.sqrt((x * x).sum() * (y * y).sum()))
    if denom < 1e-6:
        # two flat images: the same if their brightness is close
        return 1.0 if abs(float(a[cells].mean() - b[cells].mean())) < 20.0 else 0.0
    return float((x * y).sum() / denom)


@dataclass(frozen=True)
class SampleDecision:
    analyse: bool
    scene_changed: bool
    abrupt: bool
    correlation_previous: float
    correlation_analysed: float


class SceneSampler:
    """Per-interview cadence gate; call :meth:`look` for every frame, :meth:`analysed` after."""

    def __init__(self, interval_s: float = SAMPLE_INTERVAL_S, min_gap_s: float = MIN_GAP_S) -> None:
        self.interval_s = interval_s
        self.min_gap_s = min_gap_s
        self._previous: np.ndarray | None = None
        self._analysed: np.ndarray | None = None
        self._analysed_pts: float | None = None
        self._cells: np.ndarray | None = None
        self._pending_change = False
        self._early_used = False

    def look(self, image_rgb: np.ndarray, pts: float) -> tuple[SampleDecision, np.ndarray]:
        thumb = thumbnail(image_rgb)
        r_prev = (masked_correlation(thumb, self._previous, self._cells)
                  if self._previous is not None else 1.0)
        r_done = (masked_correlation(thumb, self._analysed, self._cells)
                  if self._analysed is not None else 1.0)
        self._previous = thumb
        abrupt = r_prev < ABRUPT_CORRELATION
        changed = r_done < CHANGE_CORRELATION
        self._pending_change = self._pending_change or changed
        if self._analysed_pts is None:
            analyse = True
        else:
            since = pts - self._analysed_pts
            routine = since >= self.interval_s
            early = (not routine and self._pending_change and not self._early_used
                     and since >= self.min_gap_s)
            if routine:
                self._early_used = False
            elif early:
                self._early_used = True
            analyse = routine or early
        return SampleDecision(analyse, changed, abrupt, r_prev, r_done), thumb

    def analysed(self, thumb: np.ndarray, pts: float, background: np.ndarray | None) -> None:
        """Record the analysed frame and its background mask (any size; resized to cells)."""
        self._analysed = thumb
        self._analysed_pts = pts
        self._pending_change = False
        if background is not None:
            share = cv2.resize(background.astype(np.float32), THUMB_SIZE,
                               interpolation=cv2.INTER_AREA)
            self._cells = share > 0.9  # cells (nearly) free of the applicant
