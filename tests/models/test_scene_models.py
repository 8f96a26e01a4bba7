"""Scene models on real photos: NanoDet objects, Meet and selfie person segmentation.

Media in tests/data/scenes (see tests/data/LICENSES.md): two people in a corridor (OpenCV sample
data / Middlebury), a TUM RGB-D office desk (CC BY 4.0) and a London Set studio portrait
(CC BY 4.0). Golden ONNX-vs-TF.js checks are in the generic model test; here we check behaviour
and the pure-numpy decoding.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from verification.runtime import ModelRegistry
from verification.runtime.golden import check_golden
from verification.scene.objects import (
    COCO_LABELS,
    INPUT_SIZE,
    REG_BINS,
    NanoDetObjectDetector,
    decode_level,
    nanodet_input,
    nms,
)
from verification.scene.segmentation import PersonSegmenter, foreground_probability

SCENES = Path(__file__).resolve().parents[2] / "tests" / "data" / "scenes"
# Hand-checked on the image: eyes, nose and mouth (480x480 portrait), x1, y1, x2, y2.
PORTRAIT_FACE_BOX = (180, 160, 300, 330)


def read_rgb(name: str) -> np.ndarray:
    image = cv2.imread(str(SCENES / name), cv2.IMREAD_COLOR)
    assert image is not None, name
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    return ModelRegistry.from_manifest()


@pytest.fixture(scope="module")
def detector(registry) -> NanoDetObjectDetector:
    return registry.adapter("scene_objects")


SCENE_MODELS = ("scene_objects", "person_segmentation", "selfie_segmentation")


@pytest.mark.parametrize("name", SCENE_MODELS)
def test_onnx_matches_tfjs_golden(registry, name) -> None:
    check = check_golden(registry.load(name))
    assert check.ok, check.detail


# ----------------------------------------------------------------------------- NanoDet


def test_labels_are_coco80() -> None:
    assert len(COCO_LABELS) == 80 and len(set(COCO_LABELS)) == 80
    assert COCO_LABELS[0] == "person" and COCO_LABELS[62] == "tv"
    assert COCO_LABELS[67] == "cell phone"


def test_letterbox_keeps_aspect_and_maps_boxes_back() -> None:
    image = np.full((480, 640, 3), 200, np.uint8)
    tensor, box = nanodet_input(image)
    assert tensor.shape == (1, 3, INPUT_SIZE, INPUT_SIZE) and tensor.dtype == np.float32
    assert box.offset_x == 0 and box.offset_y == 52  # 640x480 -> 416x312, centred
    # The black border is black after normalisation, the image area is not.
    assert tensor[0, :, 10, 200].max() < -1.5 and tensor[0, :, 200, 200].min() > 1.0
    corners = box.to_image(np.array([[0.0, 52.0, 416.0, 364.0]], np.float32))
    np.testing.assert_allclose(corners[0], [0, 0, 640, 480], atol=1e-3)


def test_decode_level_places_box_around_cell_centre() -> None:
    grid = INPUT_SIZE // 32
    scores = np.zeros((grid * grid, 80), np.float32)
    cell = 2 * grid + 3  # row 2, col 3 -> centre (112, 80) at stride 32
    scores[cell, 0] = 0.9
    dist = np.full((grid * grid, 4, REG_BINS), -30.0, np.float32)
    dist[cell, :, 2] = 30.0  # every side exactly 2 bins -> 64 px
    boxes, kept_scores, classes = decode_level(scores, dist.reshape(grid * grid, -1), 32, 0.5)
    np.testing.assert_allclose(boxes, [[112 - 64, 80 - 64, 112 + 64, 80 + 64]], atol=1e-3)
    assert kept_scores.tolist() == pytest.approx([0.9]) and classes.tolist() == [0]


def test_nms_drops_overlaps_keeps_separate_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    assert nms(boxes, np.array([0.8, 0.9, 0.5], np.float32), 0.5) == [1, 2]


def test_finds_both_people_in_real_photo(detector) -> None:
    image = read_rgb("two_people_basketball.png")
    result = detector.detect(image)
    people = result.labelled("person")
    assert result.latency_ms > 0
    # Left player stands at about x 30-170, right player at x 420-640 (640x480 frame).
    left = (30.0, 80.0, 170.0, 480.0)
    right = (420.0, 20.0, 640.0, 480.0)
    assert max(iou(p.box_xyxy, left) for p in people) > 0.6
    assert max(iou(p.box_xyxy, right) for p in people) > 0.6
    assert all(p.score >= detector.score_threshold for p in people)


def test_finds_person_in_portrait(detector) -> None:
    image = read_rgb("../faces/london_001_neutral.jpg")
    people = detector.detect(image).labelled("person")
    assert people and people[0].score > 0.7
    x1, y1, x2, y2 = people[0].box_xyxy
    fx1, fy1, fx2, fy2 = PORTRAIT_FACE_BOX
    assert x1 <= fx1 and y1 <= fy1 and x2 >= fx2 and y2 >= fy2  # the face is inside the person


def test_finds_office_objects_and_no_person_on_desk(detector) -> None:
    image = read_rgb("office_desk_tum_fr1.jpg")
    result = detector.detect(image)
    labels = {obj.label for obj in result}
    assert {"keyboard", "tv", "mouse", "cup"} <= labels
    assert "person" not in labels
    keyboard = result.labelled("keyboard")[0]
    monitor = result.labelled("tv")[0]
    # Monitor at about x 240-390, y 95-225; keyboard below it (640x480 frame).
    assert iou(monitor.box_xyxy, (240.0, 95.0, 390.0, 225.0)) > 0.6
    assert keyboard.box_xyxy[1] > monitor.box_xyxy[3] - 10
    for obj in result:
        x1, y1, x2, y2 = obj.box_xyxy
        assert 0 <= x1 < x2 <= image.shape[1] and 0 <= y1 < y2 <= image.shape[0]


# ----------------------------------------------------------------------------- segmentation


def test_two_class_logits_become_softmax_probability() -> None:
    raw = np.array([[[[2.0, -1.0], [-3.0, 1.0]]]], np.float32)  # [1, 1, 2, 2]
    prob = foreground_probability(raw, "two_class_logits", 1)
    expected = np.exp(raw[0, ..., 1]) / np.exp(raw[0]).sum(-1)
    np.testing.assert_allclose(prob, expected, rtol=1e-6)


@pytest.mark.parametrize("name", ["person_segmentation", "selfie_segmentation"])
def test_mask_covers_face_not_background(registry, name) -> None:
    segmenter: PersonSegmenter = registry.adapter(name)
    image = read_rgb("../faces/london_001_neutral.jpg")
    result = segmenter.segment(image)
    mask = result.mask
    assert mask.shape == image.shape[:2] and mask.dtype == np.float32
    assert float(mask.min()) >= 0.0 and float(mask.max()) <= 1.0
    assert result.latency_ms > 0
    x1, y1, x2, y2 = PORTRAIT_FACE_BOX
    assert mask[y1:y2, x1:x2].mean() > 0.9
    assert mask[:60, :60].mean() < 0.1 and mask[:60, -60:].mean() < 0.1
    assert 0.2 < result.coverage < 0.8
