"""GE2E (Resemblyzer) speaker embedding: a 256-d voiceprint per utterance, compared by cosine.

Reproduces ``resemblyzer.VoiceEncoder.embed_utterance`` with numpy + onnxruntime: volume
normalisation to -30 dBFS (increase only), librosa-identical mel frames (:mod:`.mel`), 1.6 s
partials at 1.3 per second, mean of the partial embeddings, L2 normalisation. The conversion
script measured the cosine between this path and the package's own on real speech.

Resemblyzer trims long silences with webrtcvad; here callers pass the speech regions they found
with Silero VAD (``speech_segments``) or a per-sample ``speech_mask`` instead. Like Resemblyzer,
volume is normalised on the whole input first and non-speech is dropped afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from verification.voice.mel import MelConfig, mel_frames
from verification.voice.vad import SpeechSegment

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
_INT16_MAX = 2**15 - 1


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value
class SpeakerEmbedding:
    """Utterance voiceprint. ``vector`` is unit length (read-only array)."""

    vector: np.ndarray  # (256,) float32
    n_partials: int
    speech_s: float  # audio that went into the embedding
    latency_ms: float

    def similarity(self, other: SpeakerEmbedding) -> float:
        return cosine_similarity(self.vector, other.vector)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two embeddings (GE2E vectors are non-negative, so in [0, 1] in practice)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    if denom == 0.0:
        raise ValueError("cosine similarity of a zero vector")
    return float(a @ b / denom)


def normalize_volume(wav: np.ndarray, target_dbfs: float = -30.0) -> np.ndarray:
    """Raise (never lower) the RMS level to ``target_dbfs``, as Resemblyzer's preprocessing does."""
    wav = np.asarray(wav, dtype=np.float32)
    rms = float(np.sqrt(np.mean((wav.astype(np.float64) * _INT16_MAX) ** 2)))
    if rms == 0.0:
        return wav
    change_db = target_dbfs - 20.0 * np.log10(rms / _INT16_MAX)
    if change_db < 0:
        return wav
    return (wav * np.float32(10.0 ** (change_db / 20.0))).astype(np.float32)


def partial_slices(n_samples: int, partial_frames: int = 160, hop_length: int = 160,
                   rate: float = 1.3, min_coverage: float = 0.75) -> list[tuple[int, int]]:
    """Frame ranges ``[start, stop)`` of the partial utterances (Resemblyzer's rule).

    One partial every ``round(sr / rate / hop)`` frames over the whole utterance; the last is
    kept only if at least ``min_coverage`` of it is real audio (or if it is the only one).
    Ranges may run past the audio: the caller zero-pads to ``stop * hop_length`` samples.
    """
    if not 0 < min_coverage <= 1:
        raise ValueError("min_coverage must be in (0, 1]")
    n_frames = int(np.ceil((n_samples + 1) / hop_length))
    frame_step = int(np.round((SAMPLE_RATE / rate) / hop_length))
    if not 0 < frame_step <= partial_frames:
        raise ValueError(f"rate {rate} gives frame step {frame_step}")
    steps = max(1, n_frames - partial_frames + frame_step + 1)
    slices = [(i, i + partial_frames) for i in range(0, steps, frame_step)]
    start, stop = slices[-1]
    coverage = (n_samples - start * hop_length) / ((stop - start) * hop_length)
    if coverage < min_coverage and len(slices) > 1:
        slices.pop()
    return slices


def _speech_only(wav: np.ndarray, speech_segments: Sequence[SpeechSegment] | None,
                 speech_mask: np.ndarray | None) -> np.ndarray:
    if speech_segments is not None and speech_mask is not None:
        raise ValueError("pass speech_segments or speech_mask, not both")
    if speech_segments is not None:
        mask = np.zeros(wav.size, dtype=bool)
        for seg in speech_segments:
            mask[max(0, seg.start_sample) : min(wav.size, seg.end_sample)] = True
        return wav[mask]
    if speech_mask is not None:
        speech_mask = np.asarray(speech_mask, dtype=bool).reshape(-1)
        if speech_mask.size != wav.size:
            raise ValueError(f"speech_mask has {speech_mask.size} entries for {wav.size} samples")
        return wav[speech_mask]
    return wav


class Ge2eSpeakerEncoder:
    """Speaker encoder over onnxruntime (model ``speaker_embedding``, dynamic batch of partials)."""

    def __init__(self, model) -> None:
        self.model = model
        extra = dict(getattr(getattr(model, "spec", None), "extra", None) or {})
        self.partial_frames = int(extra.get("partial_frames", 160))
        self.rate = float(extra.get("partials_per_second", 1.3))
        self.min_coverage = float(extra.get("min_coverage", 0.75))
        self.target_dbfs = float(extra.get("volume_target_dbfs", -30.0))
        self.mel_config = MelConfig(sample_rate=int(extra.get("sample_rate", SAMPLE_RATE)),
                                    n_fft=int(extra.get("n_fft", 400)),
                                    hop_length=int(extra.get("hop_length", 160)),
                                    n_mels=int(extra.get("n_mels", 40)))

    def partial_mels(self, wav: np.ndarray) -> np.ndarray:
        """Volume-normalised speech -> ``(n_partials, partial_frames, n_mels)`` float32."""
        hop = self.mel_config.hop_length
        slices = partial_slices(wav.size, self.partial_frames, hop, self.rate, self.min_coverage)
        needed = slices[-1][1] * hop
        if needed >= wav.size:
            wav = np.pad(wav, (0, needed - wav.size))
        frames = mel_frames(wav, self.mel_config)
        return np.stack([frames[a:b] for a, b in slices]).astype(np.float32)

    def embed_partials(self, mels: np.ndarray) -> tuple[np.ndarray, float]:
        """Unit embeddings of a batch of partials; returns ``(embeddings, latency_ms)``."""
        res = self.model.run({"mels": np.ascontiguousarray(mels, dtype=np.float32)})
        return np.asarray(res.outputs["embedding"], dtype=np.float32), float(res.latency_ms)

    def embed_utterance(self, wav: np.ndarray, *,
                        speech_segments: Sequence[SpeechSegment] | None = None,
                        speech_mask: np.ndarray | None = None) -> SpeakerEmbedding:
        """Voiceprint of one 16 kHz mono float32 utterance (optionally only its speech regions)."""
        wav = np.asarray(wav, dtype=np.float32).reshape(-1)
        wav = normalize_volume(wav, self.target_dbfs)
        wav = _speech_only(wav, speech_segments, speech_mask)
        if wav.size == 0:
            raise ValueError("no speech samples to embed")
        mels = self.partial_mels(wav)
        partials, latency = self.embed_partials(mels)
        mean = partials.astype(np.float64).mean(axis=0)
        norm = np.linalg.norm(mean)
        if not np.isfinite(norm) or norm == 0.0:
            raise ValueError("speaker embedding is degenerate (no usable signal)")
        vector = (mean / norm).astype(np.float32)
        vector.setflags(write=False)
        logger.debug("speaker embedding: %d partials, %.2f s, %.1f ms", len(partials),
                     wav.size / SAMPLE_RATE, latency)
        return SpeakerEmbedding(vector, len(partials), wav.size / SAMPLE_RATE, latency)
