"""The ``face`` analyzer stream: presence spans, match, continuity, reference frame, cue hook.

The stream's hooks are driven directly (they are plain functions the session runs in its
executor), with real photos as frames at chosen media times.
"""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest

from verification.face.analyzer import FaceAnalyzer, FaceStream
from verification.fusion.policy import DefaultPolicy
from verification.pipeline.analyzer import SessionContext
from verification.runtime import InferenceExecutor, ThreadBudget
from verification.types import Check, Decision, Outcome, VideoFrame

from .conftest import face_crop, image, two_faces

PERSON_A = "faces_id/097_smiling.jpg"
PERSON_B = "faces_id/107_smiling.jpg"


class RecordingCue:
    name = "recording"

    def __init__(self, context: SessionContext) -> None:
        self.seen: list = []
        self.summarized = False

    def observe(self, observation, frame):  # noqa: ANN001, ANN201
        self.seen.append((observation.pts, observation.face, frame.pts))
        return []

    def summarize(self):  # noqa: ANN201
        self.summarized = True
        return []


class BrokenCue:
    name = "broken"

    def __init__(self, context: SessionContext) -> None:
        pass

    def observe(self, observation, frame):  # noqa: ANN001, ANN201
        raise RuntimeError("cue bug")

    def summarize(self):  # noqa: ANN201
        raise RuntimeError("cue bug")


@pytest.fixture(scope="module")
def analyzer(registry) -> FaceAnalyzer:
    return FaceAnalyzer(registry, cues=[RecordingCue, BrokenCue])


@pytest.fixture(scope="module")
def executor():
    pool = InferenceExecutor(ThreadBudget(workers=1))
    yield pool
    pool.shutdown()


def run(analyzer, executor, frames, id_photo=None):  # noqa: ANN001, ANN201
    stream = analyzer.open_stream(SessionContext("t", id_photo=id_photo), executor)
    assert isinstance(stream, FaceStream)
    evidence = []
    for i, (pts, rgb) in enumerate(frames):
        evidence += list(stream.process_frame(VideoFrame(rgb, pts, i)))
    evidence += list(stream.summarize())
    return stream, evidence


def by_code(evidence, code):  # noqa: ANN001, ANN201
    return [e for e in evidence if e.code == code]


def frames_of(name: str, start: float, end: float, step: float = 0.5):  # noqa: ANN201
    rgb = face_crop(image(name))
    return [(round(t, 3), rgb) for t in np.arange(start, end, step)]


@pytest.fixture(scope="module")
def same_person(analyzer, executor):
    return run(analyzer, executor, frames_of(PERSON_A, 0.0, 5.0), image("faces_id/097_neutral.jpg"))


def test_same_person_matches_and_stays(same_person):
    stream, evidence = same_person
    match = by_code(evidence, "face_match")
    assert len(match) == 1 and match[0].outcome is Outcome.SUPPORTS and match[0].score > 0.7
    assert match[0].details["good_frames"] >= 3
    assert by_code(evidence, "face_presence_summary")[0].outcome is Outcome.SUPPORTS
    assert by_code(evidence, "face_continuity")[0].outcome is Outcome.SUPPORTS
    assert not [e for e in evidence if e.outcome is Outcome.CONTRADICTS]
    verdict = DefaultPolicy().decide(evidence)
    assert verdict.checks[Check.FACE_MATCH].status.value == "supported"


def test_reference_frame_is_kept_with_a_face_crop(same_person):
    stream, evidence = same_person
    ref = by_code(evidence, "reference_frame")
    assert len(ref) == 1 and stream.reference_frame is not None
    jpeg = base64.b64decode(ref[0].details["face_jpeg_base64"])
    crop = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert crop is not None and max(crop.shape[:2]) <= 256
    assert ref[0].details["similarity_to_id"] > 0.7
    assert stream.reference_frame.score == max(o.quality.score for o in
                                               stream.recent_observations())


def test_cue_hook_sees_every_frame_and_a_broken_cue_is_contained(analyzer, executor):
    frames = frames_of(PERSON_A, 0.0, 1.0) + [(1.0, image("faces/scene_coffee.jpg"))]
    stream, _ = run(analyzer, executor, frames)
    recording = next(c for c in stream._cues if isinstance(c, RecordingCue))
    assert [s[0] for s in recording.seen] == [0.0, 0.5, 1.0]
    assert recording.seen[-1][1] is False and recording.summarized


def test_different_person_is_a_mismatch(analyzer, executor):
    _, evidence = run(analyzer, executor, frames_of(PERSON_B, 0.0, 3.0),
                      image("faces_id/097_neutral.jpg"))
    mismatch = by_code(evidence, "face_mismatch")
    assert mismatch and mismatch[0].outcome is Outcome.CONTRADICTS
    assert DefaultPolicy().decide(evidence).decision is Decision.REJECT


def test_change_of_person_is_hard_evidence_with_its_time(analyzer, executor):
    frames = frames_of(PERSON_A, 0.0, 5.0) + frames_of(PERSON_B, 5.0, 9.0)
    _, evidence = run(analyzer, executor, frames)
    changed = by_code(evidence, "identity_changed")
    assert len(changed) == 1 and changed[0].outcome is Outcome.CONTRADICTS
    assert 5.0 <= changed[0].window.start <= 6.0
    assert not by_code(evidence, "face_continuity")
    verdict = DefaultPolicy().decide(evidence)
    assert verdict.decision is Decision.REJECT
    assert any(r.code == "identity_changed" for r in verdict.reasons)


def test_presence_spans_no_face_and_second_face(analyzer, executor):
    empty = image("faces/scene_coffee.jpg")
    frames = (frames_of(PERSON_A, 0.0, 1.0) + [(t, empty) for t in (1.0, 1.5, 2.0, 2.5, 3.0)]
              + frames_of(PERSON_A, 3.5, 4.0) + [(4.0, empty)] + frames_of(PERSON_A, 4.5, 5.0)
              + [(t, two_faces()) for t in (5.0, 5.5, 6.0, 6.5)] + frames_of(PERSON_A, 7.0, 7.5))
    _, evidence = run(analyzer, executor, frames)
    no_face = by_code(evidence, "no_face")
    assert len(no_face) == 1 and no_face[0].outcome is Outcome.CONTRADICTS
    assert no_face[0].window.start == 1.0 and no_face[0].window.end == 3.5
    assert by_code(evidence, "no_face_brief")[0].outcome is Outcome.INCONCLUSIVE
    second = by_code(evidence, "multiple_faces")
    assert len(second) == 1 and second[0].window.start == 5.0
    assert DefaultPolicy().decide(evidence).decision is Decision.REJECT


def test_id_photo_problems(analyzer, executor):
    frames = frames_of(PERSON_A, 0.0, 2.0)
    _, evidence = run(analyzer, executor, frames, image("faces/scene_coffee.jpg"))
    assert by_code(evidence, "id_photo_no_face")[0].outcome is Outcome.NOT_CHECKED
    assert not by_code(evidence, "face_match")
    _, evidence = run(analyzer, executor, frames_of(PERSON_B, 0.0, 2.0), two_faces())
    assert by_code(evidence, "id_photo_multiple_faces")[0].outcome is Outcome.INCONCLUSIVE
    # The largest face (here: the right one, 107) is used and matches the applicant.
    assert by_code(evidence, "face_match")[0].outcome is Outcome.SUPPORTS
    _, evidence = run(analyzer, executor, frames)
    assert by_code(evidence, "no_id_photo")[0].outcome is Outcome.NOT_CHECKED


def test_no_frames_at_all(analyzer, executor):
    _, evidence = run(analyzer, executor, [])
    assert by_code(evidence, "no_video")[0].outcome is Outcome.NOT_CHECKED
