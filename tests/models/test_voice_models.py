"""Voice models on real speech: Silero VAD, GE2E speaker embedding, AASIST anti-spoofing.

Media: six LibriSpeech test-other utterances of three speakers in tests/data/speech (CC BY 4.0).
Golden ONNX-vs-original checks are in the generic model test; here we check behaviour and the
numpy front ends (mel vs librosa's recorded output, audio decoding, segmentation).
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from verification.runtime import ModelRegistry
from verification.voice.antispoof import WINDOW_SAMPLES, AasistDetector, window_clip
from verification.voice.audio_io import UnreadableAudioError, read_audio_16k
from verification.voice.mel import mel_filterbank, mel_frames
from verification.voice.speaker import Ge2eSpeakerEncoder, cosine_similarity, partial_slices
from verification.voice.vad import (
    CHUNK_SAMPLES,
    SegmenterConfig,
    SileroVad,
    SpeechSegment,
    segment_probabilities,
)

REPO = Path(__file__).resolve().parents[2]
SPEECH = REPO / "tests" / "data" / "speech"
SR = 16_000


def speaker_of(path: Path) -> str:
    return path.name.split("-")[0]


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    return ModelRegistry.from_manifest()


@pytest.fixture(scope="module")
def vad(registry) -> SileroVad:
    return registry.adapter("vad")


@pytest.fixture(scope="module")
def encoder(registry) -> Ge2eSpeakerEncoder:
    return registry.adapter("speaker_embedding")


@pytest.fixture(scope="module")
def antispoof(registry) -> AasistDetector:
    return registry.adapter("voice_antispoof")


@pytest.fixture(scope="module")
def utterances() -> dict[Path, np.ndarray]:
    files = sorted(SPEECH.glob("*.flac"))
    assert len({speaker_of(f) for f in files}) >= 3
    return {f: read_audio_16k(f) for f in files}


# ---------------------------------------------------------------- audio decoding


def test_read_audio_decodes_flac_at_16k(utterances):
    for path, wav in utterances.items():
        assert wav.dtype == np.float32 and wav.ndim == 1
        assert 2.0 < wav.size / SR < 6.0, path
        assert 0.01 < np.abs(wav).max() <= 1.0


def test_read_audio_resamples_and_downmixes(tmp_path):
    """A 48 kHz stereo WAV comes back as 16 kHz mono with the tone at the same frequency."""
    rate, seconds, tone = 48_000, 1.0, 1000.0
    t = np.arange(int(rate * seconds)) / rate
    left = 0.5 * np.sin(2 * np.pi * tone * t)
    stereo = np.stack([left, left], axis=1)
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((stereo * 32767).astype("<i2").tobytes())
    wav = read_audio_16k(path)
    assert abs(wav.size - SR * seconds) <= 64
    spectrum = np.abs(np.fft.rfft(wav))
    assert abs(np.argmax(spectrum) * SR / wav.size - tone) < 5
    assert 0.4 < np.abs(wav[1000:-1000]).max() < 0.6


def test_read_audio_rejects_non_audio(tmp_path):
    bogus = tmp_path / "not_audio.flac"
    bogus.write_text("this is not a flac file")
    with pytest.raises(UnreadableAudioError):
        read_audio_16k(bogus)
    with pytest.raises(ValueError):
        read_audio_16k(tmp_path / "missing.wav")


# ---------------------------------------------------------------- VAD


def test_vad_finds_speech_in_librispeech(vad, utterances):
    for path, wav in utterances.items():
        result = vad.detect(wav)
        duration = wav.size / SR
        assert result.has_speech, path
        assert result.probabilities.shape == (int(np.ceil(wav.size / CHUNK_SAMPLES)),)
        assert 0.5 * duration < result.speech_s <= duration, path
        for seg in result.segments:
            assert 0.0 <= seg.start_s < seg.end_s <= duration
        assert result.latency_ms > 0


def test_vad_no_speech_in_silence_and_low_noise(vad):
    rng = np.random.default_rng(7)
    n = 3 * SR
    signals = {
        "digital silence": np.zeros(n, np.float32),
        "white noise -60 dBFS": (rng.standard_normal(n) * 1e-3).astype(np.float32),
        "white noise -40 dBFS": (rng.standard_normal(n) * 1e-2).astype(np.float32),
        "brown noise": (np.cumsum(rng.standard_normal(n)) * 1e-4).astype(np.float32),
        "50 Hz hum": (0.01 * np.sin(2 * np.pi * 50 * np.arange(n) / SR)).astype(np.float32),
    }
    for name, signal in signals.items():
        result = vad.detect(signal)
        assert not result.has_speech, name
        assert result.probabilities.max() < 0.3, name


def test_vad_splits_speech_around_inserted_silence(vad, utterances):
    first, second = list(utterances.values())[:2]
    gap = np.zeros(2 * SR, np.float32)
    joined = np.concatenate([first, gap, second])
    result = vad.detect(joined)
    gap_start, gap_end = first.size / SR, (first.size + gap.size) / SR
    # Nothing inside the silent gap (beyond the 30 ms padding) and speech on both sides.
    for seg in result.segments:
        assert seg.end_s <= gap_start + 0.1 or seg.start_s >= gap_end - 0.1
    assert any(seg.end_s <= gap_start + 0.1 for seg in result.segments)
    assert any(seg.start_s >= gap_end - 0.1 for seg in result.segments)


def test_vad_streams_are_independent_and_match_offline(vad, utterances):
    """Irregular pushes on two interleaved streams give the offline per-chunk probabilities."""
    wavs = list(utterances.values())[:2]
    offline = [vad.detect(w).probabilities for w in wavs]
    states = [vad.new_state(), vad.new_state()]
    got: list[list[float]] = [[], []]
    sizes = [100, 700, 512, 1, 2000, 333]
    cursors = [0, 0]
    step = 0
    while any(c < w.size for c, w in zip(cursors, wavs, strict=True)):
        for i, wav in enumerate(wavs):
            size = sizes[(step + i) % len(sizes)]
            piece = wav[cursors[i] : cursors[i] + size]
            cursors[i] += size
            got[i].extend(p.probability for p in vad.process(piece, states[i]))
        step += 1
    for i in range(2):
        n_full = wavs[i].size // CHUNK_SAMPLES
        np.testing.assert_allclose(got[i], offline[i][:n_full], atol=1e-5)
        assert states[i].samples_consumed == n_full * CHUNK_SAMPLES


def test_vad_repeated_streams_are_answered_from_the_memo(vad, utterances):
    """Analyzers of one interview run VAD on the same audio: the repeats cost no model call
    and give exactly the first stream's probabilities and states."""
    wav = list(utterances.values())[2][: 40 * CHUNK_SAMPLES]
    first, second = vad.new_state(), vad.new_state()
    a = [p.probability for p in vad.process(wav, first)]
    hits = vad.memo_hits
    b = [p.probability for p in vad.process(wav, second)]
    assert a == b and vad.memo_hits - hits == len(a) == 40
    np.testing.assert_array_equal(first.state, second.state)
    second.state[:] = 0  # states are private copies: one stream never changes another's
    assert np.any(first.state != 0)


def test_vad_batch_step_matches_single_streams(vad, utterances):
    wavs = list(utterances.values())[:3]
    n_chunks = 20
    singles = []
    for wav in wavs:
        state = vad.new_state()
        singles.append([vad.speech_probability(wav[k * CHUNK_SAMPLES:(k + 1) * CHUNK_SAMPLES],
                                               state).probability for k in range(n_chunks)])
    states = [vad.new_state() for _ in wavs]
    batched = []
    for k in range(n_chunks):
        chunks = np.stack([w[k * CHUNK_SAMPLES:(k + 1) * CHUNK_SAMPLES] for w in wavs])
        batched.append([p.probability for p in vad.speech_probabilities_batch(chunks, states)])
    np.testing.assert_allclose(np.array(batched).T, np.array(singles), atol=1e-5)


def test_segmenter_hysteresis_on_synthetic_probabilities():
    cfg = SegmenterConfig(threshold=0.5, min_speech_s=0.25, min_silence_s=0.1, speech_pad_s=0.0)
    chunk_s = CHUNK_SAMPLES / SR
    # 0.64 s speech, 0.64 s of 0.4 (between exit 0.35 and entry 0.5: stays speech), 0.64 s speech.
    probs = [0.9] * 20 + [0.4] * 20 + [0.9] * 20 + [0.0] * 20
    segs = segment_probabilities(probs, len(probs) * CHUNK_SAMPLES, cfg)
    assert len(segs) == 1
    assert segs[0].start_sample == 0 and segs[0].end_sample == 60 * CHUNK_SAMPLES
    # A 0.1 s blip of speech is dropped (shorter than min_speech_s).
    blip = [0.0] * 10 + [0.9] * 3 + [0.0] * 20
    assert segment_probabilities(blip, len(blip) * CHUNK_SAMPLES, cfg) == ()
    # Two bursts separated by more than min_silence_s of low probability: two segments.
    two = [0.9] * 15 + [0.1] * 10 + [0.9] * 15
    segs = segment_probabilities(two, len(two) * CHUNK_SAMPLES, cfg)
    assert len(segs) == 2 and abs(segs[1].start_s - 25 * chunk_s) < 1e-9


# ---------------------------------------------------------------- speaker embedding


def test_numpy_mel_matches_librosa_golden():
    """Our numpy mel vs librosa.feature.melspectrogram output recorded at conversion time."""
    golden = np.load(REPO / "tests" / "data" / "golden" / "speaker_mel.npz")
    ours = mel_frames(golden["wav"])
    ref = golden["mel_frames"]
    assert ours.shape == ref.shape == (golden["wav"].size // 160 + 1, 40)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * float(ref.max()))
    fb = mel_filterbank()
    assert fb.shape == (40, 201) and np.all(fb >= 0)


def test_partial_slices_follow_resemblyzer_rule():
    assert partial_slices(3 * SR) == [(0, 160), (77, 237), (154, 314)]
    assert partial_slices(SR // 2) == [(0, 160)]  # always at least one partial
    # 2.4 s: the third partial would be under 75% real audio and is dropped.
    assert partial_slices(int(2.4 * SR)) == [(0, 160), (77, 237)]


def test_same_speaker_more_similar_than_different(encoder, utterances):
    embeds = {p: encoder.embed_utterance(w) for p, w in utterances.items()}
    for e in embeds.values():
        assert e.vector.shape == (256,) and abs(np.linalg.norm(e.vector) - 1) < 1e-5
        assert e.n_partials >= 2 and e.latency_ms > 0
    same, diff = [], []
    for a, b in combinations(embeds, 2):
        (same if speaker_of(a) == speaker_of(b) else diff).append(
            cosine_similarity(embeds[a].vector, embeds[b].vector))
    assert len(same) >= 3 and len(diff) >= 9
    assert min(same) > max(diff) + 0.05, (same, diff)


def test_vad_gating_makes_embedding_robust_to_silence(encoder, vad, utterances):
    """Gating by Silero segments undoes 5 s of added silence; without gating it hurts."""
    for wav in list(utterances.values())[:2]:
        clean = encoder.embed_utterance(wav, speech_segments=vad.detect(wav).segments)
        padded = np.concatenate([np.zeros(2 * SR, np.float32), wav, np.zeros(3 * SR, np.float32)])
        gated = encoder.embed_utterance(padded, speech_segments=vad.detect(padded).segments)
        ungated = encoder.embed_utterance(padded)
        assert gated.speech_s < ungated.speech_s
        assert clean.similarity(gated) > 0.97
        assert clean.similarity(gated) > clean.similarity(ungated)


def test_speaker_mask_validation(encoder, utterances):
    wav = next(iter(utterances.values()))
    with pytest.raises(ValueError):
        encoder.embed_utterance(wav, speech_mask=np.ones(wav.size - 1, bool))
    with pytest.raises(ValueError):
        encoder.embed_utterance(wav, speech_mask=np.zeros(wav.size, bool))
    with pytest.raises(ValueError):
        encoder.embed_utterance(wav, speech_mask=np.ones(wav.size, bool),
                                speech_segments=[SpeechSegment(0, 100)])
    full = encoder.embed_utterance(wav, speech_mask=np.ones(wav.size, bool))
    assert full.similarity(encoder.embed_utterance(wav)) > 0.99999


# ---------------------------------------------------------------- anti-spoofing


def test_antispoof_scores_real_speech(antispoof, utterances):
    for path, wav in utterances.items():
        score = antispoof.score(wav)
        assert np.isfinite(score.spoof_margin), path
        assert 0.0 <= score.spoof_probability <= 1.0
        assert len(score.window_margins) == 1
        assert 0 < score.analysed_s <= WINDOW_SAMPLES / SR + 1e-9
        assert score.latency_ms > 0


def test_antispoof_windows_long_audio(antispoof, utterances):
    wavs = list(utterances.values())
    long = np.concatenate(wavs[:3])  # about 9 s: two full windows, the short tail dropped
    score = antispoof.score(long)
    assert len(score.window_margins) == 2
    assert score.spoof_margin == pytest.approx(np.mean(score.window_margins))
    assert score.analysed_s == pytest.approx(2 * WINDOW_SAMPLES / SR)
    # Each window is peak-normalised; a short clip is tiled to fill the window.
    short = window_clip(wavs[0][: SR])
    assert short.shape == (WINDOW_SAMPLES,) and np.abs(short).max() == pytest.approx(1.0)
    np.testing.assert_allclose(short[SR : 2 * SR], short[:SR])


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_antispoof_flags_espeak_tts(antispoof, tmp_path):
    out = tmp_path / "tts.wav"
    subprocess.run(["espeak-ng", "-w", str(out), "Please read the following digits out loud: "
                    "four, seven, two, nine, one, three."], check=True, timeout=60)
    score = antispoof.score(read_audio_16k(out))
    assert score.leans_spoof, score
