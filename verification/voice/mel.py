"""Power mel spectrogram in numpy, numerically matching ``librosa.feature.melspectrogram`` defaults.

The GE2E speaker encoder was trained on librosa's mel frames, so its front end must be reproduced
exactly; librosa itself (numba, soundfile, audioread ...) is too heavy a run-time dependency for
one STFT. Matched defaults: centred frames with zero ("constant") padding of ``n_fft // 2`` on
both sides, periodic Hann window of length ``n_fft``, power 2, Slaney mel scale with Slaney area
normalisation, ``fmin = 0``, ``fmax = sr / 2``. The conversion script measures the difference to
librosa and stores a golden (``tests/data/golden/speaker_mel.npz``) that a test re-checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# Slaney's auditory-toolbox mel scale: linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel value of each frequency (Hz)."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _F_SP
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, linear)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * _F_SP
    log_part = _MIN_LOG_HZ * np.exp(_LOG_STEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log_part, linear)


@dataclass(frozen=True)
class MelConfig:
    """STFT + filterbank parameters (the defaults are GE2E / Resemblyzer's)."""

    sample_rate: int = 16_000
    n_fft: int = 400  # 25 ms
    hop_length: int = 160  # 10 ms
    n_mels: int = 40
    fmin: float = 0.0
    fmax: float | None = None  # None: sample_rate / 2


@lru_cache(maxsize=8)
def mel_filterbank(config: MelConfig = MelConfig()) -> np.ndarray:
    """Slaney-normalised triangular filters, shape ``(n_mels, 1 + n_fft // 2)``, float32."""
    fmax = config.sample_rate / 2.0 if config.fmax is None else config.fmax
    n_bins = 1 + config.n_fft // 2
    fft_freqs = np.linspace(0.0, config.sample_rate / 2.0, n_bins)
    mel_points = np.linspace(hz_to_mel(config.fmin), hz_to_mel(fmax), config.n_mels + 2)
    edges = mel_to_hz(mel_points)
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    weights = np.zeros((config.n_mels, n_bins), dtype=np.float64)
    for i in range(config.n_mels):
        rising = -ramps[i] / widths[i]
        falling = ramps[i + 2] / widths[i + 1]
        weights[i] = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2 : config.n_mels + 2] - edges[: config.n_mels]))[:, None]
    weights = weights.astype(np.float32)
    weights.setflags(write=False)
    return weights


@lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    """Periodic Hann window (what ``scipy.signal.get_window('hann', n, fftbins=True)`` gives)."""
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)
    window.setflags(write=False)
    return window


def power_spectrogram(wav: np.ndarray, config: MelConfig = MelConfig()) -> np.ndarray:
    """Centred, zero-padded, Hann-windowed ``|STFT|^2``; shape ``(1 + n_fft // 2, n_frames)``."""
    wav = np.asarray(wav, dtype=np.float64).reshape(-1)
    pad = config.n_fft // 2
    padded = np.pad(wav, (pad, pad), mode="constant")
    if padded.size < config.n_fft:
        raise ValueError(f"audio too short for one STFT frame ({wav.size} samples)")
    frames = np.lib.stride_tricks.sliding_window_view(padded, config.n_fft)[:: config.hop_length]
    spectrum = np.fft.rfft(frames * _hann(config.n_fft), axis=1)
    return (spectrum.real**2 + spectrum.imag**2).T


def mel_spectrogram(wav: np.ndarray, config: MelConfig = MelConfig()) -> np.ndarray:
    """Power mel spectrogram (not log), shape ``(n_mels, n_frames)``, float32 - librosa's layout."""
    power = power_spectrogram(wav, config)
    return (mel_filterbank(config).astype(np.float64) @ power).astype(np.float32)


def mel_frames(wav: np.ndarray, config: MelConfig = MelConfig()) -> np.ndarray:
    """Mel frames as the GE2E encoder takes them: shape ``(n_frames, n_mels)``, float32."""
    return np.ascontiguousarray(mel_spectrogram(wav, config).T)
