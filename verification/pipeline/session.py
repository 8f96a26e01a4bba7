"""One VerificationSession per interview: fan media out to analyzer streams, collect evidence,
fuse it into a verdict. Live WebRTC ingest and ``verification analyze`` both drive this class.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from verification.fusion.policy import FusionPolicy
from verification.pipeline.analyzer import Analyzer, AnalyzerStream, SessionContext, StreamStats
from verification.runtime.executor import InferenceExecutor
from verification.types import AudioChunk, Evidence, Verdict, VideoFrame

log = logging.getLogger(__name__)

# An interview produces a few evidence items per second per analyzer; this cap only guards
# against a runaway analyzer filling memory (items beyond it are counted, not kept).
MAX_EVIDENCE = 100_000


@dataclass(frozen=True)
class SessionResult:
    verdict: Verdict
    evidence: tuple[Evidence, ...]
    stats: tuple[StreamStats, ...]
    evidence_dropped: int


class VerificationSession:
    def __init__(
        self,
        context: SessionContext,
        analyzers: Sequence[Analyzer],
        policy: FusionPolicy,
        executor: InferenceExecutor,
    ) -> None:
        self.context = context
        self.policy = policy
        self._analyzers = tuple(analyzers)
        self._executor = executor
        self._streams: list[AnalyzerStream] = []
        self._collectors: list[asyncio.Task[None]] = []
        self._evidence: list[Evidence] = []
        self._evidence_dropped = 0
        self._started = False

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        for analyzer in self._analyzers:
            stream = analyzer.open_stream(self.context, self._executor)
            stream.start()
            self._streams.append(stream)
            self._collectors.append(asyncio.create_task(self._collect(stream)))

    def add_evidence(self, item: Evidence) -> None:
        """Evidence from outside the analyzers (e.g. an unreadable ID photo, the interview flow)."""
        if len(self._evidence) < MAX_EVIDENCE:
            self._evidence.append(item)
        else:
            self._evidence_dropped += 1

    async def _collect(self, stream: AnalyzerStream) -> None:
        async for item in stream.evidence():
            self.add_evidence(item)

    # Live: never block the caller (the WebRTC reader must keep draining its track).
    def offer_video(self, frame: VideoFrame) -> None:
        for stream in self._streams:
            stream.offer_video(frame)

    async def video_ready(self) -> None:
        """Live: wait until every analyzer has analysed its previous frame (see
        ``AnalyzerStream.video_ready``); the caller then hands in the newest frame."""
        await asyncio.gather(*(stream.video_ready() for stream in self._streams))

    def offer_audio(self, chunk: AudioChunk) -> None:
        for stream in self._streams:
            stream.offer_audio(chunk)

    # Offline: every frame handed in is analysed.
    async def put_video(self, frame: VideoFrame) -> None:
        await asyncio.gather(*(stream.put_video(frame) for stream in self._streams))

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        return tuple(self._evidence)

    async def finish(self) -> SessionResult:
        finals = await asyncio.gather(*(stream.aclose() for stream in self._streams))
        await asyncio.gather(*self._collectors)
        for items in finals:
            for item in items:
                self.add_evidence(item)
        evidence = tuple(sorted(self._evidence, key=lambda e: (e.window.start, e.id)))
        verdict = self.policy.decide(evidence)
        return SessionResult(
            verdict=verdict,
            evidence=evidence,
            stats=tuple(stream.stats for stream in self._streams),
            evidence_dropped=self._evidence_dropped,
        )
