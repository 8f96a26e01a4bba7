"""Head pose, eye openness, mouth opening and alignment points measured on real meshes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from verification.face import geometry
from verification.face.observation import FaceTracker, TrackerConfig
from verification.types import VideoFrame
from verification.video.decode import iter_media

from .conftest import CLIP, DATA, image, rotate


def mesh_of(tracker: FaceTracker, rgb: np.ndarray) -> np.ndarray:
    tracker.reset()
    tracker.observe(rgb, 0.0)
    obs = tracker.observe(rgb, 1.0)  # meshed from the tracking ROI, as on video
    assert obs.landmarks is not None
    return obs.landmarks


@pytest.fixture(scope="module")
def tracker(registry) -> FaceTracker:
    return FaceTracker.from_registry(registry, TrackerConfig(detect_every=1), with_encoder=False)


@pytest.fixture(scope="module")
def frontal(tracker) -> np.ndarray:
    return mesh_of(tracker, image("faces/london_001_neutral.jpg"))


def _rotated(points: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    centre = points.mean(axis=0)
    return ((points - centre) @ rotation.T + centre).astype(np.float32)


def _yaw(deg: float) -> np.ndarray:  # nose towards the image's right (applicant's left)
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])


def _pitch(deg: float) -> np.ndarray:  # nose up
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1, 0, 0], [0, c, s], [0, -s, c]])


def _roll(deg: float) -> np.ndarray:  # image-right eye (applicant's left) down
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def test_frontal_portrait_is_near_zero_pose_with_open_eyes_and_closed_mouth(frontal):
    m = geometry.measure(frontal)
    assert abs(m.pose.yaw) < 10 and abs(m.pose.pitch) < 10 and abs(m.pose.roll) < 10
    assert m.pose.fit_error < 0.1
    assert m.eye_openness_left > 0.2 and m.eye_openness_right > 0.2
    assert m.mouth_opening < 0.05
    assert m.inter_ocular_px > 40


@pytest.mark.parametrize(("rotation", "axis", "angle"), [
    (_yaw(25), "yaw", 25), (_yaw(-25), "yaw", -25), (_pitch(15), "pitch", 15),
    (_pitch(-15), "pitch", -15), (_roll(20), "roll", 20), (_roll(-20), "roll", -20)])
def test_pose_signs_follow_the_documented_conventions(frontal, rotation, axis, angle):
    base = geometry.head_pose(frontal)
    turned = geometry.head_pose(_rotated(frontal, rotation))
    change = {k: getattr(turned, k) - getattr(base, k) for k in ("yaw", "pitch", "roll")}
    assert change[axis] == pytest.approx(angle, abs=2.5)
    for other in set(change) - {axis}:
        assert abs(change[other]) < 4


def test_rotating_the_image_changes_roll_by_the_same_angle(tracker):
    rgb = image("faces/lisa1.jpg")
    base = geometry.head_pose(mesh_of(tracker, rgb)).roll
    # Counter-clockwise on screen lifts the image-right eye (the applicant's left): roll < 0.
    assert geometry.head_pose(mesh_of(tracker, rotate(rgb, 15))).roll - base == \
        pytest.approx(-15, abs=3)


def test_mirror_image_flips_yaw_and_roll(tracker):
    rgb = image("faces/london_030_neutral.jpg")
    direct = geometry.head_pose(mesh_of(tracker, rgb))
    mirrored = geometry.head_pose(mesh_of(tracker, np.ascontiguousarray(rgb[:, ::-1])))
    assert mirrored.yaw == pytest.approx(-direct.yaw, abs=2.5)
    assert mirrored.roll == pytest.approx(-direct.roll, abs=2.5)
    assert mirrored.pitch == pytest.approx(direct.pitch, abs=2.5)


def test_blink_and_speech_show_in_eye_and_mouth_signals(registry):
    tracker = FaceTracker.from_registry(registry, with_encoder=False)
    eyes, mouth = [], []
    for item in iter_media(CLIP, video_fps=25):
        if isinstance(item, VideoFrame):
            obs = tracker.observe(item.image, item.pts)
            eyes.append(min(obs.eye_openness_left, obs.eye_openness_right))
            mouth.append(obs.mouth_opening)
    assert min(eyes) < 0.15 < 0.25 < max(eyes)  # the speaker blinks once, near 2 s
    assert min(mouth) < 0.03 and max(mouth) > 0.15  # closed between words, open when speaking


def test_alignment_points_agree_with_mediapipe_tasks(tracker):
    reference = json.loads((DATA / "faces_id" / "points.json").read_text())["faces"]
    for name, entry in reference.items():
        ours = geometry.five_points(mesh_of(tracker, image(f"faces_id/{name}"))).points
        assert np.abs(ours - np.array(entry["five_points"])).max() < 3.0, name


def test_outside_fraction_and_box():
    points = np.zeros((478, 3), np.float32)
    points[:, 0] = np.linspace(-10, 90, 478)
    points[:, 1] = 50
    assert geometry.outside_fraction(points, (100, 100)) == pytest.approx(10 / 100, abs=0.01)
    assert geometry.face_box(points)[2] == pytest.approx(100)
    with pytest.raises(ValueError):
        geometry.head_pose(np.zeros((10, 3)))
