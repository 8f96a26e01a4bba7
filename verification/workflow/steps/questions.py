"""Two to four questions (purpose of the loan, the order behind it, the business ...).

Required questions come first, the rest are drawn at random from the product's pool so no two
interviews are scripted alike. An answer ends after ``end_silence_s`` of silence following at
least ``min_answer_s`` of speech, or at ``max_answer_s``; each answer's span goes into the
evidence log and the prompt script (the voice and lip-sync checks run on every answer).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verification.workflow.events import Event, ScriptMark, Speech, SpeechOnset, Tick
from verification.workflow.script import Text
from verification.workflow.steps.base import (
    NEW,
    StepContext,
    Update,
    completed,
    failed,
    speech_after,
)


def _pool(ctx: StepContext) -> dict[str, Mapping[str, Any]]:
    return {q["id"]: q for q in ctx.spec.param("pool")}


def _choose(ctx: StepContext) -> list[str]:
    lo, hi = ctx.spec.param("count", [2, 4])
    n = ctx.rng.randint(int(lo), int(hi))
    pool = list(ctx.spec.param("pool"))
    required = [q["id"] for q in pool if q.get("required")]
    optional = [q["id"] for q in pool if not q.get("required")]
    return required + ctx.rng.sample(optional, max(0, min(n - len(required), len(optional))))


class Questions:
    def begin(self, ctx: StepContext, previous: Mapping[str, Any] | None, mode: str) -> Update:
        if mode == NEW or previous is None:
            questions, i = _choose(ctx), 0
        else:  # retry or resume: keep the answers given, ask the current question again
            questions, i = list(previous["questions"]), int(previous["i"])
        sub = {"questions": questions, "i": i, "deadline": ctx.at + ctx.spec.timeout_s}
        effects = [] if i else [ctx.prompt("none", ctx.opening_text(mode),
                                           data={"count": len(questions)})]
        sub, asked = self._ask(ctx, sub, retry=mode != NEW and previous is not None)
        return sub, effects + asked, None

    def _ask(self, ctx: StepContext, sub: dict[str, Any], retry: bool = False):  # noqa: ANN202
        qid = sub["questions"][sub["i"]]
        text = Text(_pool(ctx)[qid]["prompt"])
        if retry and ctx.spec.retry_prompt is not None:
            text = Text({loc: f"{ctx.spec.retry_prompt.get(loc)}: {text.get(loc)}"
                         for loc in text.by_locale})
        sub.update(asked_at=ctx.at, asked_media_t=ctx.media_t, speech=[], speaking=False,
                   last_speech_clock=None, first_speech_clock=None)
        mark = {"type": "question", "id": qid, "t": ctx.media_t if ctx.media_t is not None
                else 0.0}
        return sub, [ctx.prompt("speak", text, seconds=ctx.spec.param("max_answer_s", 20.0),
                                data={"question": qid, "number": sub["i"] + 1,
                                      "of": len(sub["questions"])}),
                     ScriptMark(mark),
                     ctx.flow("question_asked", f"asked {qid}", question=qid)]

    def handle(self, ctx: StepContext, sub: Mapping[str, Any], event: Event) -> Update:
        sub = dict(sub)
        if isinstance(event, SpeechOnset):
            if speech_after(event.start, event.start + 1e-3, sub["asked_media_t"]) is not None:
                sub["speaking"] = True
                sub["first_speech_clock"] = sub["first_speech_clock"] or event.at
            return sub, [], None
        if isinstance(event, Speech):
            part = speech_after(event.start, event.end, sub["asked_media_t"])
            sub["speaking"] = False
            if part is not None:
                sub["speech"] = [*sub["speech"], list(part)]
                sub["last_speech_clock"] = event.at
                sub["first_speech_clock"] = sub["first_speech_clock"] or event.at
            return sub, [], None
        if not isinstance(event, Tick):
            return sub, [], None
        if event.at >= sub["deadline"]:
            return sub, [], failed("questions_timeout", "questions not answered in time")
        spoken = sum(e - s for s, e in sub["speech"])
        waited = event.at - sub["asked_at"]
        qid = sub["questions"][sub["i"]]
        cut = waited >= float(ctx.spec.param("max_answer_s", 20.0))
        if not sub["speech"] and not sub["speaking"]:
            if waited >= float(ctx.spec.param("answer_start_timeout_s", 8.0)):
                return sub, [], failed("no_answer", f"no answer to {qid}", question=qid)
            return sub, [], None
        if not cut:
            if sub["speaking"]:
                return sub, [], None
            quiet = event.at - sub["last_speech_clock"] >= float(
                ctx.spec.param("end_silence_s", 1.5))
            if not (quiet and spoken >= float(ctx.spec.param("min_answer_s", 1.0))):
                return sub, [], None
        if not sub["speech"]:  # cut off in the middle of the first segment
            begun = sub["asked_media_t"] if sub["asked_media_t"] is not None else 0.0
            sub["speech"] = [[begun, max(begun, ctx.media_t or begun)]]
            spoken = sub["speech"][0][1] - sub["speech"][0][0]
        start, end = sub["speech"][0][0], sub["speech"][-1][1]
        effects = [ctx.flow("answer", f"answered {qid} ({spoken:.1f} s of speech)", start, end,
                            question=qid, speech=sub["speech"], cut_off=cut),
                   ScriptMark({"type": "question", "id": qid, "t": sub["asked_media_t"]
                               if sub["asked_media_t"] is not None else start,
                               "end": round(end, 3)})]
        sub["i"] += 1
        if sub["i"] >= len(sub["questions"]):
            return sub, effects, completed("answered", f"{len(sub['questions'])} questions "
                                           "answered")
        sub, asked = self._ask(ctx, sub)
        return sub, effects + asked, None
