"""The quality gate: each guidance code fires on the condition it names, not on good frames."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from verification.face import quality as q
from verification.face.observation import FaceTracker, TrackerConfig

from .conftest import darker, image


@pytest.fixture(scope="module")
def tracker(registry) -> FaceTracker:
    return FaceTracker.from_registry(registry, TrackerConfig(detect_every=1), with_encoder=False)


def still(tracker: FaceTracker, rgb: np.ndarray):
    tracker.reset()
    tracker.observe(rgb, 0.0)
    obs = tracker.observe(rgb, 1.0)
    assert obs.face
    return obs


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    return image("faces/london_030_neutral.jpg")


@pytest.mark.parametrize("name", ["faces/london_001_neutral.jpg", "faces/london_030_smiling.jpg",
                                  "faces/london_061_neutral.jpg", "faces/lisa1.jpg"])
def test_good_frames_get_no_guidance(tracker, name):
    obs = still(tracker, image(name))
    assert obs.guidance == () and obs.quality.good
    assert obs.quality.score > 0.3


def test_exposure(tracker, portrait):
    assert q.TOO_DARK in still(tracker, darker(portrait, 0.18)).guidance
    bright = (255 - (255 - portrait.astype(np.float32)) * 0.15).astype(np.uint8)
    assert q.TOO_BRIGHT in still(tracker, bright).guidance


def test_blur_and_size(tracker, portrait):
    obs = still(tracker, portrait)
    sigma = 0.08 * obs.quality.iod_px
    assert q.BLURRY in still(tracker, cv2.GaussianBlur(portrait, (0, 0), sigma)).guidance
    small = cv2.resize(portrait, (160, 160), interpolation=cv2.INTER_AREA)
    assert q.MOVE_CLOSER in still(tracker, small).guidance


def test_face_off_centre_and_too_close(tracker, portrait):
    canvas = np.full((1400, 1400, 3), 90, np.uint8)
    canvas[-480:, -480:] = portrait
    assert q.FACE_NOT_CENTERED in still(tracker, canvas).guidance
    close = cv2.resize(portrait[150:345, 150:330], (480, 640))  # face fills the frame
    assert q.MOVE_BACK in still(tracker, close).guidance


def test_mouth_covered_is_occluded(tracker, portrait):
    obs = still(tracker, portrait)
    covered = portrait.copy()
    idx = [61, 291, 0, 17, 152, 164, 2, 98, 327, 172, 397]
    cv2.fillConvexPoly(covered, cv2.convexHull(obs.landmarks[idx, :2].astype(np.int32)),
                       (214, 170, 140))
    assert q.FACE_OCCLUDED in still(tracker, covered).guidance


def test_motion_between_frames_asks_to_hold_still(registry, portrait):
    tracker = FaceTracker.from_registry(registry, with_encoder=False)
    tracker.observe(portrait, 0.0)
    shifted = np.roll(portrait, 60, axis=1)
    obs = tracker.observe(shifted, 0.2)  # ~1 eye distance in 0.2 s
    assert q.HOLD_STILL in obs.guidance
    assert obs.quality.motion_iod_per_s > q.QualityConfig().max_motion_iod_per_s


def test_pose_and_closed_eyes_from_geometry(tracker, portrait):
    obs = still(tracker, portrait)
    turned = dataclasses.replace(obs.geometry,
                                 pose=dataclasses.replace(obs.geometry.pose, yaw=40.0))
    assert q.LOOK_AT_CAMERA in q.assess_face(portrait, obs.landmarks, turned, None).guidance
    closed = dataclasses.replace(obs.geometry, eye_openness_left=0.05, eye_openness_right=0.06)
    assert q.EYES_CLOSED in q.assess_face(portrait, obs.landmarks, closed, None).guidance


def test_guidance_order_and_score_ranking(tracker, portrait):
    good = still(tracker, portrait).quality
    poor = still(tracker, darker(portrait, 0.18)).quality
    assert good.score > poor.score
    assert list(poor.guidance) == [c for c in q.GUIDANCE_CODES if c in poor.guidance]
    assert set(good.to_json()) >= {"luma", "sharpness", "guidance", "score"}
