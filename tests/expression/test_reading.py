"""Per-frame expression reading on real portraits: both networks run, the smile is fused.

Media: tests/data/faces_id (London Set 097 and 107, neutral and smiling; tests/data/LICENSES.md).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from verification.expression.reading import ExpressionModels, mouth_smile, read_expression
from verification.expression.smile import smile_log_odds
from verification.face.expression import LABELS
from verification.face.observation import FaceTracker

from .conftest import DATA

HAPPY = LABELS.index("happy")


@pytest.fixture(scope="module")
def models(registry) -> ExpressionModels:
    return ExpressionModels.from_registry(registry)


@pytest.fixture(scope="module")
def tracker(registry) -> FaceTracker:
    return FaceTracker.from_registry(registry, with_encoder=False)


def _reading(models: ExpressionModels, tracker: FaceTracker, name: str):
    image = cv2.cvtColor(cv2.imread(str(DATA / "faces_id" / name)), cv2.COLOR_BGR2RGB)
    tracker.reset()
    tracker.observe(image, 0.0)
    return read_expression(models, image, tracker.observe(image, 0.04))


@pytest.mark.parametrize("ident", ["097", "107"])
def test_smiling_and_neutral_portraits(models, tracker, ident: str) -> None:
    smiling = _reading(models, tracker, f"{ident}_smiling.jpg")
    neutral = _reading(models, tracker, f"{ident}_neutral.jpg")
    assert smiling is not None and neutral is not None
    assert smiling.smile > 0.9 and smiling.top == "happy"
    assert neutral.smile < 0.5 and neutral.top != "happy"
    assert smiling.smile_log_odds > neutral.smile_log_odds


def test_reading_carries_both_networks_and_the_fusion(models, tracker) -> None:
    reading = _reading(models, tracker, "107_smiling.jpg")
    assert reading.fer.shape == reading.faceapi.shape == (len(LABELS),)
    assert reading.fer.sum() == pytest.approx(1.0, abs=1e-4)
    assert reading.faceapi.sum() == pytest.approx(1.0, abs=1e-4)
    assert reading.probabilities.sum() == pytest.approx(1.0)
    expected = smile_log_odds(mouth_smile(reading.blendshapes), float(reading.fer[HAPPY]),
                              float(reading.faceapi[HAPPY]))
    assert reading.smile_log_odds == pytest.approx(expected)
    assert reading.smile == pytest.approx(1.0 / (1.0 + np.exp(-expected)))
    assert reading.latency_ms > 0.0


def test_no_face_gives_no_reading(models, tracker) -> None:
    blank = np.full((240, 320, 3), 128, np.uint8)
    tracker.reset()
    assert read_expression(models, blank, tracker.observe(blank, 0.0)) is None
