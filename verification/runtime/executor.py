"""Inference off the event loop, in a bounded pool sized by the thread budget.

Colour conversion, resizing and ``InferenceSession.run`` all happen here, never on the asyncio
loop: a 20 ms model call on the loop delays every WebRTC packet of every session by 20 ms.

Work is taken in two lanes. A video frame is waited for (frame -> evidence latency is what
live interviews are held to, and what admission control measures); an audio block or a
summary is not: it sits in a ring buffer that holds seconds. So a worker that frees up takes
the oldest *frame* first and otherwise the oldest other job: under load, frames no longer queue
behind a speaker-embedding or anti-spoofing block of another interview, and the audio analysis
catches up whenever no frame waits. The queue is bounded by the callers (each analyzer stream
has at most one job in flight per lane), not here.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from verification.runtime.providers import ThreadBudget

T = TypeVar("T")

URGENT = 0  # a video frame someone is waiting for
NORMAL = 1  # audio blocks, summaries, one-off jobs
_STOP = 2  # after everything queued before it


def _bind(fn: Callable[..., T], args: tuple, kwargs: dict) -> Callable[[], T]:
    return functools.partial(fn, *args, **kwargs)


class InferenceExecutor:
    def __init__(self, budget: ThreadBudget | None = None) -> None:
        self.budget = budget or ThreadBudget.for_machine()
        self.budget.validate()
        self._jobs: queue.PriorityQueue[tuple[int, int, Future | None, Callable | None]] = \
            queue.PriorityQueue()
        self._order = itertools.count()  # FIFO within a lane
        self._closed = False
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._work, name=f"inference_{i}", daemon=True)
                         for i in range(self.budget.workers)]
        for thread in self._threads:
            thread.start()

    async def run(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run ``fn`` in the pool (normal lane) and wait for its result."""
        return await asyncio.wrap_future(self._submit(NORMAL, _bind(fn, args, kwargs)))

    async def run_urgent(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Like :meth:`run`, ahead of every normal job still waiting (video frames)."""
        return await asyncio.wrap_future(self._submit(URGENT, _bind(fn, args, kwargs)))

    def submit(self, fn: Callable[..., T], *args: object, **kwargs: object) -> Future:
        return self._submit(NORMAL, _bind(fn, args, kwargs))

    def _submit(self, lane: int, job: Callable[[], T]) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._jobs.put((lane, next(self._order), future, job))
        return future

    def _work(self) -> None:
        while True:
            lane, _, future, job = self._jobs.get()
            if lane == _STOP or future is None or job is None:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = job()
            except BaseException as err:  # handed to the awaiting caller, as a pool would
                future.set_exception(err)
            else:
                future.set_result(result)

    def shutdown(self, wait: bool = True) -> None:
        """Cancel the jobs not yet started, let running ones finish, stop the workers."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending = []
            while True:
                try:
                    pending.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            for _, _, future, _ in pending:
                if future is not None:
                    future.cancel()
            for _ in self._threads:
                self._jobs.put((_STOP, next(self._order), None, None))
        if wait:
            for thread in self._threads:
                if thread is not threading.current_thread():
                    thread.join()
