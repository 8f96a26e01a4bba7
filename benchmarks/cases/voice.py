"""Benchmark cases for the voice models, on the LibriSpeech clips in tests/data/speech.

* ``vad``: one streaming step (one 32 ms chunk of real speech, the stream's state carried), the
  unit the server pays per chunk per interview.
* ``speaker_embedding``: ``embed_utterance`` on a 3.2 s utterance (volume norm, numpy mel,
  3 partials in one ONNX call, averaging).
* ``voice_antispoof``: ``score`` on a 3.2 s clip (one tiled 4.04 s window).

Batch cases: ``vad`` steps N streams in one call; ``speaker_embedding`` embeds audio long enough
for exactly N partials; ``voice_antispoof`` scores N consecutive 4.04 s windows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from verification.voice.antispoof import WINDOW_SAMPLES, AasistDetector
from verification.voice.audio_io import read_audio_16k
from verification.voice.speaker import partial_slices
from verification.voice.vad import CHUNK_SAMPLES

_CLIP = "1998-15444-0007.flac"


def _speech(data_dir: Path, min_samples: int = 0) -> np.ndarray:
    """All test clips concatenated (repeated until at least ``min_samples`` long)."""
    wav = np.concatenate([read_audio_16k(p) for p in sorted((data_dir / "speech").glob("*.flac"))])
    if wav.size < min_samples:
        wav = np.tile(wav, min_samples // wav.size + 1)
    return wav


def vad_case(registry, data_dir: Path) -> Callable[[], object]:
    vad = registry.adapter("vad")
    wav = read_audio_16k(data_dir / "speech" / _CLIP)
    chunks = wav[: wav.size // CHUNK_SAMPLES * CHUNK_SAMPLES].reshape(-1, CHUNK_SAMPLES)
    state = vad.new_state()
    position = [0]

    def run() -> object:
        chunk = chunks[position[0] % len(chunks)]
        position[0] += 1
        return vad.speech_probability(chunk, state)

    return run


def vad_batch_case(registry, data_dir: Path, batch: int) -> Callable[[], object]:
    vad = registry.adapter("vad")
    wav = _speech(data_dir, batch * CHUNK_SAMPLES * 8)
    chunks = wav[: wav.size // CHUNK_SAMPLES * CHUNK_SAMPLES].reshape(-1, CHUNK_SAMPLES)
    states = [vad.new_state() for _ in range(batch)]
    position = [0]

    def run() -> object:
        start = (position[0] * batch) % (len(chunks) - batch)
        position[0] += 1
        return vad.speech_probabilities_batch(chunks[start : start + batch], states)

    return run


def speaker_case(registry, data_dir: Path) -> Callable[[], object]:
    encoder = registry.adapter("speaker_embedding")
    wav = read_audio_16k(data_dir / "speech" / _CLIP)
    return lambda: encoder.embed_utterance(wav)


def speaker_batch_case(registry, data_dir: Path, batch: int) -> Callable[[], object]:
    encoder = registry.adapter("speaker_embedding")
    n_samples = (160 + 77 * (batch - 1)) * 160  # exactly ``batch`` partials
    wav = _speech(data_dir, n_samples)[:n_samples]
    assert len(partial_slices(wav.size)) == batch
    return lambda: encoder.embed_utterance(wav)


def antispoof_case(registry, data_dir: Path) -> Callable[[], object]:
    detector = registry.adapter("voice_antispoof")
    wav = read_audio_16k(data_dir / "speech" / _CLIP)
    return lambda: detector.score(wav)


def antispoof_batch_case(registry, data_dir: Path, batch: int) -> Callable[[], object]:
    detector = AasistDetector(registry.load("voice_antispoof"), max_windows=batch)
    wav = _speech(data_dir, batch * WINDOW_SAMPLES)[: batch * WINDOW_SAMPLES]
    return lambda: detector.score(wav)


CASES = {
    "vad": vad_case,
    "speaker_embedding": speaker_case,
    "voice_antispoof": antispoof_case,
}

BATCH_CASES = {
    "vad": vad_batch_case,
    "speaker_embedding": speaker_batch_case,
    "voice_antispoof": antispoof_batch_case,
}
