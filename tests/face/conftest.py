"""Shared fixtures for the face tests: one model registry, real media from tests/data."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from verification.runtime import ModelRegistry, ThreadBudget
from verification.video.images import load_image

DATA = Path(__file__).resolve().parents[1] / "data"
CLIP = DATA / "video" / "bbaf2n.mpg"


@pytest.fixture(scope="session")
def registry() -> ModelRegistry:
    return ModelRegistry.from_manifest(provider="cpu", budget=ThreadBudget(workers=1))


def image(name: str) -> np.ndarray:
    """An RGB image from tests/data (path relative to it)."""
    return load_image(DATA / name)


def face_crop(rgb: np.ndarray, side: int = 300) -> np.ndarray:
    """The centre of a 480-px London portrait (the face with some margin)."""
    h, w = rgb.shape[:2]
    y0, x0 = (h - side) // 2 + 20, (w - side) // 2
    return np.ascontiguousarray(rgb[y0:y0 + side, x0:x0 + side])


def two_faces() -> np.ndarray:
    """Two different people side by side (London 097 and 107), 600x300."""
    left = face_crop(image("faces_id/097_neutral.jpg"))
    right = face_crop(image("faces_id/107_neutral.jpg"))
    return np.ascontiguousarray(np.concatenate([left, right], axis=1))


def darker(rgb: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def rotate(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the centre, counter-clockwise on screen for positive degrees."""
    h, w = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(rgb, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
