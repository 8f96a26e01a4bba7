"""Smile fusion (fer + blendshapes in log-odds) and its place in the 7-class distribution."""

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


def test_clear_smile_and_clear_neutral():
    assert smile_probability(0.85, 0.9) > 0.95
    assert smile_probability(0.01, 0.001) < 0.2


def test_closed_mouth_smile_that_fer_misses_is_carried_by_the_blendshapes():
    # fer: "neutral" (happy 0.001); the lip corners clearly pulled
    assert smile_probability(0.7, 0.001) > 0.5


def test_monotone_in_both_experts():
    grid = np.linspace(0.01, 0.99, 9)
    for fer in grid:
        values = [smile_log_odds(s, fer) for s in grid]
        assert np.all(np.diff(values) > 0)
    for s in grid:
        values = [smile_log_odds(s, fer) for fer in grid]
        assert np.all(np.diff(values) > 0)


def test_fused_distribution_keeps_the_other_classes_shares():
    fer = np.array([0.1, 0.0, 0.1, 0.05, 0.15, 0.1, 0.5])
    fused = fuse_expression(fer, mouth_smile=0.9)
    assert fused.sum() == pytest.approx(1.0)
    assert fused[HAPPY] == pytest.approx(smile_probability(0.9, 0.05))
    rest = np.delete(fused, HAPPY)
    expected = np.delete(fer, HAPPY) / np.delete(fer, HAPPY).sum()
    assert rest / rest.sum() == pytest.approx(expected)
    assert LABELS[int(np.argmax(fused))] == "happy"


def test_wrong_shape_is_refused():
    with pytest.raises(ValueError):
        fuse_expression(np.ones(5) / 5, 0.2)
