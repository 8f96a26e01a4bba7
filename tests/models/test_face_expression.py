"""fer mini-Xception expression classifier (ONNX): golden outputs and smiling vs neutral.

Media: tests/data/faces_id (London Set portraits 097 and 107, neutral and smiling; see
tests/data/LICENSES.md) with the five alignment points in ``points.json`` (MediaPipe
FaceLandmarker at conversion time). Golden data (models/convert/fer_expression.py): Keras'
own softmax for 107_smiling and 097_neutral, preprocessed by this adapter's code.

Many London "smiling" portraits are closed-mouth smiles that fer's model calls neutral (it
labels 24-25 of 69 as happy, with fer's own Haar framing or with ours); these two smile clearly.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from verification.errors import InvalidInputError
from verification.face.alignment import BlazeFacePoints, FivePoints
from verification.face.expression import (
    INPUT_SIZE,
    LABELS,
    ExpressionClassifier,
    ExpressionScores,
    fer_crop,
    preprocess_face,
)
from verification.runtime import ModelRegistry
from verification.runtime.golden import check_golden, load_golden

REPO = Path(__file__).resolve().parents[2]
FACES = REPO / "tests" / "data" / "faces_id"
GOLDEN_FACES = ("107_smiling.jpg", "097_neutral.jpg")  # order of the golden batch


def read_rgb(name: str) -> np.ndarray:
    image = cv2.imread(str(FACES / name), cv2.IMREAD_COLOR)
    assert image is not None, name
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def fixture(name: str) -> dict:
    return json.loads((FACES / "points.json").read_text())["faces"][name]


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    return ModelRegistry.from_manifest()


@pytest.fixture(scope="module")
def classifier(registry: ModelRegistry) -> ExpressionClassifier:
    adapter = registry.adapter("face_expression")
    assert isinstance(adapter, ExpressionClassifier)
    return adapter


def test_golden(registry: ModelRegistry) -> None:
    check = check_golden(registry.load("face_expression"))
    assert check.ok, check.detail


def test_labels_match_manifest(registry: ModelRegistry) -> None:
    assert tuple(registry.load("face_expression").spec.extra["labels"]) == LABELS


def test_adapter_preprocessing_reproduces_golden_inputs(registry: ModelRegistry) -> None:
    inputs, _ = load_golden(registry.load("face_expression").spec.golden.file)
    for name, expected in zip(GOLDEN_FACES, inputs["face"], strict=True):
        points = FivePoints(np.array(fixture(name)["five_points"]))
        tensor = preprocess_face(fer_crop(read_rgb(name), points))
        assert tensor.shape == (INPUT_SIZE, INPUT_SIZE, 1) and tensor.dtype == np.float32
        np.testing.assert_allclose(tensor, expected, atol=1e-6)


@pytest.mark.parametrize("ident", ["097", "107"])
def test_smiling_is_happy_neutral_is_not(classifier: ExpressionClassifier, ident: str) -> None:
    smiling_name, neutral_name = f"{ident}_smiling.jpg", f"{ident}_neutral.jpg"
    smiling = classifier.classify_aligned(read_rgb(smiling_name),
                                          FivePoints(np.array(fixture(smiling_name)["five_points"])))
    neutral = classifier.classify_aligned(read_rgb(neutral_name),
                                          FivePoints(np.array(fixture(neutral_name)["five_points"])))
    assert isinstance(smiling, ExpressionScores)
    assert smiling.top == "happy" and smiling.happy > 0.5
    assert neutral.top != "happy" and neutral.happy < 0.1
    assert neutral.top == "neutral"
    assert sum(smiling.probabilities) == pytest.approx(1.0, abs=1e-4)
    assert smiling.latency_ms > 0


def test_blazeface_keypoints_and_batch(registry: ModelRegistry,
                                      classifier: ExpressionClassifier) -> None:
    """The detector's keypoints frame the crop too; a batch gives the same answers."""
    detector = registry.adapter("face_detector")
    crops = []
    for name in ("107_smiling.jpg", "107_neutral.jpg"):
        image = read_rgb(name)
        points = BlazeFacePoints.from_keypoints(detector.detect(image)[0].keypoints)
        crops.append(fer_crop(image, points))
    smiling, neutral = classifier.classify_many(crops)
    assert smiling.top == "happy"
    assert neutral.top != "happy"
    alone = classifier.classify(crops[0])
    np.testing.assert_allclose(alone.probabilities, smiling.probabilities, atol=1e-5)


def test_plain_box_crop(classifier: ExpressionClassifier) -> None:
    """A caller-made crop (the mesh bounding box, squared) also reads the smile."""
    results = {}
    for name in ("097_smiling.jpg", "097_neutral.jpg"):
        x, y, w, h = fixture(name)["face_box_xywh"]
        side = max(w, h)
        cx, cy = x + w / 2, y + h / 2
        x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
        crop = read_rgb(name)[max(0, y0):y0 + int(side), max(0, x0):x0 + int(side)]
        results[name] = classifier.classify(crop)
    assert results["097_smiling.jpg"].top == "happy"
    assert results["097_neutral.jpg"].top != "happy"


def test_invalid_crop_is_rejected(classifier: ExpressionClassifier) -> None:
    with pytest.raises(InvalidInputError):
        classifier.classify(np.zeros((64, 64), np.uint8))
    assert classifier.classify_many([]) == []


def test_aligned_classification_averages_the_crop_and_its_mirror(
        classifier: ExpressionClassifier) -> None:
    """The live path classifies fer's crop and its mirror image and averages them: the answer
    is the mean of the two views, the same for a mirrored face, and still a distribution."""
    name = "097_smiling.jpg"
    image = read_rgb(name)
    points = FivePoints(np.array(fixture(name)["five_points"]))
    crop = fer_crop(image, points)
    mirror = np.ascontiguousarray(crop[:, ::-1])
    averaged = classifier.classify_aligned(image, points)
    one, other = classifier.classify(crop), classifier.classify(mirror)
    assert not np.allclose(one.probabilities, other.probabilities, atol=1e-4)  # views differ
    expected = (np.array(one.probabilities) + np.array(other.probabilities)) / 2
    np.testing.assert_allclose(averaged.probabilities, expected, atol=1e-5)
    np.testing.assert_allclose(classifier.classify_mirrored(mirror).probabilities,
                               averaged.probabilities, atol=1e-5)
    assert sum(averaged.probabilities) == pytest.approx(1.0, abs=1e-4)
    assert averaged.top == "happy" and averaged.latency_ms > 0
    with pytest.raises(InvalidInputError):
        classifier.classify_mirrored(np.zeros((64, 64), np.uint8))
