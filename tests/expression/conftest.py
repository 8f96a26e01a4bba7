"""Shared fixtures for the expression tests: one model registry, synthetic motion samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from verification.expression.regions import REGION_NAMES
from verification.expression.spotting import MotionSample
from verification.face.blendshapes import BLENDSHAPE_NAMES
from verification.runtime import ModelRegistry, ThreadBudget

DATA = Path(__file__).resolve().parents[1] / "data"
R = len(REGION_NAMES)


@pytest.fixture(scope="session")
def registry() -> ModelRegistry:
    return ModelRegistry.from_manifest(provider="cpu", budget=ThreadBudget(workers=1))


def quiet_samples(seconds: float = 10.0, fps: float = 25.0, noise: float = 0.001,
                  iod_px: float = 70.0, seed: int = 0) -> list[MotionSample]:
    """Resting-face samples: every region's transient amplitude is small noise."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(int(seconds * fps)):
        out.append(MotionSample(
            pts=i / fps, amplitude=np.abs(rng.normal(0.0, noise, R)),
            direction=np.zeros((R, 2)), strain=np.zeros(R), rigid_residual=0.002,
            blendshape_rise=np.zeros(len(BLENDSHAPE_NAMES)), expression_rise=np.zeros(7),
            blink_rise=0.0, iod_px=iod_px))
    return out


def with_movement(samples: list[MotionSample], start: float, duration: float, region: str,
                  amplitude: float, direction: tuple[float, float] = (0.0, -1.0),
                  blendshapes: dict[str, float] | None = None,
                  blink: float | None = None, rigid: float | None = None) -> list[MotionSample]:
    """Add a sin^2 movement (onset-apex-offset) of ``region`` to the samples in its span."""
    j = REGION_NAMES.index(region)
    out = []
    for s in samples:
        if start <= s.pts <= start + duration:
            level = np.sin(np.pi * (s.pts - start) / duration) ** 2
            amp = s.amplitude.copy()
            amp[j] = max(amp[j], amplitude * level)
            dirs = s.direction.copy()
            dirs[j] = np.array(direction) * amplitude * level
            rise = s.blendshape_rise.copy()
            for name, value in (blendshapes or {}).items():
                rise[BLENDSHAPE_NAMES.index(name)] = value * level
            s = MotionSample(s.pts, amp, dirs, s.strain, s.rigid_residual if rigid is None
                             else rigid, rise, s.expression_rise,
                             s.blink_rise if blink is None else blink * level, s.iod_px)
        out.append(s)
    return out
