"""Fixtures shared by the liveness tests that run the face stage on real media."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import liveness_attacks as la
from verification.face.observation import FaceTracker
from verification.runtime import ModelRegistry, ThreadBudget

DATA = Path(__file__).resolve().parents[1] / "data"
FPS = 5.0  # frames analysed per second, as `verification analyze` does


@pytest.fixture(scope="module")
def tracker() -> FaceTracker:
    registry = ModelRegistry.from_manifest(provider="cpu", budget=ThreadBudget(1, 1))
    return FaceTracker.from_registry(registry, with_encoder=False)


@pytest.fixture(scope="module")
def grid() -> tuple[list[np.ndarray], np.ndarray | None]:
    """A real GRID speaker talking for 3 s (CC BY 4.0), at FPS, and its audio."""
    frames, audio, fps = la.read_clip(DATA / "video" / "bbaf2n.mpg")
    step = int(round(fps / FPS))
    return frames[::step], audio
