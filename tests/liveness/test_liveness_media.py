"""Liveness on real media: a real talking clip against attacks rendered in the test from it and
from a London portrait (the face stage's models run; a few seconds per clip)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from benchmarks import liveness_attacks as la
from verification.face.challenges import ChallengeGenerator
from verification.face.challenges.cue import ChallengeCue
from verification.face.observation import FaceTracker
from verification.face.pad import PresentationAttackCue
from verification.pipeline.analyzer import SessionContext
from verification.types import VideoFrame

DATA = Path(__file__).resolve().parents[1] / "data"
FPS = 5.0


def rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def run(tracker: FaceTracker, frames: list[np.ndarray], script: list[dict] | None = None):
    tracker.reset()
    pad = PresentationAttackCue()
    challenge = ChallengeCue.factory(SessionContext("test", script={"steps": script or []}))
    evidence = []
    for i, image in enumerate(frames):
        frame = VideoFrame(np.ascontiguousarray(image), pts=i / FPS, index=i)
        obs = tracker.observe(frame.image, frame.pts, i)
        evidence += list(pad.observe(obs, frame)) + list(challenge.observe(obs, frame))
    evidence += list(pad.summarize()) + list(challenge.summarize())
    return pad.assessment(), evidence


def codes(evidence) -> set[str]:
    return {e.code for e in evidence}


def test_a_real_talking_clip_is_live(tracker, grid) -> None:
    result, evidence = run(tracker, grid[0])
    assert result.decision == "live", result.reasons
    assert "passive_liveness" in codes(evidence) and "presentation_attack" not in codes(evidence)


def test_the_same_clip_re_encoded_dark_and_small_is_still_live(tracker, grid) -> None:
    rng = np.random.default_rng(1)
    dark = [cv2.resize(la.darken(f, rng, gain=0.25), (320, 240), interpolation=cv2.INTER_AREA)
            for f in grid[0]]
    result, _ = run(tracker, dark)
    assert result.decision == "live", result.reasons


def test_a_frozen_frame_is_a_presentation_attack(tracker, grid) -> None:
    result, evidence = run(tracker, la.frozen_frames(grid[0][5], len(grid[0])))
    assert result.decision == "attack" and "frozen_video" in result.reasons
    assert "presentation_attack" in codes(evidence)


def test_a_printed_photo_held_by_hand_is_not_live(tracker) -> None:
    photo = rgb(DATA / "faces" / "london_001_neutral.jpg")
    background = rgb(DATA / "scenes" / "office_desk_tum_fr1.jpg")
    frames = la.print_attack_frames(photo, background, seed=3, n=15, fps=FPS)
    result, evidence = run(tracker, frames)
    assert result.decision == "attack", result.reasons
    assert "presentation_attack" in codes(evidence)


def test_a_still_photo_filmed_with_a_shaking_camera_is_not_live(tracker) -> None:
    photo = rgb(DATA / "faces" / "london_030_neutral.jpg")
    frames = la.shaken_still_frames(cv2.resize(photo, (640, 640)), seed=2, n=15, fps=FPS)
    result, _ = run(tracker, frames)
    assert result.decision in ("attack", "unknown", "suspect") and result.decision != "live"


def test_a_replay_on_a_hand_held_screen_is_not_live(tracker, grid) -> None:
    background = rgb(DATA / "scenes" / "office_desk_tum_fr1.jpg")
    frames = la.replay_attack_frames(grid[0][:10], background, seed=11, fps=FPS,
                                     panel_pixels=(480, 360))
    result, evidence = run(tracker, frames)
    assert result.decision in ("attack", "suspect"), result.reasons
    assert "frame_around_face" in result.reasons or "moire" in " ".join(result.reasons)
    assert "passive_liveness" not in codes(evidence)


def test_a_recording_fails_a_fresh_challenge_sequence(tracker, grid) -> None:
    # A talking clip performs no head turn, nod or smile when asked.
    prompts = ChallengeGenerator(seed=5).sequence(start=0.0, count=1)
    script = [p.to_step() for p in prompts]
    _, evidence = run(tracker, grid[0], script)
    summary = [e for e in evidence if e.code.startswith("challenge")]
    assert summary and "challenges_passed" not in codes(summary)
    assert json.dumps([e.to_json() for e in summary])  # reviewers get plain JSON


def test_a_challenge_the_media_ends_inside_is_unanswered_not_failed(tracker, grid) -> None:
    # The applicant left (or the link died) 0.8 s into a head-turn prompt: no verdict either way.
    prompt = ChallengeGenerator(seed=5).sequence(start=0.0, count=1)[0]
    end = (len(grid[0]) - 1) / FPS
    step = {**prompt.to_step(), "t": end - 0.8}
    _, evidence = run(tracker, grid[0], [step])
    cut = [e for e in evidence if e.code == "challenge_cut_off"]
    assert len(cut) == 1 and cut[0].outcome.value == "inconclusive"
    assert "challenge_failed" not in codes(evidence)
    assert "challenge_step_failed" not in codes(evidence)
