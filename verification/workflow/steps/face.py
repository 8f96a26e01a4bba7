"""Face into the oval: the live quality gate must hold "good" for ``hold_s`` seconds.

Why hold: one good frame can be luck; the evidence frames later used for matching and
reviewing come from the same seconds, so the gate asks for the face to *stay* usable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verification.workflow.events import Event, FaceQuality, Tick
from verification.workflow.steps.base import StepContext, Update, completed, failed


class FaceQualityGate:
    def begin(self, ctx: StepContext, previous: Mapping[str, Any] | None, mode: str) -> Update:
        sub = {"deadline": ctx.at + ctx.spec.timeout_s, "good_since": None,
               "good_since_media": None, "codes": []}
        return sub, [ctx.prompt("look", ctx.opening_text(mode), data={"oval": True})], None

    def handle(self, ctx: StepContext, sub: Mapping[str, Any], event: Event) -> Update:
        sub = dict(sub)
        hold = float(ctx.spec.param("hold_s", 1.0))
        if isinstance(event, FaceQuality):
            if not event.good:
                sub.update(good_since=None, good_since_media=None, codes=list(event.codes))
            elif sub["good_since"] is None:
                sub.update(good_since=event.at, good_since_media=event.media_t)
            if sub["good_since"] is not None and event.at - sub["good_since"] >= hold:
                effect = ctx.flow("face_quality_ok", f"face usable for {hold:.1f} s",
                                  sub["good_since_media"], event.media_t)
                return sub, [effect], completed("face_quality_ok", "face in the oval")
        elif isinstance(event, Tick) and event.at >= sub["deadline"]:
            return sub, [], failed("face_quality_timeout",
                                   "face not usable in time: " + (", ".join(sub["codes"])
                                                                  or "no face"),
                                   codes=sub["codes"])
        return sub, [], None
