"""Transient flow: brief movements kept, drifts and lasting changes removed; rigid motion out."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from verification.expression.flow import (
    make_flow,
    remove_affine,
    strain_magnitude,
    transient,
)


def field(value: tuple[float, float], shape: tuple[int, int] = (8, 8)) -> np.ndarray:
    out = np.zeros((*shape, 2), np.float32)
    out[...] = value
    return out


def test_brief_movement_is_kept():
    magnitude, common = transient(field((0.0, 2.0)), field((0.0, 2.0)))
    assert magnitude == pytest.approx(np.full((8, 8), 2.0))
    assert common[0, 0] == pytest.approx([0.0, 2.0])


def test_drift_and_lasting_change_are_removed():
    drift, _ = transient(field((1.0, 0.0)), field((-1.0, 0.0)))
    onset, _ = transient(field((0.0, 2.0)), field((0.0, 0.0)))
    assert np.all(drift == 0.0)
    assert np.all(onset == 0.0)


def test_affine_motion_of_the_rigid_skin_is_subtracted_everywhere():
    h, w = 128, 128
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    flow = np.stack([0.01 * xs - 0.02 * ys + 0.5, 0.015 * ys + 0.01 * xs - 0.3], axis=2)
    mask = np.zeros((h, w), bool)
    mask[:30, :] = True  # the "forehead"
    corrected, rms = remove_affine(flow.astype(np.float32), mask)
    assert np.abs(corrected).max() < 1e-3
    assert rms > 0.3


def test_strain_is_zero_for_translation_and_positive_for_stretch():
    assert np.allclose(strain_magnitude(field((3.0, -1.0), (16, 16))), 0.0)
    xs = np.mgrid[0:16, 0:16][1].astype(np.float32)
    stretch = np.stack([0.1 * xs, np.zeros_like(xs)], axis=2)
    assert strain_magnitude(stretch)[8, 8] == pytest.approx(0.1)


def test_dis_flow_follows_a_shifted_texture():
    rng = np.random.default_rng(1)
    texture = cv2.GaussianBlur((rng.random((128, 128)) * 255).astype(np.uint8), (7, 7), 2)
    moved = np.roll(texture, 2, axis=1)
    flow = make_flow().calc(texture, moved, None)
    assert np.median(flow[20:108, 20:108, 0]) == pytest.approx(2.0, abs=0.2)
    with pytest.raises(ValueError):
        make_flow("slowest")
