"""The challenge verifier as a face cue: reads the prompt script, collects the face signals,
judges each prompt once its window has closed, and sums the session up.

Evidence (all ``Check.FACE_LIVENESS``):

* one item per prompt: ``challenge_passed`` (supports), ``challenge_step_failed``
  (contradicts; the reason - too fast, too slow, wrong action, not performed - is in the
  details) or ``challenge_no_face`` (inconclusive);
* one summary: ``challenges_passed`` when every judged prompt passed; ``challenge_failed``
  (a hard gate in fusion) when at least half of them failed - a photo performs none, a replayed
  recording performs the wrong actions at the wrong times; a single miss out of several is left
  to the per-prompt evidence (review), since a genuine applicant may misunderstand one prompt.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from verification.face.challenges.actions import FaceSignals, parse_action
from verification.face.challenges.generator import ChallengePrompt, ChallengeTiming
from verification.face.challenges.verifier import (
    BASELINE_SECONDS,
    CUT_OFF,
    LATE_SECONDS,
    NO_FACE,
    ChallengeResult,
    verify_prompt,
)
from verification.face.observation import FaceObservation
from verification.pipeline.analyzer import SessionContext
from verification.pipeline.live_verdicts import CHALLENGE, LiveVerdict, LiveVerdictBox
from verification.prompt_script import PromptScript
from verification.types import Check, Evidence, Outcome, TimeWindow, VideoFrame

log = logging.getLogger(__name__)

MAX_SAMPLES = 60 * 60 * 30  # one hour at 30 fps: the signal history is bounded
MODEL = "face_mesh+face_blendshapes"
EARLY_PASS_FACE_SHARE = 0.8  # a pass is reported before the window closes only on a clear face


def prompts_from_script(script: PromptScript, timing: ChallengeTiming) -> list[ChallengePrompt]:
    prompts = []
    for step in script.steps:
        action = parse_action(step.type)
        if action is None:
            continue
        window = step.get("window", timing.window)
        if isinstance(window, bool) or not isinstance(window, int | float) or not (
                math.isfinite(window) and window > timing.min_reaction):
            window = timing.window
        prompts.append(ChallengePrompt(action, step.t, float(window)))
    return prompts


class SignalRecorder:
    """Keeps the per-frame challenge signals of one interview (bounded)."""

    def __init__(self, max_samples: int = MAX_SAMPLES) -> None:
        self._rows: deque[tuple[float, ...]] = deque(maxlen=max_samples)

    def add(self, observation: FaceObservation) -> None:
        nan = math.nan
        geometry = observation.geometry
        if geometry is None:
            self._rows.append((observation.pts, nan, nan, nan, nan, nan, nan))
            return
        shapes = observation.blendshapes
        blink = smile = nan
        if shapes is not None:
            blink = (shapes.score("eyeBlinkLeft") + shapes.score("eyeBlinkRight")) / 2
            smile = (shapes.score("mouthSmileLeft") + shapes.score("mouthSmileRight")) / 2
        self._rows.append((observation.pts, geometry.pose.yaw, geometry.pose.pitch,
                           geometry.eyes_open, blink, geometry.mouth_opening, smile))

    def signals(self) -> FaceSignals:
        return self._to_signals(self._rows)

    def signals_since(self, since: float) -> FaceSignals:
        """Only the rows from media time ``since`` on: a live verdict per prompt costs the
        prompt's few seconds of frames, not the whole interview's history."""
        rows = []
        for row in reversed(self._rows):
            if row[0] < since:
                break
            rows.append(row)
        rows.reverse()
        return self._to_signals(rows)

    @staticmethod
    def _to_signals(rows) -> FaceSignals:  # noqa: ANN001 - a sequence of row tuples
        if not rows:
            return FaceSignals.empty()
        data = np.asarray(rows, dtype=np.float64)
        return FaceSignals(*(data[:, i] for i in range(data.shape[1])))

    @property
    def last_t(self) -> float | None:
        return self._rows[-1][0] if self._rows else None


def step_evidence(result: ChallengeResult) -> Evidence:
    window = TimeWindow(result.prompt_t, result.prompt_t + result.window)
    action = result.action.value.replace("_", " ")
    if result.passed:
        return Evidence(Check.FACE_LIVENESS, Outcome.SUPPORTS, window,
                        f"challenge '{action}' performed {result.reaction_s:.2f} s after "
                        "the prompt",
                        score=1.0, model=MODEL, code="challenge_passed",
                        details=result.to_json())
    if result.outcome == NO_FACE:
        return Evidence(Check.FACE_LIVENESS, Outcome.INCONCLUSIVE, window,
                        f"challenge '{action}': face missing for most of its window",
                        model=MODEL, code="challenge_no_face", details=result.to_json())
    if result.outcome == CUT_OFF:
        return Evidence(Check.FACE_LIVENESS, Outcome.INCONCLUSIVE, window,
                        f"challenge '{action}': the media ended before its window closed",
                        model=MODEL, code="challenge_cut_off", details=result.to_json())
    reason = {"too_fast": "the movement started before the prompt could be seen",
              "too_slow": "performed only after its window",
              "wrong_action": f"another action was performed ({', '.join(result.other_actions)})",
              "not_performed": "not performed"}.get(result.outcome, result.outcome)
    return Evidence(Check.FACE_LIVENESS, Outcome.CONTRADICTS, window,
                    f"challenge '{action}' failed: {reason}", score=0.0, model=MODEL,
                    code="challenge_step_failed", details=result.to_json())


def summary_evidence(results: list[ChallengeResult]) -> Evidence:
    judged = [r for r in results if r.outcome not in (NO_FACE, CUT_OFF)]
    failed = [r for r in judged if not r.passed]
    start = min(r.prompt_t for r in results)
    end = max(r.prompt_t + r.window for r in results)
    window = TimeWindow(start, end)
    details = {"prompts": len(results), "judged": len(judged), "failed": len(failed),
               "results": [r.to_json() for r in results]}
    if not judged:
        return Evidence(Check.FACE_LIVENESS, Outcome.INCONCLUSIVE, window,
                        "no challenge could be judged (face missing)", model=MODEL,
                        code="challenges_not_judged", details=details)
    share = 1.0 - len(failed) / len(judged)
    if not failed:
        return Evidence(Check.FACE_LIVENESS, Outcome.SUPPORTS, window,
                        f"all {len(judged)} liveness challenges performed in time", score=share,
                        model=MODEL, code="challenges_passed", details=details)
    if len(failed) * 2 >= len(judged):
        return Evidence(Check.FACE_LIVENESS, Outcome.CONTRADICTS, window,
                        f"{len(failed)} of {len(judged)} liveness challenges failed", score=share,
                        model=MODEL, code="challenge_failed", details=details)
    return Evidence(Check.FACE_LIVENESS, Outcome.INCONCLUSIVE, window,
                    f"{len(failed)} of {len(judged)} liveness challenges failed", score=share,
                    model=MODEL, code="challenges_partly_failed", details=details)


class ChallengeCue:
    """Per-interview challenge verification (a :class:`~verification.face.cues.FaceCue`)."""

    name = "liveness_challenges"

    def __init__(self, prompts: list[ChallengePrompt],
                 timing: ChallengeTiming | None = None) -> None:
        self.timing = timing or ChallengeTiming()
        self._pending = sorted(prompts, key=lambda p: p.t)
        self._results: list[ChallengeResult] = []
        self._recorder = SignalRecorder()
        self._known = {(p.action, p.t) for p in prompts}
        self._live_steps: list | None = None  # the live flow's growing prompt list
        self._live_seen = 0
        self._box: LiveVerdictBox | None = None  # live interview: per-prompt verdicts go here
        self._live_due: list[ChallengePrompt] = []  # issued live, verdict not yet reported

    @classmethod
    def factory(cls, context: SessionContext) -> ChallengeCue:
        timing = ChallengeTiming()
        script = PromptScript.from_context(context.script)
        cue = cls(prompts_from_script(script, timing), timing)
        steps = context.script.get("steps")
        if isinstance(steps, list):  # live interview: prompts are appended as they are shown
            cue._live_steps, cue._live_seen = steps, len(steps)
            cue._box = context.live_verdicts
        return cue

    def _sync_live_prompts(self) -> None:
        """Pick up challenges the live flow issued since the last frame."""
        steps = self._live_steps
        if steps is None or len(steps) == self._live_seen:
            return
        self._live_seen = len(steps)
        try:
            fresh = prompts_from_script(PromptScript.from_json(list(steps)), self.timing)
        except Exception:  # a malformed live step must not stop the face analysis
            log.exception("live prompt script unreadable")
            return
        for prompt in fresh:
            if (prompt.action, prompt.t) not in self._known:
                self._known.add((prompt.action, prompt.t))
                self._pending.append(prompt)
                if self._box is not None:
                    self._live_due.append(prompt)
        self._pending.sort(key=lambda p: p.t)

    @property
    def results(self) -> tuple[ChallengeResult, ...]:
        return tuple(self._results)

    def observe(self, observation: FaceObservation, frame: VideoFrame) -> Iterable[Evidence]:
        self._sync_live_prompts()
        if not self._pending and self._live_steps is None:
            return ()
        self._recorder.add(observation)  # live: always, the baseline precedes each prompt
        if self._live_due:
            self._report_live(observation.pts)
        # A prompt is judged once its window and the late margin have passed.
        due = [p for p in self._pending if p.t + p.window + LATE_SECONDS < observation.pts]
        return [self._judge(p) for p in due]

    def _report_live(self, pts: float) -> None:
        """Tell the live script how each issued prompt went, as early as the answer is final.

        A pass is final the moment the action is seen (onset after the reaction bound, threshold
        crossed inside the window): later frames cannot undo it. A fail is final when the window
        closes: too slow or not performed, the step must ask again either way. The evidence for
        the verdict and the timeline is still made by :meth:`_judge` after the late margin, with
        the precise reason (too slow vs. not performed)."""
        assert self._box is not None
        for prompt in list(self._live_due):
            closed = pts >= prompt.t + prompt.window
            if not closed and pts < prompt.t + self.timing.min_reaction + 0.5:
                continue  # too early to say anything (the baseline may need these frames)
            signals = self._recorder.signals_since(prompt.t - BASELINE_SECONDS - 0.1)
            result = verify_prompt(signals, prompt, self.timing)
            if not closed and not (result.passed
                                   and result.face_share >= EARLY_PASS_FACE_SHARE):
                continue
            self._live_due.remove(prompt)
            self._box.put(LiveVerdict(CHALLENGE, prompt.t, result.passed, result.outcome, pts,
                                      action=prompt.action.value, details=result.to_json()))

    def _judge(self, prompt: ChallengePrompt, media_end: float | None = None) -> Evidence:
        """``media_end`` is given at the end of the media: a prompt whose window the media did
        not cover (the applicant left, the connection dropped for good) was never answered, not
        failed - unless the action was already seen."""
        self._pending.remove(prompt)
        result = verify_prompt(self._recorder.signals(), prompt, self.timing)
        if media_end is not None and not result.passed and media_end < prompt.t + prompt.window:
            result = replace(result, outcome=CUT_OFF)
        self._results.append(result)
        log.debug("challenge %s at %.2f s: %s", prompt.action, prompt.t, result.outcome)
        return step_evidence(result)

    def summarize(self) -> Iterable[Evidence]:
        self._sync_live_prompts()
        end = self._recorder.last_t
        out = [self._judge(p, media_end=-math.inf if end is None else end)
               for p in list(self._pending)]
        if self._results:
            out.append(summary_evidence(self._results))
        return out
