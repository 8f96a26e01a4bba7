"""The per-frame face stage: detection cadence, tracking, faces counted, observation fields."""

from __future__ import annotations

import dataclasses

import pytest

from verification.face.observation import FaceTracker, TrackerConfig
from verification.face.quality import MULTIPLE_FACES, NO_FACE
from verification.types import VideoFrame
from verification.video.decode import iter_media

from .conftest import CLIP, image, two_faces


@pytest.fixture(scope="module")
def clip_frames() -> list[VideoFrame]:
    return [f for f in iter_media(CLIP, video_fps=10) if isinstance(f, VideoFrame)][:12]


def test_detects_once_then_tracks_with_redetection_every_n_frames(registry, clip_frames):
    tracker = FaceTracker.from_registry(registry, TrackerConfig(detect_every=4),
                                        with_encoder=False)
    observations = [tracker.observe(f.image, f.pts, f.index) for f in clip_frames]
    assert [o.detected for o in observations] == [i % 4 == 0 for i in range(len(observations))]
    assert not observations[0].tracked and all(o.tracked for o in observations[1:])
    for obs in observations:
        assert obs.face and obs.n_faces == 1 and obs.presence > 0.9
        assert obs.landmarks.shape == (478, 3)
        assert obs.blendshapes is not None and obs.blendshapes.scores.shape == (52,)
        assert obs.pose is not None and obs.mouth_opening is not None
        assert obs.eye_openness_left > 0 and obs.eye_openness_right > 0
        assert obs.quality is not None and 0 <= obs.quality.score <= 1
        assert obs.embedding is None
    # The face moves little between frames: the track follows it.
    boxes = [o.box for o in observations]
    assert max(abs(a[0] - b[0]) for a, b in zip(boxes, boxes[1:], strict=False)) < 15


def test_descriptor_only_on_request(registry, clip_frames):
    tracker = FaceTracker.from_registry(registry)
    first = tracker.observe(clip_frames[0].image, 0.0, embed=True)
    second = tracker.observe(clip_frames[1].image, 0.1)
    assert first.embedding is not None and first.embedding.vector.shape == (128,)
    assert second.embedding is None


def test_no_face_and_recovery(registry, clip_frames):
    tracker = FaceTracker.from_registry(registry, TrackerConfig(detect_every=10),
                                        with_encoder=False)
    assert tracker.observe(clip_frames[0].image, 0.0).face
    empty = tracker.observe(image("faces/scene_coffee.jpg"), 0.1)
    assert not empty.face and empty.n_faces == 0 and empty.guidance == (NO_FACE,)
    assert empty.landmarks is None and empty.pose is None and empty.quality is None
    back = tracker.observe(clip_frames[2].image, 0.2)
    assert back.face and back.detected and not back.tracked


def test_counts_several_faces_and_picks_the_largest(registry):
    tracker = FaceTracker.from_registry(registry, with_encoder=False)
    frame = two_faces()
    obs = tracker.observe(frame, 0.0)
    assert obs.face and obs.n_faces == 2 and len(obs.other_boxes) == 1
    assert obs.guidance[0] == MULTIPLE_FACES
    # On tracked frames the count of the latest detection is carried.
    assert tracker.observe(frame, 0.1).n_faces == 2


def test_tracked_face_lost_triggers_detection_in_the_same_frame(registry, clip_frames):
    tracker = FaceTracker.from_registry(registry, TrackerConfig(detect_every=100),
                                        with_encoder=False)
    tracker.observe(clip_frames[0].image, 0.0)
    moved = image("faces/london_001_neutral.jpg")  # another size: the old ROI shows no face
    obs = tracker.observe(moved, 0.1)
    assert obs.face and obs.detected


def test_observation_is_frozen(registry, clip_frames):
    obs = FaceTracker.from_registry(registry, with_encoder=False).observe(clip_frames[0].image, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        obs.pts = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        TrackerConfig(detect_every=0)
