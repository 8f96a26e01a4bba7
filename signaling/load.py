"""Measured load and admission control (design idea 7: refuse, don't degrade everyone).

:class:`LoopLagMonitor` samples how late the event loop wakes up (every RTP packet of every
session is handled on it, so its lag is the first thing to blow up under load).
:class:`LatencyTracker` keeps recent frame -> evidence latencies. :class:`AdmissionController`
combines them with process CPU: a new interview is admitted only if the predicted state after
admitting it keeps the running ones inside their latency budget:

* predicted CPU share ``u' = u + c`` where ``c`` is the measured CPU per running session (a prior
  until there is one), plus ``c`` for each session still warming up; with load-aware analysis
  rates (:mod:`signaling.analysis_rate`) running interviews slow down to make room, so ``u'``
  is instead what all of them plus the new one need at the floor rate;
* predicted p95 latency scales like a single queue, ``L' = L (1 - u) / (1 - u')``;
* refuse if ``u'`` exceeds ``cpu_threshold``, ``L'`` exceeds the budget, the loop lag p95 is
  already over its limit, the session cap is reached, or another admission happened less than
  ``admission_interval_s`` ago (simultaneous ICE/DTLS set-ups fail on a busy 2-core box).
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psutil

from signaling.analysis_rate import AnalysisRateController

LOOP_LAG_LIMIT_MS = 50.0
# Share of the whole machine (2 cores) one full-pipeline interview costs before anything is
# measured: ~0.34 of a core (benchmarks/results/session_cpu.md: analysis 0.26 at 5 fps, plus
# the WebRTC receive path ~0.08). A lower prior admitted a
# burst of interviews that warm up together far beyond what the machine can analyse.
PRIOR_CPU_PER_SESSION = 0.17
WARMUP_S = 10.0


def percentile(values: Iterable[float], q: float) -> float | None:
    data = sorted(values)
    if not data:
        return None
    k = (len(data) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


class LatencyTracker:
    """Recent samples (seconds ago <= ``window_s``), bounded; safe to append from any thread."""

    def __init__(self, window_s: float = 10.0, max_samples: int = 20_000) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, float]] = deque(maxlen=max_samples)

    def add(self, value: float, at: float | None = None) -> None:
        self._samples.append((time.monotonic() if at is None else at, value))

    def values(self, now: float | None = None) -> list[float]:
        now = time.monotonic() if now is None else now
        return [v for t, v in list(self._samples) if now - t <= self.window_s]

    def quantile(self, q: float) -> float | None:
        return percentile(self.values(), q)

    def recent_quantile(self, q: float, window_s: float) -> float | None:
        """The quantile over the last ``window_s`` seconds only (a controller's fresh view)."""
        now = time.monotonic()
        return percentile([v for t, v in list(self._samples) if now - t <= window_s], q)


class LoopLagMonitor:
    """Sleeps ``interval_s`` in a loop; how late it wakes up is the event-loop lag."""

    def __init__(self, interval_s: float = 0.1, window_s: float = 10.0) -> None:
        self.interval_s = interval_s
        self.lag_ms = LatencyTracker(window_s)
        self.max_ms = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="loop-lag-monitor")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.interval_s)
            lag = max(0.0, (loop.time() - start - self.interval_s) * 1000)
            self.lag_ms.add(lag)
            self.max_ms = max(self.max_ms, lag)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


class CpuMeter:
    """Process CPU share of the whole machine (1.0 = every core busy) since the last call."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
        self._last = (time.monotonic(), self._cpu_seconds())
        self.share = 0.0

    def _cpu_seconds(self) -> float:
        times = self._process.cpu_times()
        return times.user + times.system

    def sample(self) -> float:
        now, cpu = time.monotonic(), self._cpu_seconds()
        wall = now - self._last[0]
        if wall >= 0.2:
            self.share = max(0.0, (cpu - self._last[1]) / wall / self.cores)
            self._last = (now, cpu)
        return self.share

    def rss_bytes(self) -> int:
        return self._process.memory_info().rss


@dataclass(frozen=True)
class LoadSnapshot:
    sessions: int
    warming: int
    cpu_share: float
    cpu_per_session: float
    loop_lag_p95_ms: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    rss_bytes: int

    def to_json(self) -> dict[str, object]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class AdmissionDecision:
    admit: bool
    reason: str
    retry_after_s: int
    predicted_cpu: float
    predicted_p95_ms: float | None


class AdmissionController:
    def __init__(self, *, max_sessions: int, latency_budget_ms: float, cpu_threshold: float,
                 admission_interval_s: float, loop_lag_limit_ms: float = LOOP_LAG_LIMIT_MS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_sessions = max_sessions
        self.latency_budget_ms = latency_budget_ms
        self.cpu_threshold = cpu_threshold
        self.admission_interval_s = admission_interval_s
        self.loop_lag_limit_ms = loop_lag_limit_ms
        self._clock = clock
        self._last_admission = -1e9
        self._cpu_per_session = PRIOR_CPU_PER_SESSION
        # With load-aware analysis rates, running interviews give way to a new one down to
        # their floor rate: the prediction is what every interview needs at the floor.
        self.rates: AnalysisRateController | None = None

    def observe(self, snapshot: LoadSnapshot) -> None:
        """Learn the CPU cost of a settled session (EWMA, so one noisy second does not rule)."""
        settled = snapshot.sessions - snapshot.warming
        if settled > 0 and snapshot.cpu_share > 0:
            measured = snapshot.cpu_share / snapshot.sessions
            self._cpu_per_session = 0.8 * self._cpu_per_session + 0.2 * measured

    @property
    def cpu_per_session(self) -> float:
        return self._cpu_per_session

    def decide(self, snapshot: LoadSnapshot) -> AdmissionDecision:
        now = self._clock()
        c = self._cpu_per_session
        predicted = snapshot.cpu_share + c * (1 + snapshot.warming)
        if self.rates is not None:
            predicted = self.rates.floor_share(snapshot.sessions + 1)
        p95 = snapshot.latency_p95_ms
        predicted_p95 = None
        if p95 is not None:
            headroom_now = max(1e-3, 1.0 - snapshot.cpu_share)
            headroom_then = max(1e-3, 1.0 - predicted)
            predicted_p95 = p95 * headroom_now / headroom_then

        def refuse(reason: str, retry: int) -> AdmissionDecision:
            return AdmissionDecision(False, reason, retry, predicted, predicted_p95)

        if snapshot.sessions >= self.max_sessions:
            return refuse(f"{snapshot.sessions} interviews are running (the limit)", 30)
        if now - self._last_admission < self.admission_interval_s:
            return refuse("another interview is starting", 1)
        if snapshot.loop_lag_p95_ms is not None and \
                snapshot.loop_lag_p95_ms > self.loop_lag_limit_ms:
            return refuse(f"event loop lag p95 {snapshot.loop_lag_p95_ms:.0f} ms", 10)
        if snapshot.sessions > 0 and predicted > self.cpu_threshold:
            return refuse(f"predicted CPU {predicted:.0%} over {self.cpu_threshold:.0%}", 15)
        if predicted_p95 is not None and predicted_p95 > self.latency_budget_ms:
            return refuse(f"predicted latency p95 {predicted_p95:.0f} ms over the "
                          f"{self.latency_budget_ms:.0f} ms budget", 15)
        self._last_admission = now
        return AdmissionDecision(True, "ok", 0, predicted, predicted_p95)
