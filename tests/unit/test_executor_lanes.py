"""The inference pool takes waiting video frames before audio blocks and summaries."""

from __future__ import annotations

import asyncio
import threading

import pytest

from verification.runtime import InferenceExecutor
from verification.runtime.providers import ThreadBudget


def test_a_frame_overtakes_waiting_normal_jobs_and_lanes_stay_fifo() -> None:
    async def scenario() -> list[str]:
        executor = InferenceExecutor(ThreadBudget(workers=1, intra_op_threads=1),
                                     max_normal_wait_s=30.0)
        gate, order = threading.Event(), []
        try:
            blocker = asyncio.ensure_future(executor.run(gate.wait))
            await asyncio.sleep(0.05)  # the one worker is now busy
            jobs = [asyncio.ensure_future(executor.run(order.append, "audio-1")),
                    asyncio.ensure_future(executor.run(order.append, "audio-2")),
                    asyncio.ensure_future(executor.run_urgent(order.append, "frame-1")),
                    asyncio.ensure_future(executor.run_urgent(order.append, "frame-2"))]
            await asyncio.sleep(0.05)
            gate.set()
            await asyncio.gather(blocker, *jobs)
            return order
        finally:
            executor.shutdown()

    assert asyncio.run(scenario()) == ["frame-1", "frame-2", "audio-1", "audio-2"]


def test_errors_reach_the_caller_and_shutdown_cancels_what_never_started() -> None:
    async def scenario() -> None:
        executor = InferenceExecutor(ThreadBudget(workers=1, intra_op_threads=1))
        gate = threading.Event()
        blocker = asyncio.ensure_future(executor.run(gate.wait))
        await asyncio.sleep(0.05)
        waiting = executor.submit(lambda: "never")
        with pytest.raises(ZeroDivisionError):
            gate.set()
            await blocker
            await executor.run_urgent(lambda: 1 / 0)
        gate.clear()
        blocker = asyncio.ensure_future(executor.run(gate.wait))
        await asyncio.sleep(0.05)
        late = executor.submit(lambda: "never")
        threading.Timer(0.1, gate.set).start()
        executor.shutdown(wait=True)
        assert late.cancelled()
        assert waiting.result() == "never"  # it was queued before the error and ran
        with pytest.raises(RuntimeError):
            executor.submit(lambda: None)

    asyncio.run(scenario())


def test_a_normal_job_that_waited_long_enough_goes_before_frames() -> None:
    """A pool that always has a frame waiting still runs the audio analysis."""
    async def scenario() -> list[str]:
        executor = InferenceExecutor(ThreadBudget(workers=1, intra_op_threads=1),
                                     max_normal_wait_s=0.1)
        gate, order = threading.Event(), []
        try:
            blocker = asyncio.ensure_future(executor.run_urgent(gate.wait))
            await asyncio.sleep(0.05)
            audio = asyncio.ensure_future(executor.run(order.append, "audio"))
            frames = [asyncio.ensure_future(executor.run_urgent(order.append, f"frame-{i}"))
                      for i in range(3)]
            await asyncio.sleep(0.3)  # the audio block has now waited past its limit
            gate.set()
            await asyncio.gather(blocker, audio, *frames)
            return order
        finally:
            executor.shutdown()

    assert asyncio.run(scenario()) == ["audio", "frame-0", "frame-1", "frame-2"]


def test_background_jobs_run_on_one_low_priority_thread() -> None:
    import os

    executor = InferenceExecutor(ThreadBudget(workers=1, intra_op_threads=1))
    try:
        where = executor.submit_background(
            lambda: (threading.current_thread().name,
                     os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        name, nice = where.result(timeout=10)
        assert name == "inference_background" and nice == 19
        failing = executor.submit_background(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            failing.result(timeout=10)
    finally:
        executor.shutdown()
    with pytest.raises(RuntimeError):
        executor.submit_background(lambda: None)
