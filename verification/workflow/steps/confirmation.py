"""Consent and loan-terms confirmation: a tap *and* a spoken answer, both timestamped.

Why both: a tap alone can be made by anyone holding the phone; the spoken "I agree" is on the
recording, in the applicant's voice, with lips moving (the voice and sync checks run on it).
The exact text shown is recorded with the confirmation, so the evidence says what was agreed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verification.workflow.events import Event, Speech, Tap, Tick
from verification.workflow.steps.base import (
    RESUME,
    RETRY,
    Outcome,
    StepContext,
    Update,
    completed,
    failed,
    speech_after,
)


class Confirmation:
    def begin(self, ctx: StepContext, previous: Mapping[str, Any] | None, mode: str) -> Update:
        keep_tap = previous.get("tap") if previous and mode in (RETRY, RESUME) else None
        shown_text = ctx.spec.prompt.format(ctx.values).to_json()
        sub = {"deadline": ctx.at + ctx.spec.timeout_s, "shown_at": ctx.media_t,
               "shown_clock": ctx.at, "tap": keep_tap, "speech": [], "text": shown_text}
        data: dict[str, Any] = {"choices": ["agree", "decline"]}
        if ctx.spec.param("show_terms"):
            data["terms"] = {k: ctx.values.get(k) for k in
                             ("amount", "currency", "annual_rate_pct", "term_months", "fees")}
        prompt = ctx.prompt("tap_speak", ctx.opening_text(mode), data=data)
        return sub, [prompt], None

    def handle(self, ctx: StepContext, sub: Mapping[str, Any], event: Event) -> Update:
        sub = dict(sub)
        effects = []
        if isinstance(event, Tap) and event.step_id == ctx.spec.id:
            if event.choice == "decline":
                effects.append(ctx.flow("declined", f"{ctx.spec.id}: applicant declined",
                                        tap_at=event.at, tap_media_t=event.media_t))
                return sub, effects, Outcome("finish", "declined",
                                             f"{ctx.spec.id} declined by the applicant")
            if event.choice == "agree" and sub["tap"] is None:
                sub["tap"] = {"at": event.at, "media_t": event.media_t}
                effects.append(ctx.flow("tap", f"{ctx.spec.id}: tapped agree",
                                        tap_at=event.at, tap_media_t=event.media_t))
        elif isinstance(event, Speech):
            part = speech_after(event.start, event.end, sub["shown_at"])
            if part is not None:
                sub["speech"] = [*sub["speech"], list(part)]
        elif isinstance(event, Tick) and event.at >= sub["deadline"]:
            if sub["tap"] is None and not sub["speech"]:
                return sub, effects, failed("no_confirmation", "neither a tap nor an answer")
            if sub["tap"] is None:
                return sub, effects, failed("no_tap", "spoken answer but no tap")
            return sub, effects, failed("no_spoken_confirmation", "tap but no spoken answer")
        spoken = sum(e - s for s, e in sub["speech"])
        if sub["tap"] is not None and spoken >= float(ctx.spec.param("min_speech_s", 0.4)):
            first, last = sub["speech"][0][0], sub["speech"][-1][1]
            effects.append(ctx.flow(
                "confirmed", f"{ctx.spec.id}: confirmed by tap and {spoken:.1f} s of speech",
                first, last, tap=sub["tap"], speech=sub["speech"], text=sub["text"],
                shown_at=sub["shown_at"]))
            return sub, effects, completed("confirmed", f"{ctx.spec.id} confirmed")
        return sub, effects, None
