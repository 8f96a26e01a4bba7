"""MediaPipe face pipeline in ONNX: BlazeFace detector -> 478-point mesh -> 52 blendshapes.

Media in tests/data/faces (see tests/data/LICENSES.md): London Set studio portraits (neutral and
smiling, three people), a CC0 webcam frame (600x800, exercises the letterbox), and two
face-free scenes. ``tests/data/golden/face_tasks_api.npz`` holds the MediaPipe Tasks API
FaceLandmarker's own output (mediapipe 1.2.3, IMAGE mode, the same ``face_landmarker.task``)
for two of these images, written by ``models/convert/check_mediapipe_tasks.py``.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from verification.face.blendshapes import (
    BLENDSHAPE_NAMES,
    LANDMARK_SUBSET,
    BlendshapeScores,
    FaceBlendshapes,
)
from verification.face.detector import (
    BlazeFaceDetector,
    FaceDetection,
    generate_anchors,
    preprocess,
    weighted_nms,
)
from verification.face.mesh import FaceMesh, FaceRoi, roi_from_detection
from verification.runtime import ModelRegistry
from verification.runtime.golden import check_golden

REPO = Path(__file__).resolve().parents[2]
FACES = REPO / "tests" / "data" / "faces"
TASKS_GOLDEN = REPO / "tests" / "data" / "golden" / "face_tasks_api.npz"
PORTRAITS = ("001", "030", "061")

# Tolerances against the Tasks API. Over 26 real images (models/convert/check_mediapipe_tasks.py)
# the worst per-image mean landmark error was 0.11 px, the worst single point 0.31 px, z 0.35 px
# and the worst blendshape 0.024. What remains is float32 rounding (XNNPACK vs onnxruntime) and
# OpenCV build differences in the bilinear crop, amplified a little by the mesh model. The bounds
# are ~3x those worst cases: loose enough for another CPU or the CUDA provider, tight enough that
# any geometry mistake (ROI scale, rotation sign, letterbox offset, z scale) fails by pixels.
LANDMARK_MEAN_PX = 0.35
LANDMARK_MAX_PX = 1.0
Z_MAX_PX = 1.5
BLENDSHAPE_ATOL = 0.06


def read_rgb(name: str) -> np.ndarray:
    image = cv2.imread(str(FACES / name), cv2.IMREAD_COLOR)
    assert image is not None, name
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    return ModelRegistry.from_manifest()


@pytest.fixture(scope="module")
def detector(registry) -> BlazeFaceDetector:
    return registry.adapter("face_detector")


@pytest.fixture(scope="module")
def mesh(registry) -> FaceMesh:
    return registry.adapter("face_mesh")


@pytest.fixture(scope="module")
def blendshapes(registry) -> FaceBlendshapes:
    return registry.adapter("face_blendshapes")


def run_pipeline(detector, mesh, blendshapes, image):
    faces = detector.detect(image)
    assert len(faces) == 1
    landmarks = mesh.landmarks(image, faces[0])
    assert landmarks.present
    return faces[0], landmarks, blendshapes.scores(landmarks)


@pytest.mark.parametrize("name", ["face_detector", "face_mesh", "face_blendshapes"])
def test_onnx_matches_litert_golden(registry, name) -> None:
    check = check_golden(registry.load(name))
    assert check.ok, check.detail


# ----------------------------------------------------------------------------- detector


def test_anchors_follow_the_short_range_layout() -> None:
    anchors = generate_anchors()
    assert anchors.shape == (896, 2)
    # stride 8: 16x16 cells x 2 anchors, then stride 16: 8x8 cells x 6 anchors (3 merged layers)
    np.testing.assert_allclose(anchors[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[1], anchors[0])
    np.testing.assert_allclose(anchors[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[512], [0.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(anchors[512:518], np.repeat(anchors[512:513], 6, axis=0))
    np.testing.assert_allclose(anchors[-1], [7.5 / 8, 7.5 / 8])


def test_letterbox_pads_the_short_side_with_black() -> None:
    image = np.full((200, 100, 3), 255, np.uint8)  # portrait: padded left and right
    tensor = preprocess(image)
    assert tensor.shape == (1, 128, 128, 3) and tensor.dtype == np.float32
    assert np.allclose(tensor[0, :, :30], -1.0) and np.allclose(tensor[0, :, -30:], -1.0)
    assert np.allclose(tensor[0, :, 40:88], 1.0)


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces() -> None:
    boxes = np.array([[0.1, 0.1, 0.3, 0.3], [0.12, 0.1, 0.32, 0.3], [0.6, 0.6, 0.8, 0.8]])
    points = np.stack([np.full((6, 2), v) for v in (0.2, 0.24, 0.7)])
    scores = np.array([0.9, 0.6, 0.8])
    kept = weighted_nms(boxes, points, scores, 0.5)
    assert [round(score, 3) for _, _, score in kept] == [0.9, 0.8]
    merged_box, merged_points, _ = kept[0]
    np.testing.assert_allclose(merged_box[0], (0.1 * 0.9 + 0.12 * 0.6) / 1.5)
    np.testing.assert_allclose(merged_points[0, 0], (0.2 * 0.9 + 0.24 * 0.6) / 1.5)
    np.testing.assert_allclose(kept[1][0], boxes[2])


@pytest.mark.parametrize("person", PORTRAITS)
@pytest.mark.parametrize("expression", ["neutral", "smiling"])
def test_one_face_with_a_box_around_it_in_each_portrait(detector, person, expression) -> None:
    image = read_rgb(f"london_{person}_{expression}.jpg")
    faces = detector.detect(image)
    assert len(faces) == 1
    face = faces[0]
    assert isinstance(face, FaceDetection) and face.score > 0.8
    x0, y0, x1, y1 = face.box_xyxy
    # The studio portraits are 480x480 with the head near the centre, about 150-220 px wide.
    assert 120 < x1 - x0 < 260 and 120 < y1 - y0 < 260
    assert x0 < 240 < x1 and y0 < 260 < y1
    right_eye, left_eye = face.keypoint("right_eye"), face.keypoint("left_eye")
    nose, mouth = face.keypoint("nose_tip"), face.keypoint("mouth_center")
    for x, y in (right_eye, left_eye, nose, mouth):
        assert x0 < x < x1 and y0 < y < y1
    # Subject's right eye appears on the image's left; eyes above the nose above the mouth.
    assert right_eye[0] < nose[0] < left_eye[0]
    assert max(right_eye[1], left_eye[1]) < nose[1] < mouth[1]
    assert faces.latency_ms > 0


@pytest.mark.parametrize("name", ["scene_coffee.jpg", "scene_office_desk.jpg"])
def test_no_face_in_face_free_scenes(detector, mesh, name) -> None:
    """No face survives detector + mesh presence, MediaPipe's two gates.

    On the office desk BlazeFace fires once at 0.50-0.53 on the plant and papers; MediaPipe's
    own Tasks FaceDetector reports the same box and score, and its FaceLandmarker returns no
    face because the mesh's presence score is ~0. The coffee scene has no candidate at all.
    """
    image = read_rgb(name)
    detections = detector.detect(image)
    assert all(face.score < 0.6 for face in detections)
    found = [face for face in detections if mesh.landmarks(image, face).present]
    assert found == []
    if name == "scene_coffee.jpg":
        assert len(detections) == 0


def test_detector_box_matches_the_tasks_api_face(detector) -> None:
    """The detection box sits on the face the Tasks API meshes (non-square frame too)."""
    golden = np.load(TASKS_GOLDEN)
    for image_name, points in zip(golden["images"], golden["landmarks"], strict=True):
        face = detector.detect(read_rgb(Path(str(image_name)).name))[0]
        x0, y0, x1, y1 = face.box_xyxy
        mx0, my0 = points[:, :2].min(axis=0)
        mx1, my1 = points[:, :2].max(axis=0)
        ix = max(0.0, min(x1, mx1) - max(x0, mx0))
        iy = max(0.0, min(y1, my1) - max(y0, my0))
        union = (x1 - x0) * (y1 - y0) + (mx1 - mx0) * (my1 - my0) - ix * iy
        assert ix * iy / union > 0.6, image_name


# --------------------------------------------------------------------------------- mesh


@pytest.mark.parametrize("index", [0, 1])
def test_pipeline_matches_mediapipe_tasks_api(detector, mesh, blendshapes, index) -> None:
    golden = np.load(TASKS_GOLDEN)
    image = read_rgb(Path(str(golden["images"][index])).name)
    _, landmarks, scores = run_pipeline(detector, mesh, blendshapes, image)
    want = golden["landmarks"][index]
    error = np.linalg.norm(landmarks.points[:, :2] - want[:, :2], axis=1)
    assert error.mean() < LANDMARK_MEAN_PX, error.mean()
    assert error.max() < LANDMARK_MAX_PX, error.max()
    assert np.max(np.abs(landmarks.points[:, 2] - want[:, 2])) < Z_MAX_PX
    assert np.max(np.abs(scores.scores - golden["blendshapes"][index])) < BLENDSHAPE_ATOL


def test_roi_is_the_eye_aligned_box_scaled_by_one_and_a_half(detector) -> None:
    face = detector.detect(read_rgb("lisa1.jpg"))[0]
    roi = roi_from_detection(face)
    assert roi.image_size == (600, 800)
    np.testing.assert_allclose([roi.width, roi.height], np.array(face.box[2:]) * 1.5)
    np.testing.assert_allclose(roi.center, face.center)
    (rx, ry), (lx, ly) = face.keypoint("right_eye"), face.keypoint("left_eye")
    assert math.isclose(roi.rotation, math.atan2(ly - ry, lx - rx), abs_tol=1e-9)


def test_mesh_follows_a_rotated_face(detector, mesh) -> None:
    """Rotate the portrait 25 degrees: the ROI turns with it and the points map back."""
    image = read_rgb("london_001_neutral.jpg")
    upright = mesh.landmarks(image, detector.detect(image)[0])
    turn = cv2.getRotationMatrix2D((240.0, 240.0), 25.0, 1.0)  # counter-clockwise on screen
    rotated = cv2.warpAffine(image, turn, (480, 480), borderMode=cv2.BORDER_REPLICATE)
    tilted = mesh.landmarks(rotated, detector.detect(rotated)[0])
    assert tilted.present
    assert math.degrees(tilted.roi.rotation - upright.roi.rotation) == pytest.approx(-25.0, abs=5.0)
    back = np.c_[tilted.points[:, :2], np.ones(478)] @ cv2.invertAffineTransform(turn).T
    error = np.linalg.norm(back - upright.points[:, :2], axis=1)
    assert error.mean() < 3.0  # of a ~180 px face


def test_tracking_roi_is_square_and_stays_on_the_face(detector, mesh) -> None:
    image = read_rgb("london_001_smiling.jpg")
    first = mesh.landmarks(image, detector.detect(image)[0])
    roi = mesh.next_roi(first)
    assert isinstance(roi, FaceRoi) and roi.width == roi.height
    span = first.points[:, :2].max(axis=0) - first.points[:, :2].min(axis=0)
    assert roi.width == pytest.approx(1.5 * span.max())
    second = mesh.landmarks(image, roi)
    assert second.present and second.presence > 0.9
    assert np.linalg.norm(second.points[:, :2] - first.points[:, :2], axis=1).mean() < 2.0


def test_mesh_reports_absence_on_a_crop_without_face(mesh) -> None:
    image = read_rgb("scene_coffee.jpg")
    height, width = image.shape[:2]
    roi = FaceRoi(center_x=width / 2, center_y=height / 2, width=200.0, height=200.0,
                  rotation=0.0, image_size=(width, height))
    landmarks = mesh.landmarks(image, roi)
    assert not landmarks.present and landmarks.presence < 0.5


# ---------------------------------------------------------------------------- blendshapes


def test_blendshape_tables() -> None:
    assert len(BLENDSHAPE_NAMES) == 52 and len(set(BLENDSHAPE_NAMES)) == 52
    assert BLENDSHAPE_NAMES[44:46] == ("mouthSmileLeft", "mouthSmileRight")
    assert len(LANDMARK_SUBSET) == 146 and list(LANDMARK_SUBSET) == sorted(set(LANDMARK_SUBSET))
    assert LANDMARK_SUBSET[-10:] == tuple(range(468, 478))  # both irises


@pytest.mark.parametrize("person", PORTRAITS)
def test_smile_is_low_when_neutral_and_high_when_smiling(detector, mesh, blendshapes,
                                                         person) -> None:
    smile = {}
    for expression in ("neutral", "smiling"):
        image = read_rgb(f"london_{person}_{expression}.jpg")
        scores: BlendshapeScores = run_pipeline(detector, mesh, blendshapes, image)[2]
        assert scores.scores.shape == (52,) and scores.latency_ms > 0
        assert np.all((scores.scores >= 0) & (scores.scores <= 1))
        smile[expression] = (scores.score("mouthSmileLeft"), scores.score("mouthSmileRight"))
    assert max(smile["neutral"]) < 0.15, smile
    assert min(smile["smiling"]) > 0.4, smile
