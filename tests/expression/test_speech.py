"""When the applicant speaks: streaming VAD in media time, lost audio, visual articulation."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from verification.expression.speech import SpeechTracker, articulation_windows, uncovered
from verification.pipeline.ringbuffer import AudioRead, Gap
from verification.types import TimeWindow

from .conftest import DATA


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    samples, rate = sf.read(DATA / "speech" / "1688-142285-0002.flac", dtype="float32")
    assert rate == 16000 and len(samples) > 16000 * 2
    return samples


def feed(tracker: SpeechTracker, samples: np.ndarray, start: float, block_s: float = 0.5) -> None:
    step = int(16000 * block_s)
    for i in range(0, len(samples), step):
        tracker.observe(AudioRead(samples[i:i + step], start + i / 16000, ()))


def test_segments_are_in_media_time(registry, speech):
    tracker = SpeechTracker(registry.adapter("vad"))
    audio = np.concatenate([np.zeros(16000 * 2, np.float32), speech,
                            np.zeros(16000, np.float32)])
    feed(tracker, audio, start=10.0)  # the audio track starts 10 s into the media
    segments, covered = tracker.finish()
    speech_end = 12.0 + len(speech) / 16000
    assert segments
    assert segments[0][0] >= 11.8 and segments[-1][1] <= speech_end + 0.2
    assert sum(b - a for a, b in segments) > 1.5
    assert covered == [(10.0, pytest.approx(10.0 + len(audio) / 16000))]
    assert tracker.finish() == (segments, covered)  # idempotent


def test_lost_audio_is_not_covered(registry, speech):
    tracker = SpeechTracker(registry.adapter("vad"))
    tracker.observe(AudioRead(speech[:16000], 0.0, (Gap(TimeWindow(0.25, 0.5), "lost"),)))
    feed(tracker, speech[:16000], start=2.0)  # a jump in time: 1-2 s never came
    _, covered = tracker.finish()
    assert uncovered(0.0, 3.0, covered) == [(0.25, 0.5), (1.0, 2.0)]


def test_visual_articulation():
    times = np.arange(0, 6, 0.04)
    talking = 0.15 + 0.1 * np.sin(2 * np.pi * 4 * times)  # opens and closes 4 times a second
    opening = np.where((times > 2) & (times < 4), talking, 0.01)
    windows = articulation_windows(times, opening)
    assert len(windows) == 1
    start, end = windows[0]
    assert 0.9 <= start <= 2.1 and 3.9 <= end <= 5.1
    assert articulation_windows(times, np.full_like(times, 0.02)) == []
