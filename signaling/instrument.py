"""Frame -> evidence latency and analysed-frame counts, without touching the analyzers.

Each interview wraps the process-wide analyzers in :class:`TimedAnalyzer`; the stream it opens
is the analyzer's own stream with its ``process_frame`` / ``process_audio`` hooks wrapped to
measure, in the executor thread, how long after the media arrived its evidence was ready
(``media clock now - frame pts``: network-to-evidence, including time spent waiting for a
worker). Samples go to the hub's :class:`~signaling.load.LatencyTracker`, which admission
control and the session benchmark read.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable

from signaling.ingest import MediaClock
from signaling.load import LatencyTracker
from verification.pipeline.analyzer import Analyzer, AnalyzerStream, SessionContext
from verification.pipeline.ringbuffer import AudioRead
from verification.runtime import InferenceExecutor
from verification.types import Evidence, VideoFrame


class AnalysisCounters:
    """Process-wide counts of analysed frames / audio blocks per analyzer (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.frames: Counter[str] = Counter()
        self.audio_blocks: Counter[str] = Counter()
        # CPU seconds (thread time) spent in process_frame, all analyzers: the analysis-rate
        # controller's measure of what one analysed frame costs.
        self.frame_cpu_s = 0.0

    def add(self, analyzer: str, video: bool, cpu_s: float = 0.0) -> None:
        with self._lock:
            (self.frames if video else self.audio_blocks)[analyzer] += 1
            if video:
                self.frame_cpu_s += cpu_s

    def frames_handed_in(self) -> int:
        """Frames the busiest video analyzer processed (each frame goes to every analyzer)."""
        with self._lock:
            return max(self.frames.values(), default=0)

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {"frames": dict(self.frames), "audio_blocks": dict(self.audio_blocks)}


class TimedAnalyzer(Analyzer):
    def __init__(self, inner: Analyzer, clock: MediaClock, video_latency: LatencyTracker,
                 audio_latency: LatencyTracker, counters: AnalysisCounters) -> None:
        self.inner = inner
        self.name = inner.name
        self.checks = inner.checks
        self._clock = clock
        self._video_latency = video_latency
        self._audio_latency = audio_latency
        self._counters = counters
        self.streams: list[AnalyzerStream] = []

    def open_stream(self, context: SessionContext, executor: InferenceExecutor) -> AnalyzerStream:
        stream = self.inner.open_stream(context, executor)
        process_frame, process_audio = stream.process_frame, stream.process_audio
        clock, name = self._clock, self.name

        def timed_frame(frame: VideoFrame) -> Iterable[Evidence]:
            cpu0 = time.thread_time()  # onnxruntime runs its one intra-op thread right here
            result = list(process_frame(frame))
            self._video_latency.add((clock.now() - frame.pts) * 1000)
            self._counters.add(name, video=True, cpu_s=time.thread_time() - cpu0)
            return result

        def timed_audio(audio: AudioRead) -> Iterable[Evidence]:
            result = list(process_audio(audio))
            self._audio_latency.add((clock.now() - audio.end) * 1000)
            self._counters.add(name, video=False)
            return result

        stream.process_frame = timed_frame  # type: ignore[method-assign]
        stream.process_audio = timed_audio  # type: ignore[method-assign]
        self.streams.append(stream)
        return stream
