"""What a step handler is: the per-kind rules of one interview step, as pure functions.

A handler never keeps state in itself: its progress is a JSON-able dict (``sub``) that the
engine stores in :class:`~verification.workflow.engine.EngineState` and persists, so a server
restart or a dropped connection resumes exactly where the step was.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from verification.types import TimeWindow
from verification.workflow.events import Effect, Event, FlowEntry, Prompt
from verification.workflow.script import StepSpec, Text

NEW, RETRY, RESUME = "new", "retry", "resume"


@dataclass(frozen=True)
class StepContext:
    spec: StepSpec
    index: int
    total: int
    attempt: int
    at: float
    media_t: float | None
    rng: random.Random
    values: Mapping[str, Any] = field(default_factory=dict)  # loan terms, ... for prompt texts
    facts: Mapping[str, Any] = field(default_factory=dict)  # device / geo reports seen so far

    def prompt(self, input: str, text: Text | None = None, seconds: float | None = None,
               data: Mapping[str, Any] | None = None) -> Prompt:
        text = text or self.spec.prompt
        return Prompt(step_id=self.spec.id, kind=self.spec.kind, input=input,
                      text=text.format(self.values).to_json(), index=self.index,
                      total=self.total, attempt=self.attempt, seconds=seconds, data=data or {})

    def opening_text(self, mode: str) -> Text:
        if mode == RETRY and self.spec.retry_prompt is not None:
            return self.spec.retry_prompt
        return self.spec.prompt

    def flow(self, code: str, summary: str, start: float | None = None, end: float | None = None,
             **details: Any) -> FlowEntry:
        window = None
        if start is not None:
            window = TimeWindow(start, max(start, end if end is not None else start))
        elif self.media_t is not None:
            window = TimeWindow(self.media_t, self.media_t)
        return FlowEntry(code=code, summary=summary, step_id=self.spec.id, window=window,
                         details=details)


@dataclass(frozen=True)
class Outcome:
    """How an event ended the step's current attempt (``None`` from a handler: still running)."""

    result: str  # "completed" | "failed" | "finish"
    code: str
    summary: str
    retry: bool = True  # for "failed": may the step be attempted again?
    details: Mapping[str, Any] = field(default_factory=dict)


def completed(code: str, summary: str, **details: Any) -> Outcome:
    return Outcome("completed", code, summary, details=details)


def failed(code: str, summary: str, retry: bool = True, **details: Any) -> Outcome:
    return Outcome("failed", code, summary, retry, details)


Update = tuple[dict[str, Any], list[Effect], Outcome | None]


class StepHandler(Protocol):
    def begin(self, ctx: StepContext, previous: Mapping[str, Any] | None, mode: str) -> Update:
        """Start (``new``), restart after a failed attempt (``retry``) or after a reconnect
        (``resume``); ``previous`` is the step's progress before, for retry and resume."""
        ...

    def handle(self, ctx: StepContext, sub: Mapping[str, Any], event: Event) -> Update:
        ...


def speech_after(start: float, end: float, since: float | None) -> tuple[float, float] | None:
    """The part of a speech segment after ``since`` (media time), or None."""
    if since is None:
        return (start, end) if end > start else None
    start = max(start, since)
    return (start, end) if end > start else None
