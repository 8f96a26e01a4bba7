"""Server-side generation of random challenge sequences with random timing.

Why random order *and* random timing: a replayed recording of an earlier (genuine) session
performs its actions in its own order at its own times; with each prompt drawn from six
actions and placed after a random pause, the chance that a recording matches even two
consecutive prompts inside their reaction windows is small, and a photo matches none.

The server draws the sequence (never the browser), binds it to the session, shows each prompt
at its time and records the media time it was actually shown; the verifier checks against that
record (:mod:`verification.prompt_script`). Tests pass a ``seed`` for a repeatable sequence;
production uses the operating system's entropy.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from verification.face.challenges.actions import ALL_ACTIONS, Action

POSE_ACTIONS = (Action.TURN_LEFT, Action.TURN_RIGHT, Action.NOD)


@dataclass(frozen=True)
class ChallengeTiming:
    """Reaction-time bounds and pacing, in seconds.

    ``min_reaction``: a person needs at least this long to read a prompt and start moving
    (simple visual reaction times are 0.2-0.3 s; reading a prompt takes longer), so a movement
    that starts earlier was already under way - a recording, not a response. ``window``: the
    action must be performed (threshold reached) within this time after the prompt; later
    counts as too slow. ``pause``: random rest between the end of one window and the next
    prompt, so prompt times cannot be anticipated.
    """

    min_reaction: float = 0.25
    window: float = 3.5
    pause: tuple[float, float] = (0.8, 2.0)

    def __post_init__(self) -> None:
        if not 0 <= self.min_reaction < self.window:
            raise ValueError("need 0 <= min_reaction < window")
        if not 0 <= self.pause[0] <= self.pause[1]:
            raise ValueError("pause must be an increasing pair of non-negative seconds")


@dataclass(frozen=True)
class ChallengePrompt:
    """One prompt: the action, the media time it is shown, and its reaction window."""

    action: Action
    t: float
    window: float

    def to_step(self) -> dict[str, object]:
        """The prompt-script step the live flow records (see :mod:`verification.prompt_script`)."""
        return {"type": self.action.value, "t": round(self.t, 3), "window": self.window}


class ChallengeGenerator:
    """Draws challenge sequences: distinct actions, at least one head movement, random pauses."""

    def __init__(self, seed: int | None = None, timing: ChallengeTiming | None = None,
                 actions: Sequence[Action] = ALL_ACTIONS) -> None:
        if len(set(actions)) < 2:
            raise ValueError("a challenge needs at least two distinct actions to draw from")
        self.timing = timing or ChallengeTiming()
        self.actions = tuple(dict.fromkeys(actions))
        self._rng: random.Random = (random.Random(seed) if seed is not None
                                    else secrets.SystemRandom())

    def actions_sequence(self, count: int) -> tuple[Action, ...]:
        """``count`` distinct actions in random order, with a head movement among them.

        A blink is the one action a recording may show by chance (people blink every few
        seconds), so the sequence always also asks for a head movement, which they do not.
        """
        if not 1 <= count <= len(self.actions):
            raise ValueError(f"count must be between 1 and {len(self.actions)}")
        pose = [a for a in self.actions if a in POSE_ACTIONS]
        while True:
            chosen = tuple(self._rng.sample(self.actions, count))
            if not pose or any(a in POSE_ACTIONS for a in chosen):
                return chosen

    def sequence(self, start: float, count: int = 3) -> tuple[ChallengePrompt, ...]:
        """Prompts for ``count`` actions, the first shown after a random pause from ``start``."""
        timing = self.timing
        prompts = []
        t = start
        for action in self.actions_sequence(count):
            t += self._rng.uniform(*timing.pause)
            prompts.append(ChallengePrompt(action, round(t, 3), timing.window))
            t += timing.window
        return tuple(prompts)
