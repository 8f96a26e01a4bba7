"""AASIST (synthetic / replayed speech cue) on the real speech in ``../shared/media``.

Run: ``.venv/bin/python -m benchmarks.eval_antispoof``

What it measures:

* the **false-alarm rate** of AASIST's own decision (spoof margin > 0) on real speech -
  LibriSpeech, CMU ARCTIC, the two-speaker sample and the GRID clips' audio - scored the way the
  voice stage scores it (Silero-VAD-gated speech, 4.04 s windows; a file with less speech is
  tiled to one window, as the model's package does);
* the quantiles of those real-speech margins (the table
  ``verification.voice.spoofcue.REAL_SPEECH_MARGIN_QUANTILES`` is copied from this output) and
  the false-alarm rate at the "strong" threshold;
* as a sanity check that the model reacts to synthesis artefacts at all: the same LibriSpeech
  utterances resynthesised by Griffin-Lim phase reconstruction from their magnitude spectrogram
  (a classic vocoder; no TTS or voice-conversion system is available offline to test with).
"""

from __future__ import annotations

import glob
import time
from pathlib import Path

import numpy as np

from verification.runtime import ModelRegistry
from verification.voice.antispoof import WINDOW_SAMPLES
from verification.voice.audio_io import read_audio_16k
from verification.voice.spoofcue import STRONG_MARGIN

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
GROUPS = {
    "librispeech": sorted(glob.glob(str(MEDIA / "speech" / "librispeech" / "*" / "*.flac"))),
    "cmu_arctic": sorted(glob.glob(str(MEDIA / "speech" / "cmu_arctic" / "*.wav"))),
    "two_speakers": [str(MEDIA / "speech" / "two_speakers" / "sample.wav")],
    "grid_audio": sorted(glob.glob(str(MEDIA / "face_video" / "grid" / "*.mpg"))),
}


def speech_windows(vad, wav: np.ndarray) -> list[np.ndarray]:
    found = vad.detect(wav)
    if not found.segments:
        return []
    speech = np.concatenate([wav[s.start_sample:s.end_sample] for s in found.segments])
    if len(speech) < WINDOW_SAMPLES:
        return [speech]  # the detector tiles it to one window
    return [speech[i:i + WINDOW_SAMPLES]
            for i in range(0, len(speech) - WINDOW_SAMPLES + 1, WINDOW_SAMPLES)]


def griffin_lim(wav: np.ndarray, rng: np.random.Generator, n_fft: int = 512, hop: int = 128,
                iterations: int = 32) -> np.ndarray:
    window = np.hanning(n_fft)

    def stft(x: np.ndarray) -> np.ndarray:
        padded = np.pad(x, (n_fft // 2, n_fft // 2))
        frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop] * window
        return np.fft.rfft(frames, axis=1)

    def istft(spec: np.ndarray, length: int) -> np.ndarray:
        frames = np.fft.irfft(spec, n_fft, axis=1) * window
        out = np.zeros(hop * (len(frames) - 1) + n_fft)
        norm = np.zeros_like(out)
        for k, frame in enumerate(frames):
            out[k * hop:k * hop + n_fft] += frame
            norm[k * hop:k * hop + n_fft] += window ** 2
        return (out / np.maximum(norm, 1e-8))[n_fft // 2:n_fft // 2 + length]

    x = wav.astype(np.float64)
    magnitude = np.abs(stft(x))
    spec = magnitude * np.exp(2j * np.pi * rng.random(magnitude.shape))
    for _ in range(iterations):
        spec = magnitude * np.exp(1j * np.angle(stft(istft(spec, len(x)))))
    return istft(spec, len(x)).astype(np.float32)


def main() -> None:
    started = time.time()
    registry = ModelRegistry.from_manifest(provider="cpu")
    vad, detector = registry.adapter("vad"), registry.adapter("voice_antispoof")
    all_margins = []
    latencies = []
    print("AASIST on real speech (VAD-gated 4.04 s windows):")
    for group, files in GROUPS.items():
        margins = []
        for path in files:
            for window in speech_windows(vad, read_audio_16k(path)):
                score = detector.score(window)
                margins.append(score.spoof_margin)
                latencies.append(score.latency_ms)
        m = np.array(margins)
        all_margins += margins
        print(f"  {group:13s} windows {len(m):3d}  called spoof (margin > 0): "
              f"{np.mean(m > 0):6.1%}  margin median {np.median(m):6.2f}  max {m.max():6.2f}  "
              f"at strong threshold {STRONG_MARGIN}: {np.mean(m >= STRONG_MARGIN):.1%}")
    m = np.array(all_margins)
    quantiles = np.quantile(m, np.linspace(0, 1, 11))
    print(f"  all real     windows {len(m):3d}  false alarms at margin > 0: {np.mean(m > 0):.1%};"
          f" at {STRONG_MARGIN}: {np.mean(m >= STRONG_MARGIN):.1%}")
    print(f"  quantiles 0..100% by 10: ({', '.join(f'{q:.2f}' for q in quantiles)})")
    print(f"  latency per window: median {np.median(latencies):.0f} ms")

    rng = np.random.default_rng(0)
    real, vocoded = [], []
    for path in GROUPS["librispeech"][::6]:
        wav = read_audio_16k(path)
        windows = speech_windows(vad, wav)
        if not windows:
            continue
        real.append(detector.score(windows[0]).spoof_margin)
        vocoded.append(detector.score(griffin_lim(windows[0], rng)).spoof_margin)
    real_v, voc_v = np.array(real), np.array(vocoded)
    print(f"\nGriffin-Lim resynthesis of {len(real_v)} LibriSpeech windows: margin real median "
          f"{np.median(real_v):.2f} -> vocoded median {np.median(voc_v):.2f}; vocoded higher in "
          f"{np.mean(voc_v > real_v):.0%} of pairs; vocoded above the strong threshold: "
          f"{np.mean(voc_v >= STRONG_MARGIN):.0%}")
    print(f"\n({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
