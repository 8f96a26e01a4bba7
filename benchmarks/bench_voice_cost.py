"""CPU cost of the voice stage per live session, as a share of one core.

Run: ``.venv/bin/python -m benchmarks.bench_voice_cost [--seconds 90]``

A live-like interview is built from real speech: LibriSpeech utterances with 1-3 s pauses
between them (the speech share is printed; more speech costs more), fed in 0.5 s blocks - the
ring buffer's cadence - to

* the voice stage (:class:`verification.voice.analyzer.VoiceStream`: VAD, quality meter,
  speaker windows, voiceprint/continuity/second-voice summary, one AASIST window);
* the audio side of the lip-sync cue (its own VAD state, the speech envelope, the sync tests on
  each utterance), with a mouth signal at 25 frames per second - the mouth itself comes from
  the face stage's mesh, which the face stage pays for (its cost is the face benchmark's).

CPU time is the calling thread's (``time.thread_time``); onnxruntime runs single-threaded in
the caller here (one intra-op thread, as the session budget configures it), so model time is
included. The machine is shared with other work, so repeat runs differ by about +-20%.
"""

from __future__ import annotations

import argparse
import glob
import platform
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from verification.pipeline.analyzer import SessionContext
from verification.pipeline.ringbuffer import AudioRead
from verification.runtime import ModelRegistry, ThreadBudget
from verification.voice.analyzer import VoiceAnalyzer, VoiceStream
from verification.voice.audio_io import read_audio_16k
from verification.voice.lipsync_cue import LipSyncCueFactory

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media" / "speech" / "librispeech"
SR = 16_000


def interview_audio(seconds: float, seed: int = 0) -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(seed)
    files = sorted(glob.glob(str(MEDIA / "*" / "*.flac")))
    pieces, total, speech = [], 0, 0
    for path in rng.permutation(files):
        wav = read_audio_16k(path)
        pause = np.zeros(int(rng.uniform(1.0, 3.0) * SR), np.float32)
        pieces += [wav, pause]
        total += len(wav) + len(pause)
        speech += len(wav)
        if total >= seconds * SR:
            break
    audio = np.concatenate(pieces)[: int(seconds * SR)]
    return audio, min(1.0, speech / len(audio))


class _FakeObservation:
    """A stand-in for the face stage's observation: the mouth landmarks move with a 4 Hz
    syllable-like rhythm (the cue's cost does not depend on what the mouth does)."""

    def __init__(self, pts: float) -> None:
        self.pts = pts
        self.face = True
        points = np.zeros((478, 3), np.float32)
        points[33, :2], points[263, :2] = (100, 100), (160, 100)
        points[0, :2] = (130, 150)
        points[17, :2] = (130, 160 + 10 * np.sin(2 * np.pi * 4 * pts))
        self.landmarks = points


def measure(seconds: float) -> None:
    registry = ModelRegistry.from_manifest(provider="cpu",
                                           budget=ThreadBudget(workers=1, intra_op_threads=1))
    audio, speech_share = interview_audio(seconds)
    duration = len(audio) / SR
    voice = VoiceAnalyzer(registry)
    cue_factory = LipSyncCueFactory(registry)
    costs: dict[str, float] = defaultdict(float)

    stream = VoiceStream(voice, SessionContext("bench"), None)  # type: ignore[arg-type]
    cue = cue_factory(SessionContext("bench"))
    block = SR // 2
    frame_step = 1.0 / 25.0
    next_frame = 0.0
    for start in range(0, len(audio), block):
        piece = AudioRead(audio[start:start + block], start / SR, ())
        t0 = time.thread_time()
        stream.process_audio(piece)
        costs["voice stage: per block"] += time.thread_time() - t0
        t0 = time.thread_time()
        cue.observe_audio(piece)
        while next_frame < (start + block) / SR:
            cue.observe(_FakeObservation(next_frame), None)  # type: ignore[arg-type]
            next_frame += frame_step
        costs["lip-sync cue (audio + sync tests)"] += time.thread_time() - t0
    t0 = time.thread_time()
    stream.summarize()
    costs["voice stage: summary (clustering, ...)"] += time.thread_time() - t0
    t0 = time.thread_time()
    cue.summarize()
    costs["lip-sync cue (audio + sync tests)"] += time.thread_time() - t0

    print(f"machine: {platform.processor() or platform.machine()}, 1 onnxruntime thread; "
          f"{duration:.0f} s interview, {speech_share:.0%} speech")
    voice_total = sum(v for k, v in costs.items() if k.startswith("voice stage"))
    for name, value in costs.items():
        print(f"  {name:40s} {value:6.2f} s CPU  = {100 * value / duration:5.2f}% of one core")
    print(f"  {'voice stage total':40s} {voice_total:6.2f} s CPU  = "
          f"{100 * voice_total / duration:5.2f}% of one core (target <= 5%)")
    both = voice_total + costs["lip-sync cue (audio + sync tests)"]
    print(f"  {'voice stage + lip-sync cue':40s} {both:6.2f} s CPU  = "
          f"{100 * both / duration:5.2f}% of one core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=90.0)
    args = parser.parse_args()
    measure(args.seconds)


if __name__ == "__main__":
    main()
