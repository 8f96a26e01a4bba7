"""Shared fixtures for the background-check tests: real photos, people, interview composites.

Composites are made at test time from the committed photos (tests/data/scenes) and London Set
portraits (tests/data/faces) with the helpers the evaluation uses
(``benchmarks/scene_composites.py``). Model-free tests use hand-made person masks.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.scene_composites import Camera, CutPerson, composite, cut_person, expose, film

DATA = Path(__file__).resolve().parents[1] / "data"
SCENES = DATA / "scenes"
FACES = DATA / "faces"


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="session")
def desk() -> np.ndarray:
    return read_rgb(SCENES / "office_desk_tum_fr1.jpg")


@pytest.fixture(scope="session")
def desk_moved() -> np.ndarray:
    return read_rgb(SCENES / "office_desk_tum_fr1_b.jpg")


@pytest.fixture(scope="session")
def corridor() -> np.ndarray:
    return read_rgb(SCENES / "two_people_basketball.png")


@pytest.fixture(scope="session")
def garage() -> np.ndarray:
    return read_rgb(SCENES / "garage_motorcycle.jpg")


@pytest.fixture(scope="session")
def registry():
    from verification.runtime import ModelRegistry

    return ModelRegistry.from_manifest(provider="cpu")


@pytest.fixture(scope="session")
def people(registry) -> dict[str, CutPerson]:
    """Three London Set people cut out with the selfie segmenter (the analysis uses Meet)."""
    cutter = registry.adapter("selfie_segmentation")
    return {pid: cut_person(read_rgb(FACES / f"london_{pid}_neutral.jpg"), cutter, pid)
            for pid in ("001", "030", "061")}


def ellipse_person(size: tuple[int, int], centre_x: float = 0.5) -> np.ndarray:
    """A hand-made 'person' probability map: head and shoulders at the bottom of the frame."""
    width, height = size
    mask = np.zeros((height, width), np.float32)
    cx = int(centre_x * width)
    cv2.ellipse(mask, (cx, int(height * 0.45)), (int(width * 0.11), int(height * 0.17)), 0, 0,
                360, 1.0, -1)
    cv2.ellipse(mask, (cx, height), (int(width * 0.3), int(height * 0.3)), 0, 0, 360, 1.0, -1)
    return mask


__all__ = ["Camera", "composite", "ellipse_person", "expose", "film", "read_rgb"]
