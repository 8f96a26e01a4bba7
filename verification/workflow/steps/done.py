"""The last step: tell the applicant it was submitted (never a score or a decision)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verification.workflow.events import Event
from verification.workflow.steps.base import StepContext, Update, completed


class Done:
    def begin(self, ctx: StepContext, previous: Mapping[str, Any] | None, mode: str) -> Update:
        return {}, [ctx.prompt("none", data={"final": True})], completed("done", "submitted")

    def handle(self, ctx: StepContext, sub: Mapping[str, Any], event: Event) -> Update:
        return dict(sub), [], None
