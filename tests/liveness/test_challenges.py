"""Challenge generation and verification on synthetic face-signal time series (no models)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from verification.face.challenges import (
    ALL_ACTIONS,
    Action,
    ChallengeGenerator,
    ChallengePrompt,
    ChallengeTiming,
    FaceSignals,
    verify_prompt,
)
from verification.face.challenges.cue import prompts_from_script, summary_evidence
from verification.face.challenges.generator import POSE_ACTIONS
from verification.face.challenges.verifier import verify_sequence
from verification.prompt_script import PromptScript
from verification.types import Outcome

FPS = 10.0


def neutral(duration: float = 12.0, fps: float = FPS) -> dict[str, np.ndarray]:
    t = np.arange(0.0, duration, 1.0 / fps)
    n = len(t)
    return {"t": t, "yaw": np.full(n, 2.0), "pitch": np.full(n, -3.0), "eyes": np.full(n, 0.3),
            "blink": np.full(n, 0.05), "mouth": np.full(n, 0.02), "smile": np.full(n, 0.05)}


def ramp(sig: dict[str, np.ndarray], name: str, start: float, peak: float, rise: float = 0.4,
         hold: float = 0.6) -> None:
    """Move ``name`` from its level to ``level + peak`` from ``start`` over ``rise`` s, hold,
    and come back: the shape of a deliberate action."""
    t = sig["t"]
    base = sig[name].copy()
    up = np.clip((t - start) / rise, 0, 1)
    down = np.clip((t - (start + rise + hold)) / rise, 0, 1)
    sig[name] = base + peak * (up - down)


def series(sig: dict[str, np.ndarray]) -> FaceSignals:
    return FaceSignals(**sig)


def test_generator_is_repeatable_with_a_seed_and_well_formed() -> None:
    timing = ChallengeTiming()
    a = ChallengeGenerator(seed=7).sequence(start=5.0, count=3)
    b = ChallengeGenerator(seed=7).sequence(start=5.0, count=3)
    assert a == b
    for seed in range(50):
        prompts = ChallengeGenerator(seed=seed).sequence(start=1.0, count=3)
        actions = [p.action for p in prompts]
        assert len(set(actions)) == 3
        assert any(a in POSE_ACTIONS for a in actions)
        gaps = [q.t - (p.t + p.window) for p, q in zip(prompts, prompts[1:], strict=False)]
        assert all(timing.pause[0] - 1e-6 <= g <= timing.pause[1] + 1e-6 for g in gaps)
        assert prompts[0].t >= 1.0 + timing.pause[0] - 1e-6
    orders = {tuple(p.action for p in ChallengeGenerator(seed=s).sequence(0.0, 3))
              for s in range(50)}
    assert len(orders) > 20  # the order really is random


def test_generator_rejects_bad_requests() -> None:
    with pytest.raises(ValueError):
        ChallengeGenerator(seed=1).sequence(0.0, count=len(ALL_ACTIONS) + 1)
    with pytest.raises(ValueError):
        ChallengeTiming(min_reaction=4.0, window=3.0)


def test_prompts_round_trip_through_the_script_format() -> None:
    prompts = ChallengeGenerator(seed=3).sequence(start=2.0, count=3)
    script = PromptScript.from_json([p.to_step() for p in prompts]
                                    + [{"type": "digits", "t": 20.0, "digits": "4821"}])
    again = prompts_from_script(script, ChallengeTiming())
    assert again == list(prompts)
    assert script.of_type("digits")[0].get("digits") == "4821"


@pytest.mark.parametrize("action,name,peak", [
    (Action.TURN_LEFT, "yaw", 35.0), (Action.TURN_RIGHT, "yaw", -35.0),
    (Action.NOD, "pitch", -18.0), (Action.OPEN_MOUTH, "mouth", 0.5),
    (Action.SMILE, "smile", 0.8)])
def test_each_action_passes_when_performed_after_its_prompt(action: Action, name: str,
                                                            peak: float) -> None:
    sig = neutral()
    ramp(sig, name, start=4.6, peak=peak)
    result = verify_prompt(series(sig), ChallengePrompt(action, 4.0, 3.5))
    assert result.passed, result
    assert 0.3 <= result.reaction_s <= 1.0


def test_blink_challenge_needs_two_blinks() -> None:
    sig = neutral()
    for start in (4.6, 5.6):
        ramp(sig, "eyes", start=start, peak=-0.25, rise=0.1, hold=0.1)
    assert verify_prompt(series(sig), ChallengePrompt(Action.BLINK, 4.0, 3.5)).passed
    once = neutral()
    ramp(once, "eyes", start=4.6, peak=-0.25, rise=0.1, hold=0.1)
    result = verify_prompt(series(once), ChallengePrompt(Action.BLINK, 4.0, 3.5))
    assert result.outcome == "not_performed"


def test_a_movement_already_under_way_at_the_prompt_is_too_fast() -> None:
    sig = neutral()
    ramp(sig, "yaw", start=3.9, peak=35.0, rise=0.6)  # started before the prompt at 4.0
    result = verify_prompt(series(sig), ChallengePrompt(Action.TURN_LEFT, 4.0, 3.5))
    assert result.outcome == "too_fast"


def test_late_wrong_missing_and_faceless_actions_fail_with_their_reason() -> None:
    late = neutral()
    ramp(late, "yaw", start=8.0, peak=35.0)
    assert verify_prompt(series(late), ChallengePrompt(Action.TURN_LEFT, 4.0, 3.5)).outcome \
        == "too_slow"
    wrong = neutral()
    ramp(wrong, "yaw", start=4.6, peak=-35.0)
    result = verify_prompt(series(wrong), ChallengePrompt(Action.TURN_LEFT, 4.0, 3.5))
    assert result.outcome == "wrong_action" and "turn_right" in result.other_actions
    assert verify_prompt(series(neutral()), ChallengePrompt(Action.SMILE, 4.0, 3.5)).outcome \
        == "not_performed"
    gone = neutral()
    for key in ("yaw", "pitch", "eyes", "blink", "mouth", "smile"):
        gone[key][(gone["t"] > 3.0)] = math.nan
    assert verify_prompt(series(gone), ChallengePrompt(Action.NOD, 4.0, 3.5)).outcome == "no_face"


def test_speech_does_not_count_as_an_open_mouth_or_a_smile() -> None:
    sig = neutral()
    rng = np.random.default_rng(0)
    sig["mouth"] = np.clip(0.15 + 0.1 * np.sin(sig["t"] * 9) + rng.normal(0, 0.02, len(sig["t"])),
                           0, 0.36)
    sig["smile"] = np.full(len(sig["t"]), 0.2) + 0.2 * (np.sin(sig["t"] * 5) > 0.8)
    assert not verify_prompt(series(sig), ChallengePrompt(Action.OPEN_MOUTH, 4.0, 3.5)).passed
    assert not verify_prompt(series(sig), ChallengePrompt(Action.SMILE, 4.0, 3.5)).passed


def test_a_replayed_session_performs_the_wrong_actions_at_the_wrong_times() -> None:
    # The recording turned left at 2 s, smiled at 7 s and nodded at 12 s.
    recorded = neutral(duration=18.0)
    ramp(recorded, "yaw", start=2.0, peak=35.0)
    ramp(recorded, "smile", start=7.0, peak=0.8)
    ramp(recorded, "pitch", start=12.0, peak=-18.0)
    failures = 0
    for seed in range(20):
        prompts = ChallengeGenerator(seed=seed).sequence(start=0.5, count=3)
        results = verify_sequence(series(recorded), prompts)
        failures += summary_evidence(results).code == "challenge_failed"
    assert failures >= 18  # a replay passes a fresh random sequence almost never


def test_summary_hard_fails_when_half_the_challenges_fail() -> None:
    sig = neutral(duration=20.0)
    ramp(sig, "yaw", start=2.7, peak=35.0)  # only the first of three is performed
    prompts = [ChallengePrompt(Action.TURN_LEFT, 2.0, 3.5), ChallengePrompt(Action.SMILE, 7.0, 3.5),
               ChallengePrompt(Action.NOD, 12.0, 3.5)]
    summary = summary_evidence(verify_sequence(series(sig), prompts))
    assert summary.code == "challenge_failed" and summary.outcome is Outcome.CONTRADICTS
    ramp(sig, "smile", start=7.6, peak=0.8)
    ramp(sig, "pitch", start=12.5, peak=-18.0)
    summary = summary_evidence(verify_sequence(series(sig), prompts))
    assert summary.code == "challenges_passed" and summary.outcome is Outcome.SUPPORTS
