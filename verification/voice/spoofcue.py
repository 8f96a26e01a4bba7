"""Replay / synthetic-speech cues: AASIST as one calibrated, weak signal, plus channel cues.

Why weak: AASIST was trained on ASVspoof 2019 LA (studio TTS and voice conversion). On the real
speech in ``../shared/media`` its native decision (spoof margin > 0) calls 88% of the 4 s
windows spoofed (``benchmarks/eval_antispoof.py`` prints the numbers), so the raw output cannot
reject anyone. It does react to synthesis: Griffin-Lim resynthesis of the same LibriSpeech
windows raises the margin in every pair (median 3.8 -> 6.8), but not beyond what real speech
reaches. What it can do is rank: the cue reported here is the margin's *tail
probability among real speech* (share of real-speech windows scoring at least as high), and it
becomes evidence against the voice only above every margin real speech reached, with room to
spare (``STRONG_MARGIN``). Below that it is reported for reviewers and changes nothing.

Channel cues (band limit, low-frequency roll-off of the speech spectrum) are measured and
reported in the quality evidence, but not used to decide: the media at hand has no replayed
recordings to validate them on, and WebRTC's own codec band-limits genuine speech at low
bitrates, so they did not prove out.

AASIST costs 0.6-1.6 s of CPU per 4 s window on this 2-core machine (0.6 when it is quiet), so
a session scores at most ``MAX_WINDOWS`` window of speech.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from verification.voice.antispoof import WINDOW_SAMPLES, AasistDetector

# Margins (logit spoof - logit bona fide) of VAD-gated real speech, 4.04 s windows: quantiles at
# 0, 10, ..., 90, 100 % of the 98 windows of LibriSpeech test-other, CMU ARCTIC, GRID and the
# two-speaker sample (benchmarks/eval_antispoof.py prints them).
REAL_SPEECH_MARGIN_QUANTILES = (-4.89, -0.44, 0.84, 1.61, 2.82, 3.62, 4.43, 4.89, 5.54, 6.78,
                                9.98)
STRONG_MARGIN = 12.0  # above the highest real-speech margin (9.98) by a clear step
MAX_WINDOWS = 1  # one window per interview: the cue is advisory, and 0.6-1.6 s of CPU each
MIN_SPACING_S = 30.0


@dataclass(frozen=True)
class SpoofCue:
    margin: float
    real_tail_probability: float  # share of real speech windows with a margin >= this one
    strong: bool
    analysed_s: float
    latency_ms: float

    def to_details(self) -> dict[str, float | bool]:
        return {"aasist_margin": round(self.margin, 3),
                "real_speech_tail_probability": round(self.real_tail_probability, 3),
                "strong": self.strong, "analysed_s": round(self.analysed_s, 2)}


def real_tail_probability(margin: float) -> float:
    """Share of real-speech windows whose margin is >= ``margin`` (interpolated quantiles)."""
    q = np.asarray(REAL_SPEECH_MARGIN_QUANTILES)
    levels = np.linspace(0.0, 1.0, len(q))
    if margin > q[-1]:
        return 0.0
    return float(1.0 - np.interp(margin, q, levels))


def score_window(detector: AasistDetector, speech: np.ndarray) -> SpoofCue:
    """AASIST on one window of speech-only audio (at most 4.04 s are used)."""
    clip = np.asarray(speech, dtype=np.float32)[:WINDOW_SAMPLES]
    result = detector.score(clip)
    margin = float(result.spoof_margin)
    return SpoofCue(margin, real_tail_probability(margin), margin >= STRONG_MARGIN,
                    result.analysed_s, result.latency_ms)


@dataclass(frozen=True)
class ChannelCues:
    """Shape of the long-term speech spectrum (reported, not decided on)."""

    bandwidth_hz: float  # highest frequency within 40 dB of the spectral peak
    low_band_ratio_db: float  # 50-250 Hz energy relative to 250-4000 Hz

    def to_details(self) -> dict[str, float]:
        return {"bandwidth_hz": round(self.bandwidth_hz, 1),
                "low_band_ratio_db": round(self.low_band_ratio_db, 2)}


class SpectrumAccumulator:
    """Mean power spectrum of speech chunks (512-point FFT), bounded memory."""

    def __init__(self, n_fft: int = 512, sample_rate: int = 16_000) -> None:
        self.n_fft = n_fft
        self.freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
        self._window = np.hanning(n_fft)
        self._sum = np.zeros(len(self.freqs))
        self.count = 0

    def add(self, chunk: np.ndarray) -> None:
        if len(chunk) != self.n_fft:
            return
        spectrum = np.fft.rfft(np.asarray(chunk, dtype=np.float64) * self._window)
        self._sum += spectrum.real ** 2 + spectrum.imag ** 2
        self.count += 1

    def cues(self) -> ChannelCues | None:
        if self.count < 10:
            return None
        mean = self._sum / self.count
        db = 10 * np.log10(mean + 1e-20)
        above = np.flatnonzero(db >= db.max() - 40.0)
        bandwidth = float(self.freqs[above[-1]]) if len(above) else 0.0
        low = mean[(self.freqs >= 50) & (self.freqs < 250)].sum()
        mid = mean[(self.freqs >= 250) & (self.freqs < 4000)].sum()
        ratio = float(10 * np.log10((low + 1e-20) / (mid + 1e-20)))
        return ChannelCues(bandwidth, ratio)
