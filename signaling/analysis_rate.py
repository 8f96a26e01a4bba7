"""Load-aware analysis rate: degrade every interview a little instead of letting latency grow.

Why: one interview's analysis cost has a part that does not depend on how many video frames are
analysed (the WebRTC receive path, all the audio analysis, the background) and a part that
grows with the analysed frame rate (the face stage and its cues: ~80 % of the analysis at
5 fps, ``benchmarks/results/session_cpu.md``). When more interviews run than the cores can
analyse at the full rate, a queue builds in the inference pool and every frame's evidence
arrives later and later. This controller instead lowers the analysed frame rate of the
interviews so that the whole server's predicted CPU stays inside ``cpu_budget``; frames that
are not analysed are dropped at the ingest's latest-frame mailbox, never queued, so the
frame -> evidence latency stays bounded by one frame's processing.

What it measures (every second, from the hub's load sampler): the process CPU share, the CPU
time spent on analysed frames (``time.thread_time`` around each ``process_frame``, summed over
the analyzers) and the number of frames the ingests handed in. From these it learns, as
moving averages, the CPU cost of **one analysed frame** and the **fixed** cost of one interview
(everything else, divided by the interviews).

The CPU model alone is not enough on a machine other programs share (or when the learnt costs
are off): a process that cannot get its budgeted CPU still builds a queue. So the measured
frame -> evidence p95 (last few seconds) closes the loop, like a congestion controller: above
``HIGH_LATENCY`` of the latency budget the relaxed rate's cap drops by a quarter (then holds
while the latency window still holds the old samples), below ``LOW_LATENCY`` it climbs back
half a frame per second at a time. Audio cannot be dropped the way frames are (it waits in
a ring buffer), so a CPU shortage also shows as an audio backlog, which backs the rate off too.

How it plans (:meth:`AnalysisRateController.plan`): interviews inside a *focus* window - a
liveness challenge or a digit reading is on screen (the script says when: ``challenge`` and
``digits`` steps with their ``t`` and window) or a fixed ``action`` prompt runs - get the full
rate, because those checks are short and decide the verdict. The others share what is left of
the budget equally, never below ``floor_fps`` (the rate every continuous check still works at;
server default 2 fps: presence and face match need about one frame a second, but the passive
presentation-attack cue compares only frames at most 0.75 s apart (``pad/cue.py``
``MAX_GAP_S``), so below ~1.5 fps its motion cues - frozen video, planar and scene motion -
would silently stop; lip sync needs 12.5 fps and is inconclusive at any live rate up to 5 fps
anyway; README's capacity section has the measured effect). When even the floors do not fit,
everyone runs at the floor and admission control (``signaling.load``) refuses new interviews.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Priors before anything is measured (benchmarks/results/session_cpu.md, CPU time): one analysed
# frame costs ~40 ms of CPU over all analyzers (5 fps -> 2.5 fps saved 106 ms/s: 42 ms a frame),
# and an interview costs ~0.19 of a core regardless of its frame rate (receive path ~0.08, audio
# analysis and background ~0.11).
PRIOR_FRAME_CPU_S = 0.040
PRIOR_FIXED_CORES = 0.19
SMOOTHING = 0.3  # weight of a new sample in the moving averages
MIN_FRAMES_TO_LEARN = 3  # per sample: fewer analysed frames say nothing about their cost
RATE_STEP_FPS = 0.5  # planned rates are multiples of this: no jitter from noisy samples
# A challenge is judged on a baseline second before its prompt and actions up to 2 s after its
# window (verification.face.challenges.verifier: BASELINE_SECONDS, LATE_SECONDS).
FOCUS_BEFORE_S = 1.0
FOCUS_AFTER_S = 2.0
FOCUS_STEP_TYPES = frozenset({"challenge", "digits"})
LIP_SYNC_STEP_TYPES = frozenset({"digits"})
HIGH_LATENCY = 0.8  # of the latency budget: back off
LOW_LATENCY = 0.5  # of the latency budget: room to climb
# Audio blocks (0.5 s) normally wait < 0.2 s for their evidence; seconds mean it falls behind.
AUDIO_HIGH_LATENCY = 4.0  # x the latency budget (1 s at 250 ms)
AUDIO_LOW_LATENCY = 2.0
BACK_OFF = 0.75
HOLD_PLANS = 3  # plans (seconds) between two cap changes: the latency window must turn over
DEFAULT_FOCUS_WINDOW_S = 4.0


@dataclass(frozen=True)
class RatePolicy:
    full_fps: float  # the configured analysis rate (VERIFICATION_ANALYSIS_FPS)
    floor_fps: float  # outside focus windows, never below this
    cpu_budget: float  # share of the whole machine (1.0 = every core) the server may use
    cores: int
    latency_budget_ms: float = 250.0  # frame -> evidence p95 the interviews must keep
    # A digit reading is judged by lip sync too, whose mouth signal needs 12.5 fps
    # (verification/voice/lipsync_cue.py; at 5 fps it rejects real readers, eval_lipsync).
    lip_sync_fps: float | None = None  # None: digit readings get full_fps like challenges

    def __post_init__(self) -> None:
        if not 0 < self.floor_fps <= self.full_fps:
            raise ValueError("need 0 < floor_fps <= full_fps")
        if not 0 < self.cpu_budget <= 1 or self.cores < 1:
            raise ValueError("need 0 < cpu_budget <= 1 and at least one core")


@dataclass(frozen=True)
class CostSample:
    """What the server did over ``interval_s`` seconds (all interviews together)."""

    interval_s: float
    sessions: int
    cpu_share: float  # process CPU share of the machine (1.0 = every core busy)
    frame_cpu_s: float  # CPU seconds spent analysing frames, all analyzers
    frames: int  # frames the ingests handed to the analyzers


@dataclass(frozen=True)
class RatePlan:
    relaxed_fps: float  # the rate of interviews outside a focus window
    cap_fps: float  # the latency feedback's cap on the relaxed rate
    focused: int
    sessions: int
    predicted_cores: float  # CPU the plan needs (cores), by the learnt costs
    budget_cores: float
    fits: bool  # False: even the floors exceed the budget

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


class SessionRate:
    """One interview's analysis rate, read by its video ingest before every frame."""

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self.focus = False  # a challenge or digit window: the full rate
        self.lip_sync = False  # a digit reading: the lip-sync rate

    @property
    def interval(self) -> float:
        return 1.0 / self.fps


class AnalysisRateController:
    def __init__(self, policy: RatePolicy) -> None:
        self.policy = policy
        self.frame_cpu_s = PRIOR_FRAME_CPU_S
        self.fixed_cores = PRIOR_FIXED_CORES
        self._sessions: list[SessionRate] = []
        self.last_plan: RatePlan | None = None
        self.cap_fps = policy.full_fps
        self._hold = 0

    # -- interviews ----------------------------------------------------------------------------
    def register(self) -> SessionRate:
        """A new interview: it starts at the rate the others run at (re-planned next second)."""
        rate = SessionRate(self.last_plan.relaxed_fps if self.last_plan else self.policy.full_fps)
        self._sessions.append(rate)
        return rate

    def unregister(self, rate: SessionRate) -> None:
        if rate in self._sessions:
            self._sessions.remove(rate)

    @property
    def sessions(self) -> int:
        return len(self._sessions)

    # -- learning ------------------------------------------------------------------------------
    def observe(self, sample: CostSample) -> None:
        """Update the per-frame and per-interview costs from one load sample."""
        if sample.interval_s <= 0 or sample.sessions <= 0:
            return
        if sample.frames >= MIN_FRAMES_TO_LEARN and sample.frame_cpu_s > 0:
            per_frame = sample.frame_cpu_s / sample.frames
            self.frame_cpu_s += SMOOTHING * (per_frame - self.frame_cpu_s)
        total_cores = sample.cpu_share * self.policy.cores
        frame_cores = sample.frame_cpu_s / sample.interval_s
        if total_cores > 0:
            fixed = max(0.0, total_cores - frame_cores) / sample.sessions
            self.fixed_cores += SMOOTHING * (fixed - self.fixed_cores)

    # -- planning ------------------------------------------------------------------------------
    def _focus_fps(self, session: SessionRate) -> float:
        policy = self.policy
        if session.lip_sync and policy.lip_sync_fps is not None:
            return max(policy.full_fps, policy.lip_sync_fps)
        return policy.full_fps

    def cores_needed(self, sessions: int, focused: int, relaxed_fps: float,
                     focus_fps: float | None = None) -> float:
        """Predicted server CPU (cores) for this many interviews at these rates
        (``focus_fps``: the focused interviews' frames per second together)."""
        focus_total = focused * self.policy.full_fps if focus_fps is None else focus_fps
        return sessions * self.fixed_cores + self.frame_cpu_s * (
            focus_total + (sessions - focused) * relaxed_fps)

    def floor_share(self, sessions: int) -> float:
        """Machine share ``sessions`` interviews need at the floor rate (admission control)."""
        return self.cores_needed(sessions, 0, self.policy.floor_fps) / self.policy.cores

    def _follow_latency(self, latency_p95_ms: float | None, audio_p95_ms: float | None) -> None:
        """Move the relaxed rate's cap by the measured latency (AIMD, one step per hold)."""
        policy = self.policy
        if self._hold > 0:
            self._hold -= 1
            return
        if latency_p95_ms is None:
            return
        budget = policy.latency_budget_ms
        audio_high = audio_p95_ms is not None and audio_p95_ms > AUDIO_HIGH_LATENCY * budget
        audio_low = audio_p95_ms is None or audio_p95_ms < AUDIO_LOW_LATENCY * budget
        if (latency_p95_ms > HIGH_LATENCY * budget or audio_high) and \
                self.cap_fps > policy.floor_fps:
            stepped = math.floor(self.cap_fps * BACK_OFF / RATE_STEP_FPS) * RATE_STEP_FPS
            self.cap_fps = max(policy.floor_fps, stepped)
            self._hold = HOLD_PLANS
        elif latency_p95_ms < LOW_LATENCY * budget and audio_low and \
                self.cap_fps < policy.full_fps:
            self.cap_fps = min(policy.full_fps, self.cap_fps + RATE_STEP_FPS)
            self._hold = HOLD_PLANS

    def plan(self, latency_p95_ms: float | None = None,
             audio_p95_ms: float | None = None) -> RatePlan:
        """Set every interview's rate for the next second; returns what was decided.

        ``latency_p95_ms``: the frame -> evidence p95 of the last few seconds, ``audio_p95_ms``
        the same for audio blocks (None: unknown).
        """
        policy = self.policy
        self._follow_latency(latency_p95_ms, audio_p95_ms)
        n = len(self._sessions)
        focused = sum(1 for s in self._sessions if s.focus)
        focus_fps = sum(self._focus_fps(s) for s in self._sessions if s.focus)
        budget = policy.cpu_budget * policy.cores
        relaxed = policy.full_fps
        if n > focused:
            spare = budget - self.cores_needed(n, focused, 0.0, focus_fps)
            fair = spare / ((n - focused) * self.frame_cpu_s)
            stepped = math.floor(max(fair, 0.0) / RATE_STEP_FPS) * RATE_STEP_FPS
            relaxed = min(policy.full_fps, self.cap_fps, max(policy.floor_fps, stepped))
            relaxed = max(relaxed, policy.floor_fps)
        for session in self._sessions:
            session.fps = self._focus_fps(session) if session.focus else relaxed
        needed = self.cores_needed(n, focused, relaxed, focus_fps)
        self.last_plan = RatePlan(relaxed, self.cap_fps, focused, n, needed, budget,
                                  needed <= budget)
        return self.last_plan

    def to_json(self) -> dict[str, Any]:
        return {"frame_cpu_ms": round(self.frame_cpu_s * 1000, 2),
                "fixed_cores_per_session": round(self.fixed_cores, 3),
                "plan": self.last_plan.to_json() if self.last_plan else None,
                "fps": [s.fps for s in self._sessions]}


def focus_open(steps: Iterable[Mapping[str, Any]] | None, media_t: float,
               types: frozenset[str] = FOCUS_STEP_TYPES) -> bool:
    """Whether a liveness challenge or a digit reading (``types``) is being judged at media
    time ``media_t``: from a baseline second before its prompt to two seconds after its
    window."""
    for step in steps or ():
        if not isinstance(step, Mapping) or step.get("type") not in types:
            continue
        t = step.get("t")
        window = step.get("window", step.get("window_s", DEFAULT_FOCUS_WINDOW_S))
        if not _seconds(t) or not _seconds(window):
            continue
        if t - FOCUS_BEFORE_S <= media_t <= t + window + FOCUS_AFTER_S:
            return True
    return False


def _seconds(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
