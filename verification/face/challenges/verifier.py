"""Did each prompted action happen inside its window, started neither too early nor too late?

For one prompt at media time ``t`` with window ``w`` (:mod:`.generator`):

1. **Baseline**: the applicant's posture over the second before the prompt (median of each
   signal), or, with no face then, over the first frames after it.
2. **Progress** towards the action per frame, in units of its threshold (:func:`.actions.progress`).
3. **Episodes**: runs of frames at progress >= 1; each episode's *onset* is where the movement
   started (the first frame of the run-up above :data:`.actions.ONSET_LEVEL`).
4. The first episode with ``onset >= t + min_reaction`` and its threshold crossing at or
   before ``t + w`` passes the step (a blink challenge needs two such episodes). Otherwise
   the step fails with the reason that explains it:
   ``too_fast`` (the movement was already under way when the prompt appeared: a recording),
   ``too_slow`` (performed, but after the window), ``wrong_action`` (another action was
   performed instead, e.g. turning right when asked to turn left), ``not_performed``, or
   ``no_face`` (the face was missing for most of the window - cannot be judged).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from verification.face.challenges.actions import (
    ALL_ACTIONS,
    ONSET_LEVEL,
    REQUIRED_EPISODES,
    Action,
    FaceSignals,
    progress,
)
from verification.face.challenges.generator import ChallengePrompt, ChallengeTiming

BASELINE_SECONDS = 1.0
LATE_SECONDS = 2.0  # how long after the window a late action is still looked for
MIN_FACE_SHARE = 0.5

PASSED = "passed"
TOO_FAST = "too_fast"
TOO_SLOW = "too_slow"
WRONG_ACTION = "wrong_action"
NOT_PERFORMED = "not_performed"
NO_FACE = "no_face"
CUT_OFF = "cut_off"  # the media ended inside the window: unanswered, not failed


@dataclass(frozen=True)
class ChallengeResult:
    """The verdict on one prompt, with the times and levels it rests on (for reviewers)."""

    action: Action
    prompt_t: float
    window: float
    outcome: str
    onset: float | None = None  # media time the movement started
    reached: float | None = None  # media time the threshold was crossed
    peak: float = 0.0  # highest progress inside the window (1.0 = threshold)
    other_actions: tuple[str, ...] = ()
    face_share: float = 0.0

    @property
    def passed(self) -> bool:
        return self.outcome == PASSED

    @property
    def reaction_s(self) -> float | None:
        return None if self.onset is None else self.onset - self.prompt_t

    def to_json(self) -> dict[str, object]:
        def r(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else round(v, 3)
        return {"action": self.action.value, "prompt_t": r(self.prompt_t),
                "window": r(self.window), "outcome": self.outcome, "onset": r(self.onset),
                "reached": r(self.reached), "reaction_s": r(self.reaction_s),
                "peak": r(self.peak), "other_actions": list(self.other_actions),
                "face_share": r(self.face_share)}


def _baseline(signals: FaceSignals, t: float, timing: ChallengeTiming) -> dict[str, float] | None:
    for start, end in ((t - BASELINE_SECONDS, t), (t, t + timing.min_reaction + 0.5)):
        part = signals.window(start, end)
        face = part.face
        if face.any():
            return {name: float(np.nanmedian(getattr(part, name)[face]))
                    for name in ("yaw", "pitch", "eyes", "blink", "mouth", "smile")}
    return None


def _episodes(times: np.ndarray, level: np.ndarray) -> list[tuple[float, float]]:
    """(onset, crossing) of every run that reaches progress 1; NaN frames break nothing."""
    out: list[tuple[float, float]] = []
    above = level >= 1.0
    i = 0
    n = len(level)
    while i < n:
        if not above[i]:
            i += 1
            continue
        j = i
        while j > 0 and (level[j - 1] >= ONSET_LEVEL or not np.isfinite(level[j - 1])):
            j -= 1
        while j < i and not np.isfinite(level[j]):
            j += 1
        out.append((float(times[j]), float(times[i])))
        while i < n and (above[i] or not np.isfinite(level[i])):
            i += 1
    return out


def verify_prompt(signals: FaceSignals, prompt: ChallengePrompt,
                  timing: ChallengeTiming | None = None) -> ChallengeResult:
    timing = timing or ChallengeTiming()
    t, w = prompt.t, prompt.window
    inside = signals.window(t, t + w)
    expected = max(len(inside.t), 1)
    face_share = float(inside.face.sum()) / expected if len(inside.t) else 0.0
    base = _baseline(signals, t, timing)
    if base is None or face_share < MIN_FACE_SHARE:
        return ChallengeResult(prompt.action, t, w, NO_FACE, face_share=face_share)

    # Look from the baseline through the late margin; episodes before the prompt whose run
    # continues past it count as "already under way".
    span = signals.window(t - BASELINE_SECONDS, t + w + LATE_SECONDS)
    level = progress(prompt.action, span, base)
    in_window = (span.t >= t) & (span.t <= t + w)
    peak = float(np.nanmax(level[in_window])) if np.isfinite(level[in_window]).any() else 0.0
    episodes = [e for e in _episodes(span.t, level) if e[1] >= t]
    # Deliberate actions other than the one asked (an involuntary blink is no "wrong action").
    others = tuple(a.value for a in ALL_ACTIONS if a not in (prompt.action, Action.BLINK) and any(
        t <= c <= t + w for _, c in _episodes(span.t, progress(a, span, base))))

    needed = REQUIRED_EPISODES.get(prompt.action, 1)
    outcome, onset, reached = NOT_PERFORMED, None, None
    valid: list[tuple[float, float]] = []
    for start, crossing in episodes:
        if crossing > t + w:
            if outcome == NOT_PERFORMED:
                outcome, onset, reached = TOO_SLOW, start, crossing
            break
        if start < t + timing.min_reaction:
            outcome, onset, reached = TOO_FAST, start, crossing
            continue
        valid.append((start, crossing))
        if len(valid) >= needed:
            outcome, onset, reached = PASSED, valid[0][0], crossing
            break
    if outcome != PASSED and valid:
        # Performed, but fewer times than asked (one blink of two): not performed as asked.
        outcome, onset, reached = NOT_PERFORMED, valid[0][0], valid[-1][1]
    if outcome in (NOT_PERFORMED, TOO_SLOW) and others:
        outcome = WRONG_ACTION if outcome == NOT_PERFORMED else outcome
    return ChallengeResult(prompt.action, t, w, outcome, onset, reached, peak, others, face_share)


def verify_sequence(signals: FaceSignals, prompts: Sequence[ChallengePrompt],
                    timing: ChallengeTiming | None = None) -> list[ChallengeResult]:
    return [verify_prompt(signals, p, timing) for p in prompts]
