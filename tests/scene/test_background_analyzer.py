"""The background analyzer stream on interview-like clips made from real photos.

Four interviews share one fingerprint index (a temporary directory), in this order:

* A - applicant 001 at the desk for 6 s, then the feed cuts to the garage (declared: consulting);
* B - applicant 030 at the same desk, framed differently (declared: machine shop);
* C - applicant 001 again, at the garage;
* D - applicant 061 in the corridor, where two other people stand.

The stream's hooks are driven directly, as the session does in its executor.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.scene_composites import Camera, composite
from tests.scene.conftest import FACES, SCENES, cut_person, read_rgb
from verification.fusion.policy import DefaultPolicy
from verification.pipeline.analyzer import SessionContext
from verification.runtime import InferenceExecutor, ThreadBudget
from verification.scene.analyzer import BackgroundAnalyzer, BackgroundStream
from verification.scene.config import SceneSettings
from verification.scene.matching import MIN_INLIERS
from verification.types import Check, Decision, Outcome, VideoFrame

FPS = 5.0


@pytest.fixture(scope="module")
def analyzer(registry, tmp_path_factory) -> BackgroundAnalyzer:
    index_dir = tmp_path_factory.mktemp("scene_index")
    return BackgroundAnalyzer(registry, SceneSettings(index_dir=index_dir))


@pytest.fixture(scope="module")
def executor():
    pool = InferenceExecutor(ThreadBudget(workers=1))
    yield pool
    pool.shutdown()


@pytest.fixture(scope="module")
def cast(registry):
    cutter = registry.adapter("selfie_segmentation")
    people = {p: cut_person(read_rgb(FACES / f"london_{p}_neutral.jpg"), cutter, p)
              for p in ("001", "030", "061")}
    rooms = {"desk": read_rgb(SCENES / "office_desk_tum_fr1.jpg"),
             "garage": read_rgb(SCENES / "garage_motorcycle.jpg"),
             "corridor": read_rgb(SCENES / "two_people_basketball.png")}
    return people, rooms


def clip(cast, segments) -> list[VideoFrame]:
    """``segments``: (room, person, seconds, camera at start, camera at end) - a slow drift."""
    people, rooms = cast
    frames: list[VideoFrame] = []
    for room, person, seconds, start, end in segments:
        count = int(seconds * FPS)
        for i in range(count):
            t = i / max(count - 1, 1)
            camera = Camera(zoom=start.zoom + (end.zoom - start.zoom) * t,
                            shift_x=start.shift_x + (end.shift_x - start.shift_x) * t,
                            jpeg_quality=85)
            k = len(frames)
            frames.append(VideoFrame(composite(rooms[room], people[person], camera, 0.75, 0.5),
                                     round(k / FPS, 3), k))
    return frames


def run(analyzer, executor, session_id, frames, geo=None):
    stream = analyzer.open_stream(SessionContext(session_id, geo=geo or {}), executor)
    assert isinstance(stream, BackgroundStream)
    evidence = []
    for frame in frames:
        evidence += list(stream.process_frame(frame))
    evidence += list(stream.summarize())
    assert all(e.check is Check.BACKGROUND for e in evidence)
    return stream, evidence


def by_code(evidence, code):
    return [e for e in evidence if e.code == code]


@pytest.fixture(scope="module")
def interviews(analyzer, executor, cast):
    """Run A, B, C, D in order (the index remembers each for the next)."""
    out = {}
    out["A"] = run(analyzer, executor, "A", clip(cast, [
        ("desk", "001", 6, Camera(), Camera(shift_x=0.03)),
        ("garage", "001", 4, Camera(), Camera())]), {"declared": {"type": "consulting"}})
    out["B"] = run(analyzer, executor, "B", clip(cast, [
        ("desk", "030", 4, Camera(zoom=1.05), Camera(zoom=1.05, shift_x=-0.02))]),
        {"declared": {"type": "machine shop"}})
    out["C"] = run(analyzer, executor, "C", clip(cast, [
        ("garage", "001", 4, Camera(zoom=0.95), Camera(zoom=0.95))]))
    out["D"] = run(analyzer, executor, "D", clip(cast, [
        ("corridor", "061", 4, Camera(), Camera())]))
    return out


def test_background_is_analysed_about_once_a_second_and_at_the_cut(interviews) -> None:
    stream, _ = interviews["A"]
    # 10 s of video: one moment a second, plus the one the cut triggers
    assert 10 <= stream._moments <= 12
    stream_b, _ = interviews["B"]
    assert 4 <= stream_b._moments <= 5


def test_a_cut_to_another_place_is_a_background_jump_with_its_time(interviews) -> None:
    _, evidence = interviews["A"]
    jumps = by_code(evidence, "background_jump")
    assert len(jumps) == 1
    jump = jumps[0]
    assert jump.outcome is Outcome.CONTRADICTS
    assert jump.details["at"] == pytest.approx(6.0, abs=1.0 / FPS)
    assert jump.window.start < 6.0 <= jump.window.end + 1e-9
    summary = by_code(evidence, "background_summary")[0]
    assert summary.outcome is Outcome.INCONCLUSIVE and summary.details["segments"] == 2


def test_a_slowly_drifting_camera_is_not_a_jump(interviews) -> None:
    for name in ("B", "C"):
        _, evidence = interviews[name]
        assert not by_code(evidence, "background_jump")


def test_same_place_with_a_different_applicant_names_the_earlier_session(interviews) -> None:
    _, evidence = interviews["B"]
    seen = by_code(evidence, "background_seen_with_other_applicant")
    assert len(seen) == 1 and seen[0].outcome is Outcome.CONTRADICTS
    assert "A" in seen[0].summary
    match = seen[0].details["matches"][0]
    assert match["session_id"] == "A" and match["applicant"] == "different"
    assert match["face_distance"] > 0.6 and match["inliers"] >= MIN_INLIERS
    # strong evidence for review, never a rejection by itself
    verdict = DefaultPolicy().decide(evidence)
    assert verdict.checks[Check.BACKGROUND].status.value == "contradicted"
    assert verdict.decision is Decision.REVIEW


def test_same_place_and_same_applicant_is_only_noted(interviews) -> None:
    _, evidence = interviews["C"]
    seen = by_code(evidence, "background_seen_before_same_applicant")
    assert len(seen) == 1 and seen[0].outcome is Outcome.INCONCLUSIVE
    assert [m["session_id"] for m in seen[0].details["matches"]] == ["A"]
    assert by_code(evidence, "background_summary")[0].outcome is Outcome.SUPPORTS


def test_first_interview_in_a_place_is_not_seen_before(interviews) -> None:
    _, evidence = interviews["A"]
    assert by_code(evidence, "background_not_seen_before")[0].outcome is Outcome.SUPPORTS


def test_other_people_in_view_are_a_cue_with_times(interviews) -> None:
    _, evidence = interviews["D"]
    cues = by_code(evidence, "other_person_in_view")
    assert len(cues) == 1 and cues[0].outcome is Outcome.CONTRADICTS
    assert cues[0].window.start == 0.0 and cues[0].window.end >= 2.0
    assert cues[0].details["moments"] >= 3
    for name in ("A", "B", "C"):  # the applicant alone is never "another person"
        assert not by_code(interviews[name][1], "other_person_in_view")


def test_scene_profile_uses_the_declared_type_from_the_geo_json(interviews) -> None:
    _, evidence = interviews["B"]
    profile = [e for e in evidence if e.code.startswith("scene_")]
    assert len(profile) == 1
    assert profile[0].details["declared_type"] == "machine shop"
    assert profile[0].details["business_type"] == "machine_shop"
    assert profile[0].outcome is not Outcome.CONTRADICTS or "bedroom" in profile[0].summary
    _, evidence_c = interviews["C"]
    garage = [e for e in evidence_c if e.code.startswith("scene_")][0]
    assert "vehicles_outdoor" in garage.details["present"]


def test_without_an_index_there_is_no_cross_interview_evidence(registry, executor, cast) -> None:
    plain = BackgroundAnalyzer(registry, SceneSettings(index_dir=None))
    _, evidence = run(plain, executor, "E", clip(cast, [
        ("garage", "030", 3, Camera(), Camera())]))
    assert not [e for e in evidence if "seen" in e.code]
    assert by_code(evidence, "background_summary")[0].details["index"] is False


def test_no_frames_is_not_checked(analyzer, executor) -> None:
    _, evidence = run(analyzer, executor, "empty", [])
    assert [e.outcome for e in evidence] == [Outcome.NOT_CHECKED]


def test_a_plain_background_is_not_fingerprinted(analyzer, executor) -> None:
    wall = np.full((480, 640, 3), 200, np.uint8)
    frames = [VideoFrame(wall, k / FPS, k) for k in range(int(3 * FPS))]
    _, evidence = run(analyzer, executor, "wall", frames)
    assert by_code(evidence, "background_not_distinctive")
    assert not by_code(evidence, "background_jump")
