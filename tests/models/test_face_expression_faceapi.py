"""face-api's FaceExpressionNet (ONNX built from its weights): golden outputs, framing, labels.

Media: tests/data/faces_id (London Set portraits 097 and 107, neutral and smiling; see
tests/data/LICENSES.md) with their MediaPipe mesh landmarks in ``mesh_landmarks.npz`` (measured
by the face stage at conversion time). Golden data (models/convert/faceapi_expression.py):
face-api's own code on tfjs's CPU backend, for the four portraits cut by this adapter's code.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from verification.errors import InvalidInputError
from verification.face.expression import LABELS, ExpressionScores
from verification.face.expression_faceapi import (
    FACEAPI_LABELS,
    INPUT_SIZE,
    FaceApiExpressionClassifier,
    faceapi_crop,
)
from verification.runtime import ModelRegistry
from verification.runtime.golden import check_golden, load_golden

REPO = Path(__file__).resolve().parents[2]
FACES = REPO / "tests" / "data" / "faces_id"
NAME = "face_expression_faceapi"


def read_rgb(name: str) -> np.ndarray:
    image = cv2.imread(str(FACES / name), cv2.IMREAD_COLOR)
    assert image is not None, name
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def stored() -> dict[str, np.ndarray]:
    data = np.load(FACES / "mesh_landmarks.npz")
    return {str(name): landmarks for name, landmarks in zip(data["names"], data["landmarks"],
                                                            strict=True)}


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    return ModelRegistry.from_manifest()


@pytest.fixture(scope="module")
def classifier(registry: ModelRegistry) -> FaceApiExpressionClassifier:
    adapter = registry.adapter(NAME)
    assert isinstance(adapter, FaceApiExpressionClassifier)
    return adapter


def test_golden(registry: ModelRegistry) -> None:
    check = check_golden(registry.load(NAME))
    assert check.ok, check.detail


def test_labels_match_manifest(registry: ModelRegistry) -> None:
    assert tuple(registry.load(NAME).spec.extra["labels"]) == FACEAPI_LABELS


def test_adapter_crop_reproduces_golden_inputs(registry: ModelRegistry, stored) -> None:
    inputs, _ = load_golden(registry.load(NAME).spec.golden.file)
    assert len(inputs["face"]) == len(stored)
    for (name, landmarks), expected in zip(stored.items(), inputs["face"], strict=True):
        crop = faceapi_crop(read_rgb(name), landmarks)
        assert crop.shape == (INPUT_SIZE, INPUT_SIZE, 3) and crop.dtype == np.uint8
        np.testing.assert_array_equal(crop.astype(np.float32), expected)


def test_probabilities_come_back_in_fer_label_order(
        registry: ModelRegistry, classifier: FaceApiExpressionClassifier) -> None:
    inputs, outputs = load_golden(registry.load(NAME).spec.golden.file)
    crops = [face.astype(np.uint8) for face in inputs["face"]]
    for scores, raw in zip(classifier.classify_many(crops), outputs["probabilities"], strict=True):
        for label, value in zip(FACEAPI_LABELS, raw, strict=True):
            fer_name = {"fearful": "fear", "disgusted": "disgust",
                        "surprised": "surprise"}.get(label, label)
            assert getattr(scores, fer_name) == pytest.approx(float(value), abs=1e-4)
        assert sum(scores.probabilities) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("ident", ["097", "107"])
def test_smiling_is_happy_neutral_is_not(classifier: FaceApiExpressionClassifier, stored,
                                         ident: str) -> None:
    smiling = classifier.classify_landmarks(read_rgb(f"{ident}_smiling.jpg"),
                                            stored[f"{ident}_smiling.jpg"])
    neutral = classifier.classify_landmarks(read_rgb(f"{ident}_neutral.jpg"),
                                            stored[f"{ident}_neutral.jpg"])
    assert isinstance(smiling, ExpressionScores)
    assert smiling.top == "happy" and smiling.happy > 0.9
    assert neutral.top == "neutral" and neutral.happy < 0.1


def test_mirror_average(classifier: FaceApiExpressionClassifier, stored) -> None:
    name = "107_neutral.jpg"
    crop = faceapi_crop(read_rgb(name), stored[name])
    views = classifier.classify_many([crop, np.ascontiguousarray(crop[:, ::-1])])
    both = classifier.classify_landmarks(read_rgb(name), stored[name])
    expected = (np.array(views[0].probabilities) + np.array(views[1].probabilities)) / 2
    np.testing.assert_allclose(both.probabilities, expected, atol=1e-6)
    assert len(both.probabilities) == len(LABELS)


def test_a_tilted_head_is_framed_like_an_upright_one(stored) -> None:
    """The box is taken in the eye-line frame: rotating the frame (and its landmarks) by 20
    degrees gives the same crop, up to resampling."""
    name = "107_smiling.jpg"
    image, landmarks = read_rgb(name), stored[name]
    height, width = image.shape[:2]
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), 20.0, 1.0)
    tilted = cv2.warpAffine(image, rotation, (width, height), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    moved = np.c_[landmarks[:, :2] @ rotation[:, :2].T + rotation[:, 2], landmarks[:, 2]]
    upright = faceapi_crop(image, landmarks).astype(np.float64)
    again = faceapi_crop(tilted, moved).astype(np.float64)
    inner = slice(8, INPUT_SIZE - 8)
    assert np.abs(upright[inner, inner] - again[inner, inner]).mean() < 6.0


def test_the_box_is_black_padded_to_a_square(stored) -> None:
    name = "097_neutral.jpg"
    crop = faceapi_crop(read_rgb(name), stored[name])
    rows_lit = np.flatnonzero(crop.max(axis=(1, 2)) > 0)
    cols_lit = np.flatnonzero(crop.max(axis=(0, 2)) > 0)
    # one side spans the whole square, the other is centred in it
    assert (rows_lit[0], rows_lit[-1]) == (0, INPUT_SIZE - 1) or \
        (cols_lit[0], cols_lit[-1]) == (0, INPUT_SIZE - 1)
    assert abs(rows_lit[0] - (INPUT_SIZE - 1 - rows_lit[-1])) <= 1
    assert abs(cols_lit[0] - (INPUT_SIZE - 1 - cols_lit[-1])) <= 1


def test_bad_input_is_refused(classifier: FaceApiExpressionClassifier, stored) -> None:
    image = read_rgb("097_neutral.jpg")
    with pytest.raises(InvalidInputError):
        faceapi_crop(image, np.zeros((5, 2)))
    with pytest.raises(InvalidInputError):
        faceapi_crop(image, np.zeros((478, 3)))  # every point in one place
    with pytest.raises(InvalidInputError):
        faceapi_crop(image.astype(np.float32), stored["097_neutral.jpg"])
    with pytest.raises(InvalidInputError):
        classifier.classify_many([np.zeros((64, 64, 3), np.uint8)])
    assert classifier.classify_many([]) == []
