"""Turn the analyzers' live verdicts into engine events for the step that issued each prompt.

Why a lookup through the prompt script: the analyzers know a prompt only by what the script
recorded for it (its media time and action or digits), the steps know it by the id they gave it
(``liveness-2-1``, ``digits-1``). The script marks carry both, so a verdict is matched to exactly
one mark; a verdict that matches none (a prompt of an earlier connection, a rounding accident)
is dropped, and that prompt is judged from the recording at the end as before.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from verification.pipeline.live_verdicts import CHALLENGE, DIGITS, LiveVerdict
from verification.workflow.events import ChallengeResult, DigitsResult, Event

log = logging.getLogger(__name__)

T_TOLERANCE_S = 1e-3  # marks and verdicts carry the same media time (rounded to ms at most)


def _mark_id(steps: Sequence[Mapping[str, Any]], verdict: LiveVerdict) -> str | None:
    for step in reversed(steps):  # the newest prompt is the likeliest
        t = step.get("t")
        if not isinstance(t, int | float) or not math.isfinite(t) \
                or abs(float(t) - verdict.prompt_t) > T_TOLERANCE_S:
            continue
        if verdict.kind == CHALLENGE and step.get("type") == "challenge" \
                and step.get("action") == verdict.action:
            return step.get("id")
        if verdict.kind == DIGITS and step.get("type") == "digits" \
                and str(step.get("digits")) == verdict.digits:
            return step.get("id")
    return None


def verdict_events(verdicts: Iterable[LiveVerdict], steps: Sequence[Mapping[str, Any]],
                   now: float) -> list[Event]:
    """Engine events for the verdicts whose prompt is in ``steps`` (the live prompt script)."""
    out: list[Event] = []
    for verdict in verdicts:
        mark = _mark_id(steps, verdict)
        if mark is None:
            log.info("live %s verdict at %.2f s matches no issued prompt", verdict.kind,
                     verdict.prompt_t)
            continue
        if verdict.kind == CHALLENGE and verdict.passed is not None:
            out.append(ChallengeResult(now, mark, verdict.passed,
                                       1.0 if verdict.passed else 0.0, verdict.judged_t,
                                       reason=verdict.outcome))
        elif verdict.kind == DIGITS:
            out.append(DigitsResult(now, mark, bool(verdict.passed), verdict.judged_t,
                                    reason=verdict.outcome, decided=verdict.passed is not None))
    return out
