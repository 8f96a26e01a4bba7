"""Speaker-embedding windows over the speech of a stream (VAD-gated), with their media times.

Why windows: one embedding per interview hides a second speaker; one per 1.6 s of *speech*
(the GE2E model's native partial length) at a 0.8 s hop gives a time series that continuity,
second-voice clustering and the session voiceprint are all built from. Only audio the VAD calls
speech goes in (pauses carry the channel, not the speaker), and windows never span a gap in the
received audio. Each window remembers the media time of its first and last speech sample, so a
finding ("another voice 12.4-15.0 s") points at the recording, and the noise heard in the
pauses around it, so a change of room or microphone is not mistaken for a change of speaker.

GE2E takes power (not log) mel frames, so its embedding moves with the input level; Resemblyzer
only *raises* quiet utterances to -30 dBFS. Here every window of speech is set to exactly
-30 dBFS: the same speaker leaning away from the microphone must stay the same voice (on
LibriSpeech, a 12 dB drop mid-session split one speaker into two voices without this).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from verification.voice.speaker import Ge2eSpeakerEncoder

SAMPLE_RATE = 16_000
WINDOW_S = 1.6
HOP_S = 0.8


@dataclass(frozen=True, eq=False)
class SpeechWindow:
    """The embedding of ``speech_s`` seconds of speech heard between ``start`` and ``end``."""

    start: float
    end: float
    speech_s: float
    vector: np.ndarray  # (256,) unit length
    level_dbfs: float  # speech level before normalisation
    latency_ms: float
    # Noise heard in the pauses around the window, per frequency band (dBFS); None before any
    # pause was heard. Absolute, not relative to the speech: a coach further from the microphone
    # speaks more quietly over the same room noise.
    noise_bands: np.ndarray | None = None


class SpeechWindowCollector:
    """Collects speech samples with their media times and embeds a window every hop.

    Memory is bounded by one window of audio; the caller keeps (or bounds) the windows.
    """

    def __init__(self, encoder: Ge2eSpeakerEncoder, window_s: float = WINDOW_S,
                 hop_s: float = HOP_S) -> None:
        self.encoder = encoder
        self.window = int(window_s * SAMPLE_RATE)
        self.hop = int(hop_s * SAMPLE_RATE)
        self._samples: deque[np.ndarray] = deque()
        self._times: deque[np.ndarray] = deque()  # media time of each buffered sample's chunk
        self._buffered = 0
        self._last_time: float | None = None
        #: The stream's current noise spectrum (band levels of the pauses, dBFS), stamped on
        #: each new window.
        self.noise_bands: np.ndarray | None = None

    def reset(self) -> None:
        """Forget buffered speech (after a gap in the received audio)."""
        self._samples.clear()
        self._times.clear()
        self._buffered = 0
        self._last_time = None

    def add(self, samples: np.ndarray, start: float) -> list[SpeechWindow]:
        """Speech samples starting at media time ``start``; returns windows completed by them."""
        if len(samples) == 0:
            return []
        samples = np.asarray(samples, dtype=np.float32)
        times = start + np.arange(len(samples), dtype=np.float64) / SAMPLE_RATE
        self._samples.append(samples)
        self._times.append(times)
        self._buffered += len(samples)
        out = []
        while self._buffered >= self.window:
            audio = np.concatenate(self._samples)
            stamps = np.concatenate(self._times)
            out.append(self._embed(audio[: self.window], stamps[: self.window]))
            audio, stamps = audio[self.hop:], stamps[self.hop:]
            self._samples = deque([audio])
            self._times = deque([stamps])
            self._buffered = len(audio)
        return out

    def _embed(self, audio: np.ndarray, stamps: np.ndarray) -> SpeechWindow:
        level = float(20 * np.log10(np.sqrt(np.mean(audio.astype(np.float64) ** 2)) + 1e-12))
        wav = set_level(audio, self.encoder.target_dbfs)
        mels = self.encoder.partial_mels(wav)[:1]  # one 160-frame partial = the whole window
        vectors, latency = self.encoder.embed_partials(mels)
        vector = vectors[0].astype(np.float32)
        norm = float(np.linalg.norm(vector))
        if norm > 0:
            vector = vector / norm
        vector.setflags(write=False)
        return SpeechWindow(float(stamps[0]), float(stamps[-1]) + 1.0 / SAMPLE_RATE,
                            len(audio) / SAMPLE_RATE, vector, level, latency, self.noise_bands)


def set_level(wav: np.ndarray, target_dbfs: float) -> np.ndarray:
    """Scale to exactly ``target_dbfs`` RMS (dB re full scale, as Resemblyzer measures it)."""
    x = np.asarray(wav, dtype=np.float32)
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    if rms <= 0.0:
        return x
    return (x * np.float32(10.0 ** (target_dbfs / 20.0) / rms)).astype(np.float32)


def mean_voiceprint(windows: list[SpeechWindow]) -> np.ndarray:
    """Unit-length mean of window embeddings (Resemblyzer's utterance rule over partials)."""
    if not windows:
        raise ValueError("no speech windows")
    mean = np.mean([w.vector for w in windows], axis=0).astype(np.float64)
    norm = np.linalg.norm(mean)
    if norm == 0 or not np.isfinite(norm):
        raise ValueError("degenerate voiceprint")
    return (mean / norm).astype(np.float32)
