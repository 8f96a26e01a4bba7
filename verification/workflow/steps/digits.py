"""Read random digits aloud: binds the voice, the lips and this session together.

The digits are drawn server-side with the voice check's generator (cryptographic unless the
engine's generator is seeded for a test), shown once, and recorded in the prompt script with
the media time and reading window; the voice analyzer checks that speech falls inside it, that
the lips follow it and that the bursts fit the digits. A retry always shows *new* digits.

The voice stage judges each reading once its window has passed and reports it live
(``DigitsResult``, through the driver): a reading that does not match is a failed attempt and a
new code is shown; the step waits ``verdict_wait_s`` after the window for that report before
leaving the reading to the recording. Failed attempts are kept in ``failed_attempts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verification.voice.digits import default_window_s, generate_digits
from verification.workflow.events import DigitsResult, Event, ScriptMark, Speech, SpeechOnset, Tick
from verification.workflow.steps.base import StepContext, Update, completed, failed, speech_after

END_SILENCE_S = 1.0  # a pause this long after enough speech ends the reading


class Digits:
    def begin(self, ctx: StepContext, previous: Mapping[str, Any] | None, mode: str) -> Update:
        lo, hi = ctx.spec.param("count", [4, 6])
        n = ctx.rng.randint(int(lo), int(hi))
        digits = generate_digits(n, seed=ctx.rng.getrandbits(64))
        window = default_window_s(n) + float(ctx.spec.param("extra_window_s", 2.0))
        prompt_id = f"{ctx.spec.id}-{ctx.attempt}"
        shown = " ".join(digits)
        wait = float(ctx.spec.param("verdict_wait_s", ctx.spec.param("judge_grace_s", 1.0)))
        sub = {"id": prompt_id, "digits": digits, "shown_at": ctx.media_t, "speech": [],
               "until": ctx.at + window, "window_end": ctx.at + window,
               "last_speech_clock": None, "phase": "reading",
               "deadline": ctx.at + max(ctx.spec.timeout_s, window + wait + 2.0),
               "failed_attempts": list((previous or {}).get("failed_attempts", ()))}
        text = ctx.opening_text(mode).format({"digits": shown})
        mark = {"type": "digits", "id": prompt_id, "digits": digits, "window_s": round(window, 3),
                "t": ctx.media_t if ctx.media_t is not None else 0.0}
        effects = [ctx.prompt("speak", text, seconds=window,
                              data={"digits": digits, "prompt_id": prompt_id}),
                   ScriptMark(mark),
                   ctx.flow("digits_shown", f"asked to read {n} digits", prompt=prompt_id,
                            window_s=round(window, 3))]
        return sub, effects, None

    def handle(self, ctx: StepContext, sub: Mapping[str, Any], event: Event) -> Update:
        sub = dict(sub)
        spoken = sum(e - s for s, e in sub["speech"])
        enough = spoken >= float(ctx.spec.param("min_speech_s", 0.8))
        if isinstance(event, SpeechOnset) and sub["phase"] == "reading":
            sub["speaking"] = speech_after(event.start, event.start + 1e-3,
                                           sub["shown_at"]) is not None
            return sub, [], None
        if isinstance(event, Speech) and sub["phase"] == "reading":
            part = speech_after(event.start, event.end, sub["shown_at"])
            sub["speaking"] = False
            if part is not None:
                sub["speech"] = [*sub["speech"], list(part)]
                sub["last_speech_clock"] = event.at
            return sub, [], None
        if isinstance(event, DigitsResult) and event.prompt_id == sub["id"]:
            if not event.decided:
                return sub, [self._read(ctx, sub, "digits_deferred")], \
                    completed("digits_read", "digits read; judged from the recording")
            if event.matched:
                return sub, [self._read(ctx, sub, "digits_matched")], \
                    completed("digits_read", "digits read and matched")
            reason = event.reason or "digits_mismatch"
            return self._fail(ctx, sub, "digits_mismatch",
                              f"the digits were not read as shown ({reason.replace('_', ' ')})",
                              reason, event)
        if not isinstance(event, Tick):
            return sub, [], None
        if event.at >= sub["deadline"]:
            return self._fail(ctx, sub, "digits_timeout", "digits not read in time",
                              "timeout", event)
        if sub["phase"] == "reading":
            quiet = not sub.get("speaking") and sub["last_speech_clock"] is not None and \
                event.at - sub["last_speech_clock"] >= END_SILENCE_S
            if enough and (quiet or event.at >= sub["until"]):
                # the live verdict comes once the reading window has passed (voice stage)
                wait = float(ctx.spec.param("verdict_wait_s",
                                            ctx.spec.param("judge_grace_s", 1.0)))
                sub.update(phase="judging",
                           until=max(event.at, sub.get("window_end", event.at)) + wait)
            elif event.at >= sub["until"] and not sub.get("speaking"):
                return self._fail(ctx, sub, "no_speech", "no digits were heard in the window",
                                  "no_speech", event)
            return sub, [], None
        if event.at >= sub["until"]:  # judging, no live verdict: the analyzers decide
            return sub, [self._read(ctx, sub, "digits_deferred")], \
                completed("digits_read", "digits read; judged from the recording")
        return sub, [], None

    @staticmethod
    def _fail(ctx: StepContext, sub: dict[str, Any], code: str, summary: str, reason: str,
              event: Event) -> Update:
        """A failed reading: kept with its prompt, media times and reason for the evidence."""
        media_t = getattr(event, "media_t", None)
        sub["failed_attempts"] = [*sub.get("failed_attempts", ()), {
            "prompt": sub["id"], "attempt": ctx.attempt, "t": sub["shown_at"],
            "judged_t": media_t, "reason": reason, "at": event.at}]
        effect = ctx.flow("digits_failed_attempt", summary, sub["shown_at"], media_t,
                          prompt=sub["id"], reason=reason, attempt=ctx.attempt)
        return sub, [effect], failed(code, summary, reason=reason)

    @staticmethod
    def _read(ctx: StepContext, sub: Mapping[str, Any], code: str):  # noqa: ANN205
        if not sub["speech"]:
            return ctx.flow(code, "digits judged without a speech segment", prompt=sub["id"])
        first, last = sub["speech"][0][0], sub["speech"][-1][1]
        return ctx.flow(code, f"read the digits ({sum(e - s for s, e in sub['speech']):.1f} s "
                        f"of speech)", first, last, prompt=sub["id"], speech=sub["speech"])
