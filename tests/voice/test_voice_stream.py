"""The session's voice stage on real speech: speech segments, voiceprint enrolment and
verification, continuity, second voice, gaps, audio quality, the AASIST cue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from verification.pipeline.analyzer import SessionContext
from verification.pipeline.ringbuffer import AudioRead, Gap
from verification.runtime import ModelRegistry
from verification.types import Check, Outcome, TimeWindow
from verification.voice.analyzer import VoiceAnalyzer, VoiceConfig, VoiceStream
from verification.voice.audio_io import read_audio_16k

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech"
SR = 16_000


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    return ModelRegistry.from_manifest(provider="cpu")


@pytest.fixture(scope="module")
def analyzer(registry) -> VoiceAnalyzer:
    return VoiceAnalyzer(registry, VoiceConfig(run_antispoof=False))


def wav(name: str) -> np.ndarray:
    return read_audio_16k(SPEECH / name)


def run(analyzer: VoiceAnalyzer, audio: np.ndarray, voiceprint: np.ndarray | None = None,
        gaps: tuple[Gap, ...] = (), start: float = 0.0) -> list:
    stream = VoiceStream(analyzer, SessionContext("t", voiceprint=voiceprint), None)
    out = []
    for i in range(0, len(audio), SR // 2):
        t = start + i / SR
        block_gaps = tuple(g for g in gaps if g.window.end > t and g.window.start < t + 0.5)
        out += stream.process_audio(AudioRead(audio[i:i + SR // 2], t, block_gaps))
    return out + list(stream.summarize())


def codes(evidence: list, check: Check | None = None) -> list[str]:
    return [e.code for e in evidence if check is None or e.check is check]


def one_speaker() -> np.ndarray:
    return np.concatenate([wav("2033-164914-0004.flac"), wav("2033-164914-0005.flac")])


def test_one_speaker_is_one_voice_with_segments_and_an_enrolled_voiceprint(analyzer):
    evidence = run(analyzer, one_speaker(), start=10.0)
    segments = [e for e in evidence if e.code == "speech_segment"]
    assert segments and all(10.0 <= e.window.start < e.window.end <= 18.0 for e in segments)
    summary = next(e for e in evidence if e.code == "speech_summary")
    assert summary.outcome is Outcome.SUPPORTS and summary.score > 5.0
    continuity = next(e for e in evidence if e.code == "voice_continuity")
    assert continuity.outcome is Outcome.SUPPORTS
    enrolled = next(e for e in evidence if e.code == "voiceprint_enrolled")
    vector = np.array(enrolled.details["vector"])
    assert vector.shape == (256,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-3)
    assert not {"second_voice", "possible_second_voice", "voice_changed"} & set(codes(evidence))
    quality = [e for e in evidence if e.check is Check.MEDIA_QUALITY]
    assert quality and quality[0].details["speech_level_dbfs"] is not None


def test_supplied_voiceprint_matches_the_same_speaker_and_not_another(analyzer):
    same = run(analyzer, one_speaker(), voiceprint=wav("2033-164914-0007.flac"))
    other = run(analyzer, one_speaker(), voiceprint=np.concatenate(
        [wav("1998-15444-0007.flac"), wav("1998-15444-0008.flac")]))
    match = [e for e in same if e.code in ("voiceprint_match", "voiceprint_mismatch")]
    assert match and match[-1].code == "voiceprint_match"
    mismatch = [e for e in other if e.code in ("voiceprint_match", "voiceprint_mismatch")]
    assert mismatch and mismatch[-1].code == "voiceprint_mismatch"
    assert mismatch[-1].outcome is Outcome.CONTRADICTS
    assert mismatch[-1].score < match[-1].score


def test_a_supplied_voiceprint_without_speech_is_reported(analyzer):
    evidence = run(analyzer, one_speaker(), voiceprint=np.zeros(SR * 2, np.float32))
    assert "voiceprint_no_speech" in codes(evidence)
    assert "voice_continuity" in codes(evidence)


def room(audio: np.ndarray, seed: int = 0) -> np.ndarray:
    """One room's noise under everything (-35 dBFS), as when a coach sits next to the applicant;
    the LibriSpeech recordings each bring their own, quieter, noise."""
    rng = np.random.default_rng(seed)
    return (audio + rng.normal(0, 10 ** (-35 / 20), len(audio))).astype(np.float32)


def test_another_voice_in_the_middle_is_a_second_voice_with_its_times(analyzer):
    a1, a2 = wav("2033-164914-0004.flac"), wav("2033-164914-0005.flac")
    b = np.concatenate([wav("1998-15444-0007.flac"), wav("1998-15444-0008.flac")])
    evidence = run(analyzer, room(np.concatenate([a1, b, a2])))
    second = [e for e in evidence if e.code == "second_voice"]
    assert len(second) == 1 and second[0].outcome is Outcome.CONTRADICTS
    b_start, b_end = len(a1) / SR, (len(a1) + len(b)) / SR
    # Times are exact to one speech window (1.6 s): a window may straddle the change of turn.
    assert b_start - 1.6 <= second[0].window.start and second[0].window.end <= b_end + 1.6
    assert "voice_continuity" not in codes(evidence)


def test_a_change_of_room_is_never_hard_evidence(analyzer):
    """The same speaker, the second half under loud noise: GE2E moves as with a new speaker,
    so at most a possible second voice (review), never second_voice / voice_changed."""
    audio = one_speaker().copy()
    half = len(audio) // 2
    rng = np.random.default_rng(1)
    audio[half:] += rng.normal(0, 0.02, len(audio) - half).astype(np.float32)
    found = set(codes(evidence := run(analyzer, audio)))
    assert not {"second_voice", "voice_changed"} & found
    assert all(e.details["channel_changed"] for e in evidence
               if e.code == "possible_second_voice" and e.details["fit_to_main"] < 0.72)


def test_two_same_room_speakers_are_at_least_a_possible_second_voice(analyzer):
    evidence = run(analyzer, wav("two_speakers_sample.wav"))
    flagged = [e for e in evidence if e.code in ("second_voice", "possible_second_voice")]
    assert flagged and all(e.outcome is Outcome.CONTRADICTS for e in flagged)
    assert "voice_continuity" not in codes(evidence)


def test_lost_audio_is_reported_and_too_little_speech_is_inconclusive(analyzer):
    audio = wav("1688-142285-0002.flac").copy()
    audio[SR:2 * SR] = 0.0
    gap = Gap(TimeWindow(1.0, 2.0), "lost")
    evidence = run(analyzer, audio, gaps=(gap,))
    assert codes(evidence, Check.MEDIA_QUALITY).count("audio_lost") == 1
    voiceprint = [e for e in evidence if e.check is Check.VOICEPRINT]
    assert [e.code for e in voiceprint] == ["too_little_speech"]
    assert voiceprint[0].outcome is Outcome.INCONCLUSIVE


def test_a_short_session_is_still_verified_against_a_supplied_voiceprint(analyzer):
    session = wav("2033-164914-0005.flac")[: int(2.2 * SR)]
    same = run(analyzer, session, voiceprint=wav("2033-164914-0007.flac"))
    other = run(analyzer, session, voiceprint=wav("1998-15444-0007.flac"))
    assert "too_little_speech" in codes(same)
    assert "voiceprint_match" in codes(same) and "voiceprint_mismatch" in codes(other)


def test_quiet_audio_is_flagged(analyzer):
    evidence = run(analyzer, one_speaker() * 10 ** (-40 / 20))
    assert "audio_too_quiet" in codes(evidence, Check.MEDIA_QUALITY)


def test_no_audio_is_not_checked(analyzer):
    stream = VoiceStream(analyzer, SessionContext("t"), None)
    evidence = list(stream.summarize())
    assert {e.outcome for e in evidence} == {Outcome.NOT_CHECKED}


def test_aasist_is_a_weak_cue_on_real_speech(registry):
    analyzer = VoiceAnalyzer(registry, VoiceConfig(run_antispoof=True))
    evidence = run(analyzer, one_speaker())
    cues = [e for e in evidence if e.code == "synthetic_speech_cue"]
    assert len(cues) == 1
    assert cues[0].outcome is Outcome.INCONCLUSIVE  # real speech never scores as "strong"
    assert 0.0 <= cues[0].details["real_speech_tail_probability"] <= 1.0


def test_aasist_runs_on_the_low_priority_background_lane_in_a_live_stream(registry,
                                                                          monkeypatch):
    """In a session the expensive anti-spoofing window never occupies a frame worker; its
    evidence still arrives (at the latest when the stream is closed)."""
    import asyncio
    import threading

    import verification.voice.analyzer as voice_analyzer
    from verification.runtime import InferenceExecutor, ThreadBudget
    from verification.types import AudioChunk

    threads: list[str] = []
    real_score = voice_analyzer.score_window

    def score_and_note_thread(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        threads.append(threading.current_thread().name)
        return real_score(*args, **kwargs)

    monkeypatch.setattr(voice_analyzer, "score_window", score_and_note_thread)
    analyzer = VoiceAnalyzer(registry, VoiceConfig(run_antispoof=True))
    audio = one_speaker()

    async def session() -> list:
        executor = InferenceExecutor(ThreadBudget(workers=1, intra_op_threads=1))
        try:
            stream = analyzer.open_stream(SessionContext("t"), executor)
            stream.start()
            for i in range(0, len(audio), SR // 50):
                stream.offer_audio(AudioChunk(audio[i:i + SR // 50], pts=i / SR))
                await asyncio.sleep(0)
            collected: list = []

            async def drain() -> None:
                async for item in stream.evidence():
                    collected.append(item)

            drainer = asyncio.ensure_future(drain())
            final = await stream.aclose()
            await drainer
            return collected + final
        finally:
            executor.shutdown()

    evidence = asyncio.run(session())
    assert threads == ["inference_background"]
    assert len([e for e in evidence if e.code == "synthetic_speech_cue"]) == 1
