"""The spoken-digit challenge: server-side digit generation and its place in the interview script.

Why a server-side generator: the digits bind the spoken answer to *this* session. They are drawn
with a cryptographic generator (``secrets``) in production so nobody can predict them; tests and
evaluations pass a seed to get the same digits every run.

The prompts reach the analyzers through the interview's prompt script
(:mod:`verification.prompt_script`: a list of ``{"type": ..., "t": <media seconds>, ...}``
steps, shared with the face challenges). The steps read here::

    {"type": "digits", "t": 14.2, "digits": "40817", "window": 6.0}
    {"type": "question", "t": 22.0, "id": "loan_purpose", "end": 31.5}

A ``digits`` step: ``digits`` is the string shown (4-6 characters 0-9); ``window`` (optional,
seconds from ``t``; ``window_s`` is read too, as the interview flow records it) is how long the
applicant had to read them; the default grows with the number of digits
(:func:`default_window_s`). A ``question`` step marks a spoken answer (``id``
and ``end`` optional); lip sync labels the answers it judges with it.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from random import Random
from typing import Any

from verification.errors import InvalidInputError
from verification.prompt_script import PromptScript, ScriptStep

DIGITS_TYPE = "digits"
QUESTION_TYPE = "question"

MIN_DIGITS = 4
MAX_DIGITS = 6
# Reading time allowed after the prompt: reaction + about 0.6 s a digit + slack for a slow reader.
_BASE_WINDOW_S = 2.5
_PER_DIGIT_S = 0.6


def default_window_s(n_digits: int) -> float:
    """How long after the prompt the applicant may take to read ``n_digits`` digits."""
    return _BASE_WINDOW_S + _PER_DIGIT_S * n_digits


@dataclass(frozen=True)
class DigitPrompt:
    """One ``digits`` step of the script: the digits shown at media time ``t``."""

    t: float
    digits: str
    window_s: float

    def __post_init__(self) -> None:
        if not (MIN_DIGITS <= len(self.digits) <= MAX_DIGITS) or not self.digits.isdigit():
            raise InvalidInputError(f"digit prompt {self.digits!r}: expected {MIN_DIGITS}-"
                                    f"{MAX_DIGITS} digits 0-9")
        if not (self.t >= 0.0 and self.window_s > 0.0):
            raise InvalidInputError(f"digit prompt at t={self.t}: t must be >= 0 and "
                                    f"window_s > 0")

    @property
    def end(self) -> float:
        return self.t + self.window_s

    def to_step(self) -> dict[str, Any]:
        """The script step the live flow records for this prompt."""
        return {"type": DIGITS_TYPE, "t": round(self.t, 3), "digits": self.digits,
                "window": round(self.window_s, 3)}

    @classmethod
    def from_step(cls, step: ScriptStep) -> DigitPrompt:
        digits = step.get("digits")
        if isinstance(digits, int) and not isinstance(digits, bool):
            raise InvalidInputError(f"digits step at t={step.t}: write the digits as a string "
                                    f"(a number loses leading zeros)")
        if not isinstance(digits, str):
            raise InvalidInputError(f"digits step at t={step.t}: needs \"digits\" (a string)")
        window = step.get("window", step.get("window_s"))  # the interview flow writes window_s
        if window is None:
            window_s = default_window_s(len(digits))
        elif isinstance(window, bool) or not isinstance(window, int | float) \
                or not math.isfinite(window):
            raise InvalidInputError(f"digits step at t={step.t}: \"window\" must be seconds")
        else:
            window_s = float(window)
        return cls(t=step.t, digits=digits, window_s=window_s)


@dataclass(frozen=True)
class AnswerPrompt:
    """A ``question`` step: the applicant answers from ``t`` (until ``end`` when recorded)."""

    t: float
    end: float | None = None
    id: str = ""


def _script(script: Mapping[str, Any] | Sequence[Any] | PromptScript | None) -> PromptScript:
    return script if isinstance(script, PromptScript) else PromptScript.from_context(script)


def digit_prompts(script: Mapping[str, Any] | Sequence[Any] | PromptScript | None
                  ) -> tuple[DigitPrompt, ...]:
    """All digit prompts of a script, in time order."""
    return tuple(DigitPrompt.from_step(s) for s in _script(script).of_type(DIGITS_TYPE))


def answer_prompts(script: Mapping[str, Any] | Sequence[Any] | PromptScript | None
                   ) -> tuple[AnswerPrompt, ...]:
    """All question steps of a script, in time order (their answers are spoken)."""
    out = []
    for step in _script(script).of_type(QUESTION_TYPE):
        end = step.get("end")
        if end is not None and (isinstance(end, bool) or not isinstance(end, int | float)):
            raise InvalidInputError(f"question step at t={step.t}: \"end\" must be seconds")
        out.append(AnswerPrompt(step.t, None if end is None else float(end),
                                str(step.get("id", ""))))
    return tuple(out)


def generate_digits(n: int | None = None, seed: int | None = None) -> str:
    """Random digits for one challenge (4-6 of them unless ``n`` is given).

    Without a seed the draw is cryptographic (unpredictable to an attacker); with a seed it is
    reproducible, for tests. No digit repeats three times in a row: a run like "777" is read as
    one drawn-out sound and would make the burst count meaningless.
    """
    rng: Any = secrets.SystemRandom() if seed is None else Random(seed)
    if n is None:
        n = rng.randint(MIN_DIGITS, MAX_DIGITS)
    if not MIN_DIGITS <= n <= MAX_DIGITS:
        raise ValueError(f"a digit challenge has {MIN_DIGITS}-{MAX_DIGITS} digits, not {n}")
    digits: list[str] = []
    while len(digits) < n:
        d = str(rng.randrange(10))
        if len(digits) >= 2 and digits[-1] == digits[-2] == d:
            continue
        digits.append(d)
    return "".join(digits)


def new_digit_prompt(t: float, n: int | None = None, seed: int | None = None) -> DigitPrompt:
    """A fresh challenge shown at media time ``t``."""
    digits = generate_digits(n, seed)
    return DigitPrompt(t=t, digits=digits, window_s=default_window_s(len(digits)))
