"""Confidence-weighted exponential smoothing of per-frame expression values over media time.

Why: per-frame expression scores flicker (mesh jitter, compression, a half-closed eye); a
reviewer needs the trajectory, not the flicker. Each new value enters an exponential moving
average with weight ``confidence``, and older state decays with the *time* elapsed (not the
number of frames), so a dropped frame or a lower frame rate does not change the time constant::

    decay  = exp(-(t - t_prev) / tau)
    weight = decay * weight + confidence
    value  = value + confidence / weight * (x - value)

The smoothed confidence is the same average of the confidences: it falls when recent frames
were poor or missing and recovers as good frames arrive.
"""

from __future__ import annotations

import math

import numpy as np


class ExpressionSmoother:
    """One per stream; ``update`` returns the smoothed vector and its confidence."""

    def __init__(self, tau_s: float = 0.4) -> None:
        if tau_s <= 0:
            raise ValueError("tau_s must be > 0")
        self.tau_s = tau_s
        self.reset()

    def reset(self) -> None:
        self._value: np.ndarray | None = None
        self._weight = 0.0
        self._confidence = 0.0
        self._t: float | None = None

    def _decay(self, t: float) -> float:
        if self._t is None:
            return 0.0
        return math.exp(-max(0.0, t - self._t) / self.tau_s)

    def update(self, t: float, values: np.ndarray, confidence: float) -> tuple[np.ndarray, float]:
        values = np.asarray(values, dtype=np.float64)
        confidence = float(min(max(confidence, 0.0), 1.0))
        decay = self._decay(t)
        self._confidence = decay * self._confidence + (1.0 - decay) * confidence
        if self._t is None:
            self._confidence = confidence
        self._t = t
        self._weight = decay * self._weight + confidence
        if self._value is None or self._value.shape != values.shape:
            self._value = values.copy()
        elif self._weight > 1e-12:
            self._value = self._value + (confidence / self._weight) * (values - self._value)
        return self._value.copy(), self._confidence

    def miss(self, t: float) -> float:
        """A frame without a face: nothing to average, the confidence decays."""
        decay = self._decay(t)
        self._confidence *= decay
        self._weight *= decay
        self._t = t if self._t is not None else None
        return self._confidence
