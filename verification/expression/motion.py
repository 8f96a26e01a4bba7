"""Turns the stream of face chips into :class:`~verification.expression.spotting.MotionSample`s.

Why: the transient-flow measure of a centre frame needs the frames ``k`` seconds before and
after it (``k`` = half the longest micro-expression), so samples come out ``k`` seconds late.
This keeps a short, bounded window of recent chips; when a new frame arrives, the frame ``k``
seconds older becomes a centre if frames near ``k`` before it and the new one near ``k`` after
it exist (frames dropped by the live pipeline just make gaps: no comparison across a gap, no
comparison across frames without a face).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from verification.expression.flow import chip_motion, make_flow
from verification.expression.regions import REGION_NAMES, FaceChip
from verification.expression.spotting import MotionSample
from verification.face.blendshapes import BLENDSHAPE_NAMES

_BLINK = (BLENDSHAPE_NAMES.index("eyeBlinkLeft"), BLENDSHAPE_NAMES.index("eyeBlinkRight"))


@dataclass(frozen=True, eq=False)
class _Entry:
    chip: FaceChip
    blendshapes: np.ndarray  # (52,)
    expression: np.ndarray  # (7,)


class MotionSampler:
    """Per-stream; call :meth:`push` for every analysed frame with a face, :meth:`gap` without."""

    def __init__(self, half_interval_s: float, tolerance: float = 0.4,
                 flow_preset: str = "medium") -> None:
        if half_interval_s <= 0:
            raise ValueError("half_interval_s must be > 0")
        self.k = half_interval_s
        self.tolerance = tolerance * half_interval_s
        self._engine = make_flow(flow_preset)
        self._window: deque[_Entry] = deque(maxlen=512)
        self._last_centre: float | None = None

    def gap(self) -> None:
        """No face in this frame: never compare across it."""
        self._window.clear()

    def _nearest(self, t: float) -> _Entry | None:
        best = min(self._window, key=lambda e: abs(e.chip.pts - t), default=None)
        if best is None or abs(best.chip.pts - t) > self.tolerance:
            return None
        return best

    def push(self, chip: FaceChip, blendshapes: np.ndarray,
             expression: np.ndarray) -> MotionSample | None:
        entry = _Entry(chip, np.asarray(blendshapes, np.float64),
                       np.asarray(expression, np.float64))
        if self._window and chip.pts <= self._window[-1].chip.pts:
            self._window.clear()  # time went backwards: a new recording or a reset
        self._window.append(entry)
        horizon = 2 * self.k + 2 * self.tolerance
        while self._window and chip.pts - self._window[0].chip.pts > horizon:
            self._window.popleft()
        centre = self._nearest(chip.pts - self.k)
        if centre is None or centre is entry:
            return None
        if self._last_centre is not None and centre.chip.pts <= self._last_centre:
            return None
        before = self._nearest(centre.chip.pts - self.k)
        if before is None or before is centre:
            return None
        self._last_centre = centre.chip.pts
        motion = chip_motion(self._engine, before.chip, centre.chip, entry.chip)
        amplitude = np.array([motion.regions[r].amplitude for r in REGION_NAMES])
        direction = np.array([motion.regions[r].direction for r in REGION_NAMES])
        strain = np.array([motion.regions[r].strain for r in REGION_NAMES])
        bs_rise = np.minimum(centre.blendshapes - before.blendshapes,
                             centre.blendshapes - entry.blendshapes)
        ex_rise = np.minimum(centre.expression - before.expression,
                             centre.expression - entry.expression)
        blink = float(max(bs_rise[_BLINK[0]], bs_rise[_BLINK[1]]))
        f32 = np.float32  # a session keeps one sample per frame: store them compactly
        return MotionSample(pts=centre.chip.pts, amplitude=amplitude.astype(f32),
                            direction=direction.astype(f32), strain=strain.astype(f32),
                            rigid_residual=motion.rigid_residual,
                            blendshape_rise=bs_rise.astype(f32),
                            expression_rise=ex_rise.astype(f32), blink_rise=blink,
                            iod_px=centre.chip.source_iod_px)
