"""Dynamic liveness: 2-3 random actions in random order, each prompted after a random pause
and expected within a window after its prompt.

Why random and server-side: a replayed clip performs whatever its recording shows, at the
times it was recorded; a photo performs nothing. The actions, their order and their timing are
drawn here (a cryptographic generator in production), bound to this session, and written into
the prompt script with their media times so the face analyzer judges each one in its window.

The live verifier (the face stage's challenge cue, through the driver) reports each challenge
(``ChallengeResult``): a pass as soon as the action is seen, a fail when the window closes. A
failed one is a failed attempt, retried with a *new* action (never one already asked while any
is left, and a head movement while one is left: a blink can happen by chance in a recording);
every failed attempt is kept in ``failed_attempts`` (challenge, action, media time, reason) so
the evidence of a step failed beyond its retries names them. Without a report within
``verdict_wait_s`` of the window closing, the challenge is left to the analyzers ("deferred").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verification.face.challenges.actions import ALL_ACTIONS, Action
from verification.face.challenges.generator import POSE_ACTIONS, ChallengeGenerator
from verification.workflow.events import ChallengeResult, Event, ScriptMark, Tick
from verification.workflow.script import Text
from verification.workflow.steps.base import (
    NEW,
    StepContext,
    Update,
    completed,
    failed,
)


def _actions(ctx: StepContext) -> list[str]:
    return list(dict.fromkeys(ctx.spec.param("actions", [a.value for a in ALL_ACTIONS])))


def _delay(ctx: StepContext) -> float:
    lo, hi = ctx.spec.param("delay_s", [0.6, 1.6])
    return round(ctx.rng.uniform(float(lo), float(hi)), 3)


def _first_draw(ctx: StepContext, n: int) -> list[str]:
    """The face check's generator: distinct actions, at least one head movement (a blink
    alone can happen by chance in a recording)."""
    actions = [Action(a) for a in _actions(ctx)]
    if len(actions) < 2:
        return _draw(ctx, n, set())
    generator = ChallengeGenerator(seed=ctx.rng.getrandbits(64), actions=actions)
    return [a.value for a in generator.actions_sequence(min(n, len(actions)))]


def _draw(ctx: StepContext, n: int, exclude: set[str], failed: set[str]) -> list[str]:
    """Actions for a retry: unseen ones first; when every action was asked, any but those the
    applicant already failed; with a head movement among them whenever one is available."""
    pool = [a for a in _actions(ctx) if a not in exclude] \
        or [a for a in _actions(ctx) if a not in failed] or _actions(ctx)
    chosen = ctx.rng.sample(pool, min(n, len(pool)))
    poses = {a.value for a in POSE_ACTIONS}
    if chosen and not poses & set(chosen):
        spare = [a for a in pool if a in poses]
        if spare:
            chosen[ctx.rng.randrange(len(chosen))] = ctx.rng.choice(spare)
    return chosen


def verdict_wait_s(ctx: StepContext) -> float:
    """How long after a window closes the step waits for the live verdict before leaving the
    challenge to the recording (``verdict_wait_s``; older scripts name it ``judge_grace_s``)."""
    return float(ctx.spec.param("verdict_wait_s", ctx.spec.param("judge_grace_s", 1.0)))


class Liveness:
    def begin(self, ctx: StepContext, previous: Mapping[str, Any] | None, mode: str) -> Update:
        done: list[dict[str, Any]] = []
        used: set[str] = set()
        if mode == NEW or previous is None:
            lo, hi = ctx.spec.param("count", [2, 3])
            count = ctx.rng.randint(int(lo), int(hi))
            plan = [{"id": f"{ctx.spec.id}-{ctx.attempt}-{k + 1}", "action": a}
                    for k, a in enumerate(_first_draw(ctx, count))]
            return self._start(ctx, plan, 0, mode)
        else:
            done = [c for c in previous["plan"][:previous["i"]]]
            remaining = len(previous["plan"]) - len(done)
            # never re-ask a seen action (while unseen ones are left)
            used = {c["action"] for c in previous["plan"]} | set(previous.get("asked", ()))
            failed = {f["action"] for f in previous.get("failed_attempts", ())}
        plan = done + [{"id": f"{ctx.spec.id}-{ctx.attempt}-{len(done) + k + 1}", "action": a}
                       for k, a in enumerate(_draw(ctx, remaining, used, failed))]
        return self._start(ctx, plan, len(done), mode, previous)

    def _start(self, ctx: StepContext, plan: list[dict[str, Any]], i: int, mode: str,
               previous: Mapping[str, Any] | None = None) -> Update:
        previous = previous or {}
        asked = list(dict.fromkeys([*previous.get("asked", ()),
                                    *(c["action"] for c in previous.get("plan", ()))]))
        sub = {"plan": plan, "i": i, "phase": "pause", "until": ctx.at + _delay(ctx),
               "deadline": ctx.at + ctx.spec.timeout_s, "issued_media_t": None,
               "asked": asked, "failed_attempts": list(previous.get("failed_attempts", ()))}
        prompt = ctx.prompt("action", ctx.opening_text(mode), data={"count": len(plan)})
        return sub, [prompt], None

    def handle(self, ctx: StepContext, sub: Mapping[str, Any], event: Event) -> Update:
        sub = dict(sub)
        if sub["i"] >= len(sub["plan"]):
            return sub, [], completed("challenges_done", "all challenges issued")
        current = sub["plan"][sub["i"]]
        if isinstance(event, ChallengeResult) and event.challenge_id == current["id"] \
                and sub["phase"] in ("window", "judging"):
            if event.performed:
                effect = ctx.flow("challenge_passed", f"{current['action']} performed",
                                  sub["issued_media_t"], event.media_t,
                                  challenge=current["id"], action=current["action"],
                                  score=event.score)
                return self._advance(ctx, sub, [effect])
            reason = event.reason or "not_performed"
            effect = ctx.flow("challenge_failed_attempt",
                              f"{current['action']} not performed ({reason.replace('_', ' ')})",
                              sub["issued_media_t"], event.media_t, challenge=current["id"],
                              action=current["action"], score=event.score, reason=reason,
                              attempt=ctx.attempt)
            sub["failed_attempts"] = [*sub.get("failed_attempts", ()), {
                "challenge": current["id"], "action": current["action"], "attempt": ctx.attempt,
                "t": sub["issued_media_t"], "judged_t": event.media_t, "reason": reason,
                "at": event.at}]
            return sub, [effect], failed("challenge_not_performed",
                                         f"{current['action']} not performed in its window "
                                         f"({reason.replace('_', ' ')})",
                                         action=current["action"], reason=reason)
        if not isinstance(event, Tick):
            return sub, [], None
        if event.at >= sub["deadline"]:
            return sub, [], failed("liveness_timeout", "challenges not finished in time")
        if event.at < sub["until"]:
            return sub, [], None
        if sub["phase"] == "pause":
            return self._issue(ctx, sub, current)
        if sub["phase"] == "window":
            sub.update(phase="judging", until=event.at + verdict_wait_s(ctx))
            return sub, [], None
        effect = ctx.flow("challenge_deferred", f"{current['action']}: judged from the recording",
                          sub["issued_media_t"], ctx.media_t, challenge=current["id"],
                          action=current["action"])
        return self._advance(ctx, sub, [effect])

    def _issue(self, ctx: StepContext, sub: dict[str, Any], current: Mapping[str, Any]) -> Update:
        window = float(ctx.spec.param("window_s", 4.0))
        text = Text(ctx.spec.param("action_prompts")[current["action"]])
        mark = {"type": "challenge", "action": current["action"], "id": current["id"],
                "t": ctx.media_t if ctx.media_t is not None else 0.0, "window": window}
        effects = [
            ctx.prompt("action", text, seconds=window,
                       data={"challenge": current["id"], "action": current["action"],
                             "number": sub["i"] + 1, "of": len(sub["plan"])}),
            ScriptMark(mark),
            ctx.flow("challenge_issued", f"asked to {current['action'].replace('_', ' ')}",
                     challenge=current["id"], action=current["action"], window_s=window),
        ]
        sub.update(phase="window", until=ctx.at + window, issued_media_t=ctx.media_t)
        return sub, effects, None

    def _advance(self, ctx: StepContext, sub: dict[str, Any], effects: list) -> Update:
        sub.update(i=sub["i"] + 1, phase="pause", until=ctx.at + _delay(ctx),
                   issued_media_t=None)
        if sub["i"] >= len(sub["plan"]):
            return sub, effects, completed("challenges_done",
                                           f"{len(sub['plan'])} challenges issued")
        return sub, effects, None
