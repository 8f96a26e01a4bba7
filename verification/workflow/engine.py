"""The interview engine: a pure state machine from events to (new state, effects).

Why pure: every rule of the interview — per-step timeouts, bounded retries, the failure budget,
pausing on a dropped connection and resuming at the same step, how the interview ends — is
tested by feeding events, without HTTP, WebRTC or a clock. The state is a JSON-able value the
driver persists after every transition, so a restarted server continues the same interview.

Randomness (which challenges, which digits, which questions, the pauses between prompts) comes
from the ``rng`` handed in: ``secrets.SystemRandom()`` in production, a seeded ``Random`` in
tests.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from verification.types import Check, Evidence, Outcome, TimeWindow
from verification.workflow.events import (
    Cancel,
    DeviceReport,
    Disconnected,
    Effect,
    Event,
    EvidenceOut,
    FailureCounted,
    Finished,
    FlowEntry,
    GeoReport,
    Joined,
    Tick,
)
from verification.workflow.script import Script
from verification.workflow.steps import HANDLERS
from verification.workflow.steps.base import NEW, RESUME, RETRY, StepContext
from verification.workflow.steps.base import Outcome as StepOutcome

WAITING, RUNNING, PAUSED, FINISHED = "waiting", "running", "paused", "finished"
DEFAULT_RESUME_WINDOW_S = 120.0

# How a failed step ends the interview, by kind: (check, evidence code). Challenge steps that
# fail beyond their retries are a hard gate (the policy's ``challenge_failed``) and end the
# interview early as ``challenges_failed``; anything else leaves the interview incomplete.
_GATE_BY_KIND = {
    "liveness": (Check.FACE_LIVENESS, "challenge_failed"),
    "digits": (Check.LIP_SYNC, "challenge_failed"),
}
CHALLENGES_FAILED = "challenges_failed"


@dataclass(frozen=True)
class EngineState:
    status: str = WAITING
    step_index: int = 0
    attempt: int = 1
    sub: Mapping[str, Any] = field(default_factory=dict)
    failures: tuple[float, ...] = ()  # clock times of budget failures (this and prior sessions)
    facts: Mapping[str, Any] = field(default_factory=dict)
    disconnected_at: float | None = None
    first_media_t: float | None = None
    last_media_t: float | None = None
    finish_reason: str | None = None
    completed_steps: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "sub", MappingProxyType(dict(self.sub)))
        object.__setattr__(self, "facts", MappingProxyType(dict(self.facts)))

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "step_index": self.step_index, "attempt": self.attempt,
                "sub": _plain(self.sub), "failures": list(self.failures),
                "facts": _plain(self.facts), "disconnected_at": self.disconnected_at,
                "first_media_t": self.first_media_t, "last_media_t": self.last_media_t,
                "finish_reason": self.finish_reason,
                "completed_steps": list(self.completed_steps)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> EngineState:
        if not raw:
            return cls()
        return cls(status=raw["status"], step_index=int(raw["step_index"]),
                   attempt=int(raw["attempt"]), sub=raw.get("sub") or {},
                   failures=tuple(float(f) for f in raw.get("failures", ())),
                   facts=raw.get("facts") or {}, disconnected_at=raw.get("disconnected_at"),
                   first_media_t=raw.get("first_media_t"), last_media_t=raw.get("last_media_t"),
                   finish_reason=raw.get("finish_reason"),
                   completed_steps=tuple(raw.get("completed_steps", ())))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Transition:
    state: EngineState
    effects: tuple[Effect, ...]


class InterviewEngine:
    def __init__(self, script: Script, values: Mapping[str, Any] | None = None,
                 rng: random.Random | None = None,
                 resume_window_s: float = DEFAULT_RESUME_WINDOW_S) -> None:
        self.script = script
        self.values = dict(values or {})
        self.rng = rng or secrets.SystemRandom()
        self.resume_window_s = resume_window_s

    # -- public --------------------------------------------------------------------------------
    def handle(self, state: EngineState, event: Event) -> Transition:
        if state.status == FINISHED:
            return Transition(state, ())
        state = self._note_media(state, event)
        state = self._note_facts(state, event)
        if isinstance(event, Cancel):
            return self._finish(state, event.reason, event.at, [])
        if isinstance(event, Joined):
            return self._joined(state, event)
        if isinstance(event, Disconnected):
            if state.status != RUNNING:
                return Transition(state, ())
            entry = FlowEntry("connection_lost", "the applicant's connection dropped",
                              self.current_step(state).id, self._window(state))
            return Transition(replace(state, status=PAUSED, disconnected_at=event.at), (entry,))
        if state.status == PAUSED:
            if isinstance(event, Tick) and state.disconnected_at is not None \
                    and event.at - state.disconnected_at > self.resume_window_s:
                return self._finish(state, "abandoned", event.at, [])
            return Transition(state, ())
        if state.status != RUNNING:
            return Transition(state, ())
        return self._delegate(state, event)

    def current_step(self, state: EngineState):  # noqa: ANN201 - StepSpec
        return self.script.steps[min(state.step_index, len(self.script.steps) - 1)]

    # -- transitions ---------------------------------------------------------------------------
    def _ctx(self, state: EngineState, at: float, media_t: float | None) -> StepContext:
        spec = self.script.steps[state.step_index]
        return StepContext(spec=spec, index=state.step_index, total=len(self.script.steps),
                           attempt=state.attempt, at=at,
                           media_t=media_t if media_t is not None else state.last_media_t,
                           rng=self.rng, values=self.values, facts=state.facts)

    def _joined(self, state: EngineState, event: Joined) -> Transition:
        failures = tuple(sorted(set(state.failures) | set(event.prior_failures)))
        if state.status == WAITING:
            state = replace(state, status=RUNNING, failures=failures)
            return self._begin(state, event.at, event.media_t, NEW, None, [])
        spec = self.script.steps[state.step_index]
        entry = FlowEntry("resumed", f"reconnected; resuming at step {spec.id}", spec.id,
                          self._window(state),
                          {"paused_s": None if state.disconnected_at is None
                           else round(event.at - state.disconnected_at, 3)})
        state = replace(state, status=RUNNING, disconnected_at=None, failures=failures)
        return self._begin(state, event.at, event.media_t, RESUME, dict(state.sub), [entry])

    def _begin(self, state: EngineState, at: float, media_t: float | None, mode: str,
               previous: Mapping[str, Any] | None, effects: list[Effect]) -> Transition:
        ctx = self._ctx(state, at, media_t)
        if mode == NEW:
            effects.append(ctx.flow("step_started", f"step {ctx.spec.id} started",
                                    kind=ctx.spec.kind))
        sub, more, outcome = HANDLERS[ctx.spec.kind].begin(ctx, previous, mode)
        state = replace(state, sub=sub)
        return self._settle(state, ctx, effects + more, outcome)

    def _delegate(self, state: EngineState, event: Event) -> Transition:
        ctx = self._ctx(state, event.at, getattr(event, "media_t", None))
        sub, effects, outcome = HANDLERS[ctx.spec.kind].handle(ctx, state.sub, event)
        return self._settle(replace(state, sub=sub), ctx, list(effects), outcome)

    def _settle(self, state: EngineState, ctx: StepContext, effects: list[Effect],
                outcome: StepOutcome | None) -> Transition:
        if outcome is None:
            return Transition(state, tuple(effects))
        spec = ctx.spec
        if outcome.result == "finish":
            return self._finish(state, outcome.code, ctx.at, effects)
        if outcome.result == "completed":
            effects.append(ctx.flow("step_completed", outcome.summary, result=outcome.code,
                                    attempt=state.attempt, **dict(outcome.details)))
            state = replace(state, completed_steps=(*state.completed_steps, spec.id))
            if state.step_index + 1 >= len(self.script.steps):
                return self._finish(state, "completed", ctx.at, effects)
            state = replace(state, step_index=state.step_index + 1, attempt=1, sub={})
            return self._begin(state, ctx.at, ctx.media_t, NEW, None, effects)
        # failed attempt
        effects.append(ctx.flow("step_attempt_failed", f"{spec.id}: {outcome.summary}",
                                result=outcome.code, attempt=state.attempt,
                                **dict(outcome.details)))
        if spec.budget:
            failures = (*state.failures, ctx.at)
            state = replace(state, failures=failures)
            effects.append(FailureCounted(spec.id, outcome.code, ctx.at))
            budget = self.script.budget
            recent = [f for f in failures if ctx.at - f < budget.window_s]
            if len(recent) >= budget.max_failures:
                effects.extend(self._gate(state, ctx, f"{len(recent)} failed attempts within "
                                          f"{budget.window_s:.0f} s (budget exhausted)"))
                return self._finish(state, "failure_budget_exhausted", ctx.at, effects)
        if outcome.retry and state.attempt < spec.max_attempts:
            previous = dict(state.sub)
            state = replace(state, attempt=state.attempt + 1)
            return self._begin(state, ctx.at, ctx.media_t, RETRY, previous, effects)
        gate = self._gate(state, ctx, f"{spec.id} failed after {state.attempt} "
                          f"attempt(s): {outcome.summary}")
        effects.extend(gate)
        return self._finish(state, CHALLENGES_FAILED if gate else "step_failed", ctx.at, effects)

    def _gate(self, state: EngineState, ctx: StepContext, summary: str) -> list[Effect]:
        gate = _GATE_BY_KIND.get(ctx.spec.kind)
        if gate is None:
            return []
        check, code = gate
        # Each failed attempt, with the challenge it asked and when (media time), so the reason
        # a reviewer reads names what was asked and what was seen.
        failed = list(state.sub.get("failed_attempts", ()))
        window = self._window(state)
        if failed:
            starts = [f["t"] for f in failed if f.get("t") is not None]
            if starts:
                window = TimeWindow(min(starts), max(window.end, max(starts)))
        evidence = Evidence(check, Outcome.CONTRADICTS, window, summary, code=code,
                            details={"step": ctx.spec.id, "attempts": state.attempt,
                                     "failed_attempts": _plain(failed)})
        return [EvidenceOut(evidence, ctx.spec.id)]

    def _finish(self, state: EngineState, reason: str, at: float,
                effects: list[Effect]) -> Transition:
        spec = self.script.steps[min(state.step_index, len(self.script.steps) - 1)]
        window = self._window(state)
        if reason == "completed":
            evidence = Evidence(Check.INTERVIEW, Outcome.SUPPORTS, window,
                                f"all {len(self.script.steps)} steps of {self.script.label} "
                                "completed", code="script_completed",
                                details={"script": self.script.label})
        else:
            code = {"declined": "consent_declined", "cancelled": "interview_cancelled"}.get(
                reason, "interview_incomplete")
            evidence = Evidence(Check.INTERVIEW, Outcome.CONTRADICTS, window,
                                f"interview ended at step {spec.id}: {reason.replace('_', ' ')}",
                                code=code, details={"script": self.script.label,
                                                    "step": spec.id, "reason": reason})
        effects = [*effects,
                   FlowEntry("interview_finished", f"interview finished: {reason}", spec.id,
                             window, {"reason": reason}),
                   EvidenceOut(evidence, spec.id), Finished(reason, at)]
        return Transition(replace(state, status=FINISHED, finish_reason=reason), tuple(effects))

    # -- bookkeeping ---------------------------------------------------------------------------
    @staticmethod
    def _note_media(state: EngineState, event: Event) -> EngineState:
        media_t = getattr(event, "media_t", None)
        if media_t is None:
            return state
        first = state.first_media_t if state.first_media_t is not None else media_t
        last = media_t if state.last_media_t is None else max(state.last_media_t, media_t)
        return replace(state, first_media_t=first, last_media_t=last)

    @staticmethod
    def _note_facts(state: EngineState, event: Event) -> EngineState:
        if isinstance(event, DeviceReport):
            report = {"camera": event.camera, "microphone": event.microphone,
                      "network": event.network, "details": dict(event.details)}
            return replace(state, facts={**state.facts, "device": report})
        if isinstance(event, GeoReport):
            return replace(state, facts={**state.facts, "geo": {
                "granted": event.granted, "accuracy_m": event.accuracy_m}})
        return state

    @staticmethod
    def _window(state: EngineState) -> TimeWindow:
        start = state.first_media_t if state.first_media_t is not None else 0.0
        end = state.last_media_t if state.last_media_t is not None else start
        return TimeWindow(start, max(start, end))


def is_running(state: EngineState) -> bool:
    return state.status in (RUNNING, PAUSED)


