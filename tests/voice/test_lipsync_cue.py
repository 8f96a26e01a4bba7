"""Lip-speech sync and the digit challenge on real GRID clips, through the face stage's tracker
and the lip-sync face cue: real speech is never rejected; a still photo, a frozen frame, dubbed
or shifted audio never pass."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from verification.face.observation import FaceTracker, TrackerConfig
from verification.pipeline.analyzer import SessionContext
from verification.pipeline.ringbuffer import AudioRead
from verification.runtime import ModelRegistry
from verification.types import Check, Outcome, VideoFrame
from verification.video.decode import iter_media
from verification.voice.audio_io import read_audio_16k
from verification.voice.lipsync_cue import LipSyncCue, LipSyncCueFactory

VIDEO = Path(__file__).resolve().parents[1] / "data" / "video"
SR = 16_000


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    return ModelRegistry.from_manifest(provider="cpu")


@pytest.fixture(scope="module")
def tracked(registry) -> dict[str, tuple[list, list, np.ndarray]]:
    """Per clip: observations of the real frames, of the first frame repeated (a still photo),
    and the 16 kHz audio."""
    out = {}
    for name in ("bbaf2n", "lrwp9a"):
        path = VIDEO / f"{name}.mpg"
        frames = [f for f in iter_media(path) if isinstance(f, VideoFrame)]
        tracker = FaceTracker.from_registry(registry, TrackerConfig(blendshapes=False),
                                            with_encoder=False)
        real = [tracker.observe(f.image, f.pts, f.index) for f in frames]
        still_obs = tracker.observe(frames[0].image, 0.0)
        still = [replace(still_obs, pts=f.pts) for f in frames]
        out[name] = (real, still, read_audio_16k(path))
    return out


def run(registry, observations: list, audio: np.ndarray, script: dict | None = None) -> list:
    cue = LipSyncCueFactory(registry)(SessionContext("t", script=script or {}))
    assert isinstance(cue, LipSyncCue)
    block = SR // 2
    blocks = [(i / SR, audio[i:i + block]) for i in range(0, len(audio), block)]
    out, b = [], 0
    for obs in observations:
        while b < len(blocks) and blocks[b][0] <= obs.pts:
            out += cue.observe_audio(AudioRead(blocks[b][1], blocks[b][0], ()))
            b += 1
        out += cue.observe(obs, None)
    for start, samples in blocks[b:]:
        out += cue.observe_audio(AudioRead(samples, start, ()))
    return out + list(cue.summarize())


def status(evidence: list) -> str:
    lip = [e for e in evidence if e.check is Check.LIP_SYNC]
    if any(e.outcome is Outcome.CONTRADICTS for e in lip):
        return "fail"
    return "pass" if any(e.outcome is Outcome.SUPPORTS for e in lip) else "inconclusive"


def shift(audio: np.ndarray, seconds: float) -> np.ndarray:
    n = int(seconds * SR)
    return np.concatenate([np.zeros(n, audio.dtype), audio[:-n]])


def test_real_clips_are_never_rejected(registry, tracked):
    for name, (real, _, audio) in tracked.items():
        evidence = run(registry, real, audio)
        assert status(evidence) != "fail", name
        utterances = [e for e in evidence if e.code.startswith("lip_sync_")
                      and e.code not in ("lip_sync_summary", "lip_sync_session")]
        assert utterances and utterances[0].details["correlation"] is not None
        assert 0.0 < utterances[0].window.start < utterances[0].window.end < 3.1


def test_a_still_photo_with_real_speech_is_a_hard_mismatch(registry, tracked):
    _, still, audio = tracked["bbaf2n"]
    evidence = run(registry, still, audio)
    (summary,) = [e for e in evidence if e.code == "lip_sync_mismatch"]
    assert summary.outcome is Outcome.CONTRADICTS and "still" in summary.summary


def test_a_frame_frozen_as_the_speech_starts_is_a_hard_mismatch(registry, tracked):
    real, _, audio = tracked["lrwp9a"]
    onset = 0.6  # the sentence starts at about 0.58 s
    frozen = next(o for o in real if o.pts >= onset)
    observations = [o if o.pts < onset else replace(frozen, pts=o.pts) for o in real]
    assert "lip_sync_mismatch" in [e.code for e in run(registry, observations, audio)]


def test_dubbed_and_shifted_audio_never_pass(registry, tracked):
    real_a, _, audio_a = tracked["bbaf2n"]
    real_b, _, audio_b = tracked["lrwp9a"]
    n = min(len(audio_a), len(audio_b))
    assert status(run(registry, real_a, audio_b[:n])) != "pass"
    assert status(run(registry, real_b, audio_a[:n])) != "pass"
    for seconds in (0.5, 1.0):
        assert status(run(registry, real_a, shift(audio_a, seconds))) != "pass"


def joined(tracked, order: list[str], audio_from: list[str] | None = None
           ) -> tuple[list, np.ndarray]:
    observations, sound, offset = [], [], 0.0
    for k, name in enumerate(order):
        real, _, audio = tracked[name]
        src = tracked[(audio_from or order)[k]][2]
        src = np.pad(src, (0, max(0, len(audio) - len(src))))[: len(audio)]
        observations += [replace(o, pts=o.pts + offset) for o in real]
        sound.append(src)
        offset += len(audio) / SR
    return observations, np.concatenate(sound)


def test_an_interview_of_several_answers_adds_up(registry, tracked):
    order = ["bbaf2n", "lrwp9a", "bbaf2n", "lrwp9a"]
    evidence = run(registry, *joined(tracked, order))
    assert status(evidence) == "pass"
    assert "lip_sync_session" in [e.code for e in evidence]
    dubbed = run(registry, *joined(tracked, order, ["lrwp9a", "bbaf2n", "lrwp9a", "bbaf2n"]))
    assert status(dubbed) != "pass"


def test_digit_challenge(registry, tracked):
    real, still, audio = tracked["bbaf2n"]
    read = {"steps": [{"type": "digits", "t": 0.1, "digits": "123456", "window": 3.0}]}
    codes = [e.code for e in run(registry, real, audio, read)]
    assert {"digit_challenge_passed", "digit_challenge_inconclusive"} & set(codes)
    late = {"steps": [{"type": "digits", "t": 2.6, "digits": "1234", "window": 0.4}]}
    assert "digits_not_spoken" in [e.code for e in run(registry, real, audio, late)]
    photo = run(registry, still, audio, read)
    digit = [e for e in photo if e.window.start == pytest.approx(0.1)]
    assert digit and digit[0].code == "lip_sync_mismatch"


def test_without_video_or_face_lip_sync_is_not_decided(registry, tracked):
    real, _, audio = tracked["bbaf2n"]
    no_video = run(registry, [], audio)
    assert [e.code for e in no_video] == ["lip_sync_not_checked"]
    faceless = [replace(o, landmarks=None) for o in real]
    assert status(run(registry, faceless, audio)) == "inconclusive"
