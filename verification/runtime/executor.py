"""Inference off the event loop, in a bounded pool sized by the thread budget.

Colour conversion, resizing and ``InferenceSession.run`` all happen here, never on the asyncio
loop: a 20 ms model call on the loop delays every WebRTC packet of every session by 20 ms.

Work is taken in two lanes. A video frame is waited for (frame -> evidence latency is what
live interviews are held to, and what admission control measures); an audio block or a
summary is not: it sits in a ring buffer that holds seconds. So a worker that frees up takes
the oldest *frame* first and otherwise the oldest other job: under load, frames no longer queue
behind a speaker-embedding or anti-spoofing block of another interview. A normal job that has
waited ``max_normal_wait_s`` goes next anyway, so a pool that always has a frame waiting still
keeps the audio analysis moving (it falls behind by at most that much per job, never without
bound). The lanes are bounded by the callers (each analyzer stream has at most one job in
flight per lane), not here.

A third, *background* lane is for the rare expensive call whose result nobody waits for live
(the voice anti-spoofing network: 0.6-1.6 s of CPU for one 4 s window). Run in a worker it holds
one of the two cores' workers for that long, and every frame of every interview queues behind
the other. Instead one extra thread runs such jobs at the lowest CPU priority (nice 19): the
kernel gives it what the latency-critical workers leave over. The nice value is the thread's
own: with one intra-op thread (the default budget) onnxruntime computes in the calling thread;
with more, its pool threads keep normal priority.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from verification.runtime.providers import ThreadBudget

T = TypeVar("T")

log = logging.getLogger(__name__)

MAX_NORMAL_WAIT_S = 0.5
BACKGROUND_NICE = 19  # the lowest priority: what the latency-critical threads leave over

URGENT, NORMAL, BACKGROUND = "urgent", "normal", "background"
_Job = tuple[float, Future, Callable[[], object]]  # (queued at, its future, the call)


class InferenceExecutor:
    def __init__(self, budget: ThreadBudget | None = None,
                 max_normal_wait_s: float = MAX_NORMAL_WAIT_S) -> None:
        self.budget = budget or ThreadBudget.for_machine()
        self.budget.validate()
        self.max_normal_wait_s = max_normal_wait_s
        self._lanes: dict[str, deque[_Job]] = {URGENT: deque(), NORMAL: deque(),
                                               BACKGROUND: deque()}
        lock = threading.Lock()  # one lock for all lanes; a condition per kind of thread
        self._work_ready = threading.Condition(lock)
        self._background_ready = threading.Condition(lock)
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"inference_{i}", daemon=True)
                         for i in range(self.budget.workers)]
        self._background_thread: threading.Thread | None = None  # started on first use
        for thread in self._threads:
            thread.start()

    async def run(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run ``fn`` in the pool (normal lane) and wait for its result."""
        return await asyncio.wrap_future(self._submit(NORMAL, fn, args, kwargs))

    async def run_urgent(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Like :meth:`run`, ahead of the normal jobs still waiting (video frames)."""
        return await asyncio.wrap_future(self._submit(URGENT, fn, args, kwargs))

    def submit(self, fn: Callable[..., T], *args: object, **kwargs: object) -> Future:
        return self._submit(NORMAL, fn, args, kwargs)

    def submit_background(self, fn: Callable[..., T], *args: object, **kwargs: object) -> Future:
        """Run ``fn`` on the low-priority background thread; poll or wait on the future."""
        return self._submit(BACKGROUND, fn, args, kwargs)

    def _submit(self, lane: str, fn: Callable[..., T], args: tuple, kwargs: dict) -> Future:
        future: Future = Future()
        with self._work_ready:
            if self._closed:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._lanes[lane].append((time.monotonic(), future,
                                      functools.partial(fn, *args, **kwargs)))
            if lane != BACKGROUND:
                self._work_ready.notify()
                return future
            if self._background_thread is None:
                self._background_thread = threading.Thread(
                    target=self._work_background, name="inference_background", daemon=True)
                self._background_thread.start()
            self._background_ready.notify()
        return future

    def _next(self) -> _Job | None:
        urgent, normal = self._lanes[URGENT], self._lanes[NORMAL]
        with self._work_ready:
            while not (urgent or normal or self._closed):
                self._work_ready.wait()
            if normal and (not urgent
                           or time.monotonic() - normal[0][0] >= self.max_normal_wait_s):
                return normal.popleft()
            return urgent.popleft() if urgent else None  # None: closed and drained

    def _next_background(self) -> _Job | None:
        lane = self._lanes[BACKGROUND]
        with self._background_ready:
            while not (lane or self._closed):
                self._background_ready.wait()
            return lane.popleft() if lane else None

    def _work(self) -> None:
        while (job := self._next()) is not None:
            _run_job(job)

    def _work_background(self) -> None:
        try:  # Linux: a thread's own nice value (raising it needs no privilege)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
        except (AttributeError, OSError) as err:
            log.info("background inference runs at normal priority (%s)", err)
        while (job := self._next_background()) is not None:
            _run_job(job)

    def shutdown(self, wait: bool = True) -> None:
        """Cancel the jobs not yet started, let running ones finish, stop the workers."""
        with self._work_ready:
            if self._closed:
                return
            self._closed = True
            for lane in self._lanes.values():
                for _, future, _ in lane:
                    future.cancel()
                lane.clear()
            self._work_ready.notify_all()
            self._background_ready.notify_all()
        if wait:
            for thread in (*self._threads, self._background_thread):
                if thread is not None and thread is not threading.current_thread():
                    thread.join()


def _run_job(job: _Job) -> None:
    _, future, call = job
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = call()
    except BaseException as err:  # handed to whoever waits on the future, as a pool would
        future.set_exception(err)
    else:
        future.set_result(result)
