"""Voice signal processing without models: front end, quality, envelope and bursts, lip-sync
decision on synthetic signals, clustering, digit prompts. Fast."""

from __future__ import annotations

import av
import numpy as np
import pytest

from verification.errors import InvalidInputError
from verification.pipeline.ringbuffer import AudioRingBuffer
from verification.types import TimeWindow
from verification.voice.diarization import cluster_windows, diarize, interleaved
from verification.voice.digits import (
    DigitPrompt,
    answer_prompts,
    default_window_s,
    digit_prompts,
    generate_digits,
    new_digit_prompt,
)
from verification.voice.envelope import EnvelopeTracker, count_bursts, envelope
from verification.voice.frontend import AudioFrontEnd, to_planar_float
from verification.voice.lipsync import SyncVerdict, assess_sync, bandpass
from verification.voice.lipsync_cue import burst_range
from verification.voice.quality import AudioQualityMeter, rms_dbfs
from verification.voice.windows import SpeechWindow

SR = 16_000


# -- front end ---------------------------------------------------------------------------------
def tone(seconds: float, rate: int, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_front_end_resamples_stereo_48k_int16_to_16k_mono_at_the_same_level():
    x = tone(1.0, 48_000)
    stereo = (np.stack([x, x], axis=1) * 32767).astype(np.int16)
    fe = AudioFrontEnd()
    chunks = []
    for i in range(0, len(stereo), 960):  # 20 ms packets, as WebRTC delivers them
        chunks += fe.push(stereo[i:i + 960], 48_000, i / 48_000)
    chunks += fe.flush()
    samples = np.concatenate([c.samples for c in chunks])
    assert abs(len(samples) - SR) <= 32
    assert chunks[0].pts == 0.0
    # Averaging the channels keeps a centred signal's level (no +3 dB down-mix).
    assert rms_dbfs(samples[1000:15000]) == pytest.approx(rms_dbfs(x), abs=0.2)


def test_front_end_leaves_a_lost_packet_as_a_gap_in_the_ring_buffer():
    x = tone(1.0, 48_000)
    fe, ring = AudioFrontEnd(), AudioRingBuffer(10)
    for i in range(0, len(x), 960):
        if 10 <= i // 960 < 15:  # 100 ms lost
            continue
        for chunk in fe.push(x[i:i + 960], 48_000, i / 48_000):
            ring.write(chunk)
    for chunk in fe.flush():
        ring.write(chunk)
    assert fe.discontinuities == 1
    (gap,) = ring.gaps
    assert gap.kind == "lost"
    assert gap.window.start == pytest.approx(0.2, abs=0.005)
    assert gap.window.end == pytest.approx(0.3, abs=0.005)


def test_front_end_accepts_pyav_frames_and_any_layout():
    x = tone(0.1, 44_100)
    packed = np.stack([x] * 6, axis=1)  # 5.1
    frame = av.AudioFrame.from_ndarray(packed.reshape(1, -1), format="flt", layout="5.1")
    frame.sample_rate = 44_100
    fe = AudioFrontEnd()
    chunks = fe.push_frame(frame, 0.0) + fe.flush()
    total = sum(len(c.samples) for c in chunks)
    assert abs(total - 1600) <= 32
    assert to_planar_float(np.zeros((10, 2), np.uint8) + 128).max() == 0.0
    with pytest.raises(ValueError):
        to_planar_float(np.zeros((10, 2), np.complex64))


def test_front_end_passes_16k_mono_through_unchanged():
    x = tone(0.5, SR)
    fe = AudioFrontEnd()
    (chunk,) = fe.push(x, SR, 1.5)
    assert chunk.pts == 1.5
    np.testing.assert_array_equal(chunk.samples, x)


# -- quality -------------------------------------------------------------------------------
def test_quality_meter_measures_level_snr_and_clipping():
    rng = np.random.default_rng(0)
    meter = AudioQualityMeter()
    for _ in range(100):  # pauses: noise at about -60 dBFS
        meter.add((rng.normal(0, 10 ** (-60 / 20), 512)).astype(np.float32), 0.05)
    for _ in range(100):  # speech at about -20 dBFS
        meter.add((rng.normal(0, 0.1, 512)).astype(np.float32), 0.9)
    report = meter.report()
    assert report.speech_level_dbfs == pytest.approx(-20, abs=1)
    assert report.snr_db == pytest.approx(40, abs=1.5)
    assert report.flags == ()
    clipped = np.clip(rng.normal(0, 2.0, 512), -1, 1).astype(np.float32)
    for _ in range(20):
        meter.add(clipped, 0.9)
    assert "audio_clipping" in meter.report().flags


def test_quality_flags_quiet_and_noisy_audio():
    rng = np.random.default_rng(1)
    meter = AudioQualityMeter()
    for _ in range(50):
        meter.add(rng.normal(0, 10 ** (-55 / 20), 512).astype(np.float32), 0.9)
        meter.add(rng.normal(0, 10 ** (-60 / 20), 512).astype(np.float32), 0.05)
    assert set(meter.report().flags) == {"audio_too_quiet", "audio_noisy"}


# -- envelope and bursts -----------------------------------------------------------------------
def syllables(n: int, rate_hz: float = 4.0, seconds: float | None = None) -> np.ndarray:
    """``n`` tone bursts (syllable-like: 120 ms of a 300 Hz tone with an envelope) in silence."""
    seconds = seconds or (n / rate_hz + 1.0)
    out = np.zeros(int(seconds * SR), np.float32)
    burst = tone(0.12, SR, 300.0, 0.3) * np.hanning(int(0.12 * SR)).astype(np.float32)
    for k in range(n):
        start = int((0.5 + k / rate_hz) * SR)
        out[start:start + len(burst)] += burst
    return out


def test_streaming_envelope_equals_offline_envelope():
    x = syllables(4)
    tracker = EnvelopeTracker()
    streamed = np.concatenate([tracker.push(x[i:i + 777]) for i in range(0, len(x), 777)])
    offline = envelope(x)
    assert len(offline) >= len(streamed) > len(x) // 160 - 5
    np.testing.assert_allclose(streamed, offline[: len(streamed)], atol=1e-3)


@pytest.mark.parametrize("n", [4, 5, 6])
def test_bursts_count_syllables(n):
    x = syllables(n)
    assert count_bursts(envelope(x), 0.0).count == n


def test_burst_range_allows_one_to_two_syllables_a_digit():
    assert burst_range(4) == (2, 9)
    assert burst_range(6) == (4, 13)


# -- lip-sync decision on synthetic signals ----------------------------------------------------
def syllabic(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A mouth-opening-like signal at 100 Hz: band-limited 1.5-6 Hz noise, positive."""
    x = bandpass(rng.normal(size=int(seconds * 100)), 1.5, 6.0)
    return 0.15 + 0.1 * x / np.abs(x).max()


def sync_case(lag: float, seed: int = 0, video_fps: float = 25.0, mouth_scale: float = 1.0,
              independent: bool = False):
    rng = np.random.default_rng(seed)
    seconds = 6.0
    mouth100 = syllabic(seconds + 4, rng)  # starts at -2 s
    t100 = -2.0 + np.arange(len(mouth100)) / 100
    source = syllabic(seconds + 4, rng) if independent else mouth100
    # Envelope (dB) follows the mouth `lag` seconds later, plus noise.
    env_t = np.arange(int(seconds * 100)) / 100
    env = 40 * np.interp(env_t - lag, t100, source) + rng.normal(0, 0.5, len(env_t))
    frames = np.arange(0, seconds, 1 / video_fps)
    mouth = 0.15 + mouth_scale * (np.interp(frames, t100, mouth100) - 0.15)
    return assess_sync(frames, mouth, env, 0.0, 1.0, 5.0)


def test_in_sync_speech_is_found_with_its_lag():
    result = sync_case(lag=0.08)
    assert result.verdict is SyncVerdict.IN_SYNC
    assert result.lag_s == pytest.approx(0.08, abs=0.03)


@pytest.mark.parametrize("lag", [0.5, -0.5, 1.0 - 0.05])
def test_shifted_audio_is_out_of_sync(lag):
    assert sync_case(lag).verdict is SyncVerdict.OUT_OF_SYNC


def test_unrelated_audio_is_not_in_sync():
    verdicts = {sync_case(0.0, seed=s, independent=True).verdict for s in range(5)}
    assert SyncVerdict.IN_SYNC not in verdicts


def test_a_still_mouth_is_no_mouth_motion():
    assert sync_case(0.0, mouth_scale=0.0).verdict is SyncVerdict.NO_MOUTH_MOTION


def test_a_mouth_seen_too_rarely_is_not_judged():
    # 5 analysed fps cannot carry a mouth signal band-passed up to 6 Hz: no verdict either way
    for lag in (0.08, 0.5):
        result = sync_case(lag, video_fps=5.0)
        assert result.verdict is SyncVerdict.INCONCLUSIVE and "times a second" in result.reason
    assert sync_case(0.08, video_fps=12.5).verdict is SyncVerdict.IN_SYNC
    assert sync_case(0.5, video_fps=12.5).verdict is SyncVerdict.OUT_OF_SYNC


def test_no_face_is_inconclusive_not_a_mismatch():
    frames = np.arange(0, 6, 0.04)
    result = assess_sync(frames, np.full(len(frames), np.nan), np.zeros(600), 0.0, 1.0, 5.0)
    assert result.verdict is SyncVerdict.INCONCLUSIVE
    assert result.face_coverage == 0.0


# -- clustering --------------------------------------------------------------------------------
def make_windows(vectors: np.ndarray, start: float = 0.0, hop: float = 0.8) -> list[SpeechWindow]:
    out = []
    for k, v in enumerate(vectors):
        v = v / np.linalg.norm(v)
        out.append(SpeechWindow(start + k * hop, start + k * hop + 1.6, 1.6, v.astype(np.float32),
                                -20.0, 1.0))
    return out


def voice_vectors(center: np.ndarray, n: int, rng: np.random.Generator, spread: float = 0.15
                  ) -> np.ndarray:
    return center + spread * rng.normal(size=(n, len(center)))


def test_clustering_separates_two_voices_and_keeps_one_voice_whole():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=32), rng.normal(size=32)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    one = make_windows(voice_vectors(a, 30, rng, 0.02))
    assert len(set(cluster_windows(np.stack([w.vector for w in one])))) == 1
    two = make_windows(np.concatenate([voice_vectors(a, 20, rng, 0.02),
                                       voice_vectors(b, 10, rng, 0.02)]))
    found = diarize(two, 0.8)
    assert [len(v.windows) for v in found.voices] == [20, 10]
    (other, fit), = found.other_voices()
    assert fit < 0.5
    assert not interleaved(found.voices[0], other)  # A then B: a change, not a coach


def test_reference_picks_the_main_voice():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=32), rng.normal(size=32)
    windows = make_windows(np.concatenate([voice_vectors(a, 20, rng, 0.02),
                                           voice_vectors(b, 10, rng, 0.02)]))
    found = diarize(windows, 0.8, reference=b / np.linalg.norm(b))
    assert len(found.voices[0].windows) == 10


def test_interleaved_voices_are_a_second_voice():
    a = make_windows(np.ones((4, 8)), start=0.0)
    b = make_windows(np.ones((4, 8)), start=2.0)
    assert interleaved(diarize(a, 0.8).voices[0], diarize(b, 0.8).voices[0])


# -- digit prompts -----------------------------------------------------------------------------
def test_digit_generation_is_seedable_and_in_range():
    assert generate_digits(seed=7) == generate_digits(seed=7)
    for seed in range(50):
        digits = generate_digits(seed=seed)
        assert 4 <= len(digits) <= 6 and digits.isdigit()
        runs = [digits[i] == digits[i + 1] == digits[i + 2] for i in range(len(digits) - 2)]
        assert not any(runs)
    assert len(generate_digits(5)) == 5
    with pytest.raises(ValueError):
        generate_digits(3)


def test_digit_prompts_read_the_shared_script_format():
    prompt = new_digit_prompt(12.0, n=5, seed=3)
    script = {"steps": [{"type": "blink", "t": 3.0}, prompt.to_step(),
                        {"type": "question", "t": 20.0, "id": "loan_purpose"}]}
    (parsed,) = digit_prompts(script)
    assert parsed == prompt
    assert parsed.window_s == pytest.approx(default_window_s(5))
    assert answer_prompts(script)[0].id == "loan_purpose"
    assert digit_prompts([{"type": "digits", "t": 1, "digits": "0123"}])[0].digits == "0123"
    flow = {"type": "digits", "id": "digits-1", "t": 5.0, "digits": "48151", "window_s": 7.5}
    assert digit_prompts([flow])[0].window_s == 7.5  # as verification/workflow records it


@pytest.mark.parametrize("step", [
    {"type": "digits", "t": 1.0, "digits": 1234},
    {"type": "digits", "t": 1.0},
    {"type": "digits", "t": 1.0, "digits": "12"},
    {"type": "digits", "t": 1.0, "digits": "12a4"},
    {"type": "digits", "t": 1.0, "digits": "1234", "window": "long"},
])
def test_bad_digit_steps_are_clear_errors(step):
    with pytest.raises(InvalidInputError):
        digit_prompts({"steps": [step]})


def test_time_window_of_prompt():
    p = DigitPrompt(2.0, "1234", 4.0)
    assert TimeWindow(p.t, p.end) == TimeWindow(2.0, 6.0)
