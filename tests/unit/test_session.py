"""Session plumbing with fake analyzers: frames drop (not queue) behind slow inference."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable

import numpy as np

from verification.fusion.policy import DefaultPolicy, PolicyConfig
from verification.pipeline.analyzer import Analyzer, AnalyzerStream, SessionContext
from verification.pipeline.ringbuffer import AudioRead
from verification.pipeline.session import VerificationSession
from verification.runtime import InferenceExecutor, ThreadBudget
from verification.types import AudioChunk, Check, Decision, Evidence, Outcome, TimeWindow, VideoFrame


class SlowStream(AnalyzerStream):
    wants_video = True
    wants_audio = True

    def __init__(self, executor, gate: threading.Event) -> None:
        super().__init__("slow", executor)
        self.gate = gate
        self.seen: list[int] = []
        self.audio_seconds = 0.0

    def process_frame(self, frame: VideoFrame) -> Iterable[Evidence]:
        self.gate.wait(5)  # "inference" that takes as long as the test wants
        self.seen.append(frame.index)
        return [Evidence(Check.FACE_PRESENCE, Outcome.SUPPORTS, TimeWindow(frame.pts, frame.pts),
                         "seen")]

    def process_audio(self, audio: AudioRead) -> Iterable[Evidence]:
        self.audio_seconds += len(audio.samples) / 16000
        return ()


class SlowAnalyzer(Analyzer):
    name = "slow"
    checks = (Check.FACE_PRESENCE,)

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.streams: list[SlowStream] = []

    def open_stream(self, context, executor):
        stream = SlowStream(executor, self.gate)
        self.streams.append(stream)
        return stream


def frame(i: int) -> VideoFrame:
    return VideoFrame(np.zeros((8, 8, 3), np.uint8), pts=i / 15, index=i)


def make_session(analyzer):
    policy = DefaultPolicy(PolicyConfig(required=(Check.FACE_PRESENCE,)))
    executor = InferenceExecutor(ThreadBudget(workers=1, intra_op_threads=1))
    return VerificationSession(SessionContext("t"), [analyzer], policy, executor), executor


def test_slow_analyzer_drops_frames_instead_of_queueing():
    async def run():
        analyzer = SlowAnalyzer()
        session, executor = make_session(analyzer)
        await session.start()
        for i in range(100):  # 100 frames arrive while the first inference is stuck
            session.offer_video(frame(i))
            await asyncio.sleep(0)
        analyzer.gate.set()
        result = await session.finish()
        executor.shutdown()
        return analyzer.streams[0], result

    stream, result = asyncio.run(run())
    stats = result.stats[0].video
    assert stats.offered == 100
    assert len(stream.seen) <= 3  # the one in flight, then only the newest
    assert stream.seen[-1] == 99
    assert stats.dropped >= 97
    assert stats.delivered + stats.dropped == stats.offered
    assert result.verdict.decision is Decision.PASS


def test_offline_put_video_delivers_every_frame_and_audio_flushes():
    async def run():
        analyzer = SlowAnalyzer()
        analyzer.gate.set()
        session, executor = make_session(analyzer)
        await session.start()
        for i in range(20):
            await session.put_video(frame(i))
            session.offer_audio(AudioChunk(np.zeros(1600, np.float32), pts=i * 0.1))
        result = await session.finish()
        executor.shutdown()
        return analyzer.streams[0], result

    stream, result = asyncio.run(run())
    assert stream.seen == list(range(20))
    assert abs(stream.audio_seconds - 2.0) < 1e-6  # the tail shorter than a block is flushed
    assert result.stats[0].video.dropped == 0
    assert len(result.evidence) == 20
