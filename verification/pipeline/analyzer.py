"""Analyzer and per-interview stream interfaces (design idea 1: load once, stream per session).

An :class:`Analyzer` is created once per process and holds the shared models. For each interview
it opens an :class:`AnalyzerStream` that owns the per-interview state. A stream:

* takes video through a size-one mailbox (``offer_video`` never blocks; older frames are dropped
  and counted) and audio through a bounded ring buffer with explicit gaps;
* runs the CPU-heavy work of :meth:`AnalyzerStream.process_frame` /
  :meth:`AnalyzerStream.process_audio` in the inference executor, never on the event loop;
* yields :class:`~verification.types.Evidence` as an async iterator (a bounded queue: when the
  consumer is slow the worker waits, so evidence is never dropped and memory stays bounded);
* returns its final summary evidence from :meth:`AnalyzerStream.aclose`.

Offline replay (``verification analyze``) uses :meth:`AnalyzerStream.put_video`, which waits until
the previous frame was taken, so a recording is analysed deterministically at the chosen cadence.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from verification.pipeline.mailbox import LatestMailbox, MailboxStats
from verification.pipeline.ringbuffer import AudioRead, AudioRingBuffer
from verification.runtime.executor import InferenceExecutor
from verification.types import AUDIO_SAMPLE_RATE, AudioChunk, Check, Evidence, VideoFrame

log = logging.getLogger(__name__)

_EVIDENCE_QUEUE_SIZE = 256


@dataclass(frozen=True)
class SessionContext:
    """What a stream may know about its interview, fixed at session creation."""

    session_id: str
    id_photo: np.ndarray | None = None  # RGB uint8
    voiceprint: np.ndarray | None = None  # 16 kHz float32 mono
    geo: Mapping[str, Any] = field(default_factory=dict)
    script: Mapping[str, Any] = field(default_factory=dict)
    # Live interviews: where challenge analyzers report each judged prompt as soon as they can
    # (a verification.pipeline.live_verdicts.LiveVerdictBox; None offline).
    live_verdicts: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "geo", MappingProxyType(dict(self.geo)))
        object.__setattr__(self, "script", MappingProxyType(dict(self.script)))


@dataclass(frozen=True)
class StreamStats:
    analyzer: str
    video: MailboxStats
    audio_lost_s: float
    audio_overrun_s: float
    frames_processed: int
    audio_blocks_processed: int
    errors: int


class AnalyzerStream(ABC):
    """Per-interview state of one analyzer. Subclasses override the ``process_*`` hooks."""

    wants_video: bool = False
    wants_audio: bool = False
    # Audio is handed to process_audio in blocks of this many seconds.
    audio_block_seconds: float = 0.5

    def __init__(self, name: str, executor: InferenceExecutor,
                 audio_capacity_seconds: float = 30.0) -> None:
        self.name = name
        self._executor = executor
        self._video: LatestMailbox[VideoFrame] = LatestMailbox()
        self._video_idle = asyncio.Event()  # set while no frame is being analysed
        self._video_idle.set()
        self._audio = AudioRingBuffer(audio_capacity_seconds)
        self._audio_ready = asyncio.Event()
        self._audio_closed = False
        self._out: asyncio.Queue[Evidence | None] = asyncio.Queue(maxsize=_EVIDENCE_QUEUE_SIZE)
        self._workers: list[asyncio.Task[None]] = []
        self._frames = 0
        self._audio_blocks = 0
        self._errors = 0
        self._started = False

    # -- hooks -----------------------------------------------------------------------------
    def process_frame(self, frame: VideoFrame) -> Iterable[Evidence]:
        """Runs in the executor. Return evidence for this frame (may be empty)."""
        return ()

    def process_audio(self, audio: AudioRead) -> Iterable[Evidence]:
        """Runs in the executor with the next block of audio and the gaps inside it."""
        return ()

    def summarize(self) -> Iterable[Evidence]:
        """Runs in the executor once at the end: whole-interview evidence."""
        return ()

    # -- input -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            return
        self._started = True
        if self.wants_video:
            self._workers.append(asyncio.create_task(self._video_loop(), name=f"{self.name}-video"))
        if self.wants_audio:
            self._workers.append(asyncio.create_task(self._audio_loop(), name=f"{self.name}-audio"))

    def offer_video(self, frame: VideoFrame) -> None:
        if self.wants_video:
            self._video.offer(frame)

    async def put_video(self, frame: VideoFrame) -> None:
        """Offline: deliver every offered frame (waits until the previous one was taken)."""
        if self.wants_video:
            await self._video.wait_empty()
            self._video.offer(frame)

    async def video_ready(self) -> None:
        """Live: wait until this stream has analysed the frame it was given last, so the
        caller can pick the *newest* frame for it then (a frame handed to a busy stream ages in
        its mailbox: frame -> evidence latency would grow with the time between frames)."""
        if self.wants_video:
            await self._video.wait_empty()
            await self._video_idle.wait()

    def offer_audio(self, chunk: AudioChunk) -> None:
        if self.wants_audio:
            self._audio.write(chunk)
            if self._audio.available >= self._block_samples:
                self._audio_ready.set()

    @property
    def _block_samples(self) -> int:
        return int(self.audio_block_seconds * AUDIO_SAMPLE_RATE)

    # -- workers ---------------------------------------------------------------------------
    async def _emit(self, items: Iterable[Evidence]) -> None:
        for item in items:
            await self._out.put(item)

    async def _video_loop(self) -> None:
        try:
            while (frame := await self._video.get()) is not None:
                self._video_idle.clear()
                try:
                    evidence = await self._executor.run_urgent(
                        lambda f=frame: list(self.process_frame(f)))
                except Exception:
                    self._errors += 1
                    log.exception("analyzer %s failed on frame at %.3fs", self.name, frame.pts)
                    continue
                finally:
                    self._video_idle.set()
                self._frames += 1
                await self._emit(evidence)
        finally:
            self._video_idle.set()

    async def _audio_loop(self) -> None:
        while True:
            if self._audio.available < self._block_samples and not self._audio_closed:
                self._audio_ready.clear()
                await self._audio_ready.wait()
                continue
            if self._audio.available == 0 and self._audio_closed:
                return
            block = self._audio.read(self._block_samples)
            try:
                evidence = await self._executor.run(lambda b=block: list(self.process_audio(b)))
            except Exception:
                self._errors += 1
                log.exception("analyzer %s failed on audio at %.3fs", self.name, block.start)
                continue
            self._audio_blocks += 1
            await self._emit(evidence)

    async def before_summary(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """On the event loop, once the inputs are drained and before :meth:`summarize`: wait
        here (not in an inference worker) for work the stream handed elsewhere."""

    # -- output ----------------------------------------------------------------------------
    async def evidence(self) -> AsyncIterator[Evidence]:
        while (item := await self._out.get()) is not None:
            yield item

    async def aclose(self) -> list[Evidence]:
        """Flush the inputs, stop the workers, and return the final summary evidence."""
        self._video.close()
        self._audio_closed = True
        self._audio_ready.set()
        if self._workers:
            await asyncio.gather(*self._workers)
        await self.before_summary()
        try:
            final = await self._executor.run(lambda: list(self.summarize()))
        except Exception:
            self._errors += 1
            log.exception("analyzer %s failed to summarize", self.name)
            final = []
        await self._out.put(None)
        return final

    @property
    def stats(self) -> StreamStats:
        return StreamStats(
            analyzer=self.name,
            video=self._video.stats,
            audio_lost_s=self._audio.lost_samples / AUDIO_SAMPLE_RATE,
            audio_overrun_s=self._audio.overrun_samples / AUDIO_SAMPLE_RATE,
            frames_processed=self._frames,
            audio_blocks_processed=self._audio_blocks,
            errors=self._errors,
        )


class Analyzer(ABC):
    """Process-wide factory holding shared models; opens one stream per interview."""

    name: str = "analyzer"
    #: The checks this analyzer reports on (fusion marks the others "not checked").
    checks: tuple[Check, ...] = ()

    @abstractmethod
    def open_stream(self, context: SessionContext, executor: InferenceExecutor) -> AnalyzerStream:
        """A fresh stream for one interview."""
