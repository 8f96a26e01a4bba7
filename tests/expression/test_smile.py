"""Smile fusion (blendshapes + fer + face-api in log-odds) and its place in the 7-class
distribution."""

from __future__ import annotations

import numpy as np
import pytest

from verification.expression.smile import (
    HAPPY,
    fuse_expression,
    smile_log_odds,
    smile_probability,
)
from verification.face.expression import LABELS


# Typical London-set readings: on neutral portraits fer's happy is ~1e-3 and face-api's ~1e-5
# (median), mouthSmile ~0.00-0.03; on smiling ones face-api's happy is ~0.97.
def test_clear_smile_and_clear_neutral():
    assert smile_probability(0.85, 0.9, 0.95) > 0.95
    assert smile_probability(0.01, 0.001, 1e-5) < 0.2


def test_closed_mouth_smile_that_fer_misses_is_carried_by_the_other_experts():
    # fer: "neutral" (happy 0.001); the lip corners clearly pulled and face-api sees a smile
    assert smile_probability(0.7, 0.001, 0.6) > 0.5


def test_resting_mouth_alone_is_not_a_smile():
    # a resting mouthSmile of 0.3 with both networks reading neutral
    assert smile_probability(0.3, 0.001, 1e-5) < 0.5


def test_monotone_in_every_expert():
    grid = np.linspace(0.01, 0.99, 9)
    for a in grid:
        for b in grid[::4]:
            by_blendshape = [smile_log_odds(s, a, b) for s in grid]
            by_fer = [smile_log_odds(a, s, b) for s in grid]
            by_faceapi = [smile_log_odds(a, b, s) for s in grid]
            for values in (by_blendshape, by_fer, by_faceapi):
                assert np.all(np.diff(values) > 0)


def test_fused_distribution_keeps_the_other_classes_shares():
    fer = np.array([0.1, 0.0, 0.1, 0.05, 0.15, 0.1, 0.5])
    fused = fuse_expression(fer, mouth_smile=0.9, faceapi_happy=0.8)
    assert fused.sum() == pytest.approx(1.0)
    assert fused[HAPPY] == pytest.approx(smile_probability(0.9, 0.05, 0.8))
    rest = np.delete(fused, HAPPY)
    expected = np.delete(fer, HAPPY) / np.delete(fer, HAPPY).sum()
    assert rest / rest.sum() == pytest.approx(expected)
    assert LABELS[int(np.argmax(fused))] == "happy"


def test_wrong_shape_is_refused():
    with pytest.raises(ValueError):
        fuse_expression(np.ones(5) / 5, 0.2, 0.5)
