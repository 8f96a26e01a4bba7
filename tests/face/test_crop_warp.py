"""The fast RGBA crop warp (verification.face.detector.warp_rotated_rect_rgbx) cuts exactly
the pixels of the plain RGB warp the mesh step was validated with, wherever the rectangle
lies (inside, across the image edge, outside), whatever stale data its scratch buffer holds."""

from __future__ import annotations

import cv2
import numpy as np

from verification.face.detector import warp_rotated_rect, warp_rotated_rect_rgbx
from verification.face.mesh import FaceRoi, preprocess


def _image(rng: np.random.Generator, height: int = 180, width: int = 240) -> np.ndarray:
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return cv2.GaussianBlur(image, (5, 5), 0)  # smooth, like a photo, so bilinear mixes matter


def test_rgba_warp_equals_the_rgb_warp_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    image = _image(rng)
    scratch = np.full((180, 240, 4), 123, dtype=np.uint8)  # stale data must not leak in
    for _ in range(60):
        center = (float(rng.uniform(-40, 280)), float(rng.uniform(-40, 220)))
        size = (float(rng.uniform(20, 260)), float(rng.uniform(20, 260)))
        rotation = float(rng.uniform(-np.pi, np.pi))
        want = warp_rotated_rect(image, center, size, rotation, 64, cv2.BORDER_REPLICATE)
        got = warp_rotated_rect_rgbx(image, center, size, rotation, 64, cv2.BORDER_REPLICATE,
                                     scratch)
        assert got.shape == (64, 64, 4)
        np.testing.assert_array_equal(got[:, :, :3], want)


def test_mesh_input_is_the_same_in_either_layout() -> None:
    image = _image(np.random.default_rng(8))
    roi = FaceRoi(130.0, 80.0, 150.0, 150.0, 0.3, (240, 180))
    nhwc = preprocess(image, roi)
    nchw = preprocess(image, roi, channels_first=True)
    assert nhwc.shape == (1, 256, 256, 3) and nchw.shape == (1, 3, 256, 256)
    np.testing.assert_array_equal(nchw[0], nhwc[0].transpose(2, 0, 1))
    crop = warp_rotated_rect(image, roi.center, (roi.width, roi.height), roi.rotation, 256,
                             cv2.BORDER_REPLICATE)
    np.testing.assert_array_equal(nhwc[0], crop * np.float32(1.0 / 255.0))
