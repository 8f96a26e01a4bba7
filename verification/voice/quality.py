"""Audio quality as evidence: speech level, clipping, and signal-to-noise ratio.

Why: a voiceprint or lip-sync result on audio that is too quiet, clipped or buried in noise must
be read as weak, and a reviewer needs to know the channel was poor before blaming the applicant.
The meter is fed the stream's 32 ms VAD chunks with their speech probabilities, so "speech
level" is the level *while speaking* and "noise" is the level in the pauses; SNR is their
difference. Levels are kept in a fixed 0.5 dB histogram, so memory does not grow with the
length of the interview and percentiles stay exact to the bin width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Thresholds for flags (dBFS = dB relative to digital full scale, RMS of a 32 ms chunk).
QUIET_SPEECH_DBFS = -42.0  # median speech chunk below this: applicant too far / mic gain low
NOISY_SNR_DB = 12.0  # speech median vs pause median: below this, speech models degrade
CLIPPING_SHARE = 0.002  # share of speech samples at digital full scale
_CLIP_LEVEL = 0.999
_SPEECH_PROBABILITY = 0.5
_PAUSE_PROBABILITY = 0.15
_FLOOR_DB = -100.0
_BIN_DB = 0.5
_N_BINS = int(-_FLOOR_DB / _BIN_DB) + 1


@dataclass(frozen=True)
class AudioQualityReport:
    """Whole-stream audio quality; ``None`` where there was nothing to measure."""

    speech_s: float
    pause_s: float
    speech_level_dbfs: float | None  # median RMS of speech chunks
    noise_level_dbfs: float | None  # median RMS of pause chunks
    snr_db: float | None
    clipped_share: float  # clipped samples / speech samples
    peak_dbfs: float | None

    @property
    def flags(self) -> tuple[str, ...]:
        out = []
        if self.speech_level_dbfs is not None and self.speech_level_dbfs < QUIET_SPEECH_DBFS:
            out.append("audio_too_quiet")
        if self.clipped_share > CLIPPING_SHARE:
            out.append("audio_clipping")
        if self.snr_db is not None and self.snr_db < NOISY_SNR_DB:
            out.append("audio_noisy")
        return tuple(out)

    def to_details(self) -> dict[str, float | None]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 2)
        return {"speech_s": r(self.speech_s), "pause_s": r(self.pause_s),
                "speech_level_dbfs": r(self.speech_level_dbfs),
                "noise_level_dbfs": r(self.noise_level_dbfs), "snr_db": r(self.snr_db),
                "clipped_share": round(self.clipped_share, 5), "peak_dbfs": r(self.peak_dbfs)}


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level in dBFS (a full-scale sine is -3 dBFS); silence gives the -100 dB floor."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        return _FLOOR_DB
    rms = float(np.sqrt(np.mean(x * x)))
    return max(_FLOOR_DB, 20.0 * np.log10(rms)) if rms > 0 else _FLOOR_DB


class AudioQualityMeter:
    """Accumulates per-chunk levels by speech probability; bounded memory."""

    def __init__(self, sample_rate: int = 16_000) -> None:
        self.sample_rate = sample_rate
        self._speech = np.zeros(_N_BINS, np.int64)
        self._pause = np.zeros(_N_BINS, np.int64)
        self._speech_samples = 0
        self._pause_samples = 0
        self._clipped = 0
        self._peak = 0.0

    def add(self, chunk: np.ndarray, speech_probability: float) -> None:
        level = rms_dbfs(chunk)
        index = min(_N_BINS - 1, int(round((level - _FLOOR_DB) / _BIN_DB)))
        peak = float(np.max(np.abs(chunk))) if len(chunk) else 0.0
        self._peak = max(self._peak, peak)
        if speech_probability >= _SPEECH_PROBABILITY:
            self._speech[index] += 1
            self._speech_samples += len(chunk)
            self._clipped += int(np.count_nonzero(np.abs(chunk) >= _CLIP_LEVEL))
        elif speech_probability <= _PAUSE_PROBABILITY:
            self._pause[index] += 1
            self._pause_samples += len(chunk)

    @staticmethod
    def _median_db(hist: np.ndarray) -> float | None:
        total = int(hist.sum())
        if total == 0:
            return None
        index = int(np.searchsorted(np.cumsum(hist), (total + 1) / 2))
        return _FLOOR_DB + index * _BIN_DB

    def report(self) -> AudioQualityReport:
        speech = self._median_db(self._speech)
        noise = self._median_db(self._pause)
        snr = None if speech is None or noise is None else speech - noise
        clipped = self._clipped / self._speech_samples if self._speech_samples else 0.0
        peak = 20.0 * np.log10(self._peak) if self._peak > 0 else None
        return AudioQualityReport(self._speech_samples / self.sample_rate,
                                  self._pause_samples / self.sample_rate, speech, noise, snr,
                                  clipped, None if peak is None else float(peak))
