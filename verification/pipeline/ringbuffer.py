"""A bounded 16 kHz audio ring buffer that marks gaps instead of hiding them.

Audio is indexed by absolute sample position derived from media time, so a lost packet leaves a
hole at the right place: the hole is filled with zeros *and recorded as a gap*, so VAD, voiceprint
and lip-sync can tell "silence" from "we never received this". When readers fall behind by more
than the capacity, the oldest unread audio is overwritten and counted as an overrun gap; memory
never grows with the length of the interview.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from verification.types import AUDIO_SAMPLE_RATE, AudioChunk, TimeWindow

# Jitter below this is treated as continuous (sub-millisecond pts rounding).
_CONTINUITY_TOLERANCE_SAMPLES = 16


@dataclass(frozen=True)
class Gap:
    window: TimeWindow
    kind: str  # "lost" (never received) or "overrun" (reader too slow, overwritten)


@dataclass(frozen=True)
class AudioRead:
    """Samples from ``start`` (media seconds) with the gaps that fall inside them."""

    samples: np.ndarray
    start: float
    gaps: tuple[Gap, ...]

    @property
    def end(self) -> float:
        return self.start + len(self.samples) / AUDIO_SAMPLE_RATE


class AudioRingBuffer:
    def __init__(self, capacity_seconds: float = 30.0, max_gaps: int = 1024) -> None:
        self.capacity = int(capacity_seconds * AUDIO_SAMPLE_RATE)
        self._buffer = np.zeros(self.capacity, dtype=np.float32)
        self._written = 0  # absolute sample index one past the newest sample
        self._read = 0  # absolute sample index of the next unread sample
        self._origin: int | None = None  # absolute index of the first sample ever written
        self._gaps: deque[Gap] = deque(maxlen=max_gaps)
        self.lost_samples = 0
        self.overrun_samples = 0

    @staticmethod
    def _index(seconds: float) -> int:
        return int(round(seconds * AUDIO_SAMPLE_RATE))

    def write(self, chunk: AudioChunk) -> None:
        start = self._index(chunk.pts)
        if self._origin is None:
            self._origin = start
            self._written = start
            self._read = start
        samples = chunk.samples
        if start > self._written + _CONTINUITY_TOLERANCE_SAMPLES:
            hole = start - self._written
            self._gaps.append(Gap(TimeWindow(self._written / AUDIO_SAMPLE_RATE,
                                             start / AUDIO_SAMPLE_RATE), "lost"))
            self.lost_samples += hole
            self._put(np.zeros(hole, dtype=np.float32))
        elif start < self._written:
            # Overlap (retransmission or pts jitter): keep what we have, append only the new tail.
            samples = samples[self._written - start:]
        self._put(samples)

    def _put(self, samples: np.ndarray) -> None:
        n = len(samples)
        if n == 0:
            return
        if n > self.capacity:
            samples = samples[-self.capacity:]
            skipped = n - self.capacity
            self._written += skipped
            n = self.capacity
        pos = self._written % self.capacity
        first = min(n, self.capacity - pos)
        self._buffer[pos:pos + first] = samples[:first]
        self._buffer[:n - first] = samples[first:]
        self._written += n
        oldest = self._written - self.capacity
        if self._read < oldest:
            self._gaps.append(Gap(TimeWindow(self._read / AUDIO_SAMPLE_RATE,
                                             oldest / AUDIO_SAMPLE_RATE), "overrun"))
            self.overrun_samples += oldest - self._read
            self._read = oldest

    @property
    def available(self) -> int:
        """Unread samples."""
        return self._written - self._read

    @property
    def gaps(self) -> tuple[Gap, ...]:
        return tuple(self._gaps)

    def read(self, max_samples: int | None = None) -> AudioRead:
        """Consume up to ``max_samples`` unread samples (all of them by default)."""
        n = self.available if max_samples is None else min(max_samples, self.available)
        start = self._read
        out = self._copy(start, n)
        self._read += n
        return AudioRead(out, start / AUDIO_SAMPLE_RATE, self._gaps_between(start, start + n))

    def window(self, start_s: float, end_s: float) -> AudioRead:
        """Peek at a media-time window still held in the buffer (clipped to what is held)."""
        lo = max(self._index(start_s), self._written - self.capacity, self._origin or 0)
        hi = min(self._index(end_s), self._written)
        n = max(0, hi - lo)
        return AudioRead(self._copy(lo, n), lo / AUDIO_SAMPLE_RATE, self._gaps_between(lo, lo + n))

    def _copy(self, start: int, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.float32)
        pos = start % self.capacity
        first = min(n, self.capacity - pos)
        out[:first] = self._buffer[pos:pos + first]
        out[first:] = self._buffer[:n - first]
        return out

    def _gaps_between(self, lo: int, hi: int) -> tuple[Gap, ...]:
        lo_s, hi_s = lo / AUDIO_SAMPLE_RATE, hi / AUDIO_SAMPLE_RATE
        return tuple(g for g in self._gaps if g.window.end > lo_s and g.window.start < hi_s)
