"""The prompt script of one interview: what was shown to the applicant, and at which media time.

Why: active checks (liveness challenges, spoken digits) are only meaningful against the prompts
the server actually issued and *when* it issued them. The live flow records every prompt with
its media timestamp; ``verification analyze --script SCRIPT.json`` replays a recording against
the same record. Every analyzer reads the script through this one module, so its format is
defined once.

Format (JSON): a list of steps, each an object with a ``type`` and the media time ``t`` (seconds)
at which the prompt appeared, plus step-specific fields::

    [{"type": "turn_left", "t": 3.0, "window": 4.0},
     {"type": "blink", "t": 8.5},
     {"type": "digits", "t": 14.0, "digits": "40719"}]

``{"steps": [...]}`` (an object holding the list) is accepted too, and a challenge may also be
written ``{"type": "challenge", "action": "turn_left", "t": 3.0}``. Unknown step types are kept
(other analyzers may know them) but ignored by analyzers that do not. Bad input raises
:class:`~verification.errors.InvalidInputError` with the step it concerns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from verification.errors import InvalidInputError

CHALLENGE_TYPE = "challenge"


@dataclass(frozen=True)
class ScriptStep:
    """One prompt: its ``type``, its media time ``t`` (s), and any further fields."""

    type: str
    t: float
    fields: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "t": self.t, **self.fields}


@dataclass(frozen=True)
class PromptScript:
    """All prompts of one interview, in media-time order."""

    steps: tuple[ScriptStep, ...] = ()

    def of_type(self, *types: str) -> tuple[ScriptStep, ...]:
        return tuple(s for s in self.steps if s.type in types)

    def __len__(self) -> int:
        return len(self.steps)

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.steps]

    @classmethod
    def from_json(cls, value: Any) -> PromptScript:
        """A script from parsed JSON (a list of steps or ``{"steps": [...]}``)."""
        if isinstance(value, Mapping):
            if not value:
                return cls()
            if "steps" not in value:
                raise InvalidInputError("script: expected a list of steps or {\"steps\": [...]}")
            value = value["steps"]
        if not isinstance(value, Sequence) or isinstance(value, str | bytes):
            raise InvalidInputError("script: expected a list of steps")
        steps = [_parse_step(i, raw) for i, raw in enumerate(value)]
        steps.sort(key=lambda s: s.t)
        return cls(tuple(steps))

    @classmethod
    def from_context(cls, script: Mapping[str, Any] | Sequence[Any] | None) -> PromptScript:
        """The script a :class:`~verification.pipeline.analyzer.SessionContext` carries."""
        return cls() if script is None else cls.from_json(script)


def _parse_step(index: int, raw: Any) -> ScriptStep:
    where = f"script step {index}"
    if not isinstance(raw, Mapping):
        raise InvalidInputError(f"{where}: expected an object with \"type\" and \"t\"")
    kind = raw.get("type")
    if not isinstance(kind, str) or not kind:
        raise InvalidInputError(f"{where}: \"type\" must be a non-empty string")
    t = raw.get("t")
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
        raise InvalidInputError(f"{where}: \"t\" must be a media time in seconds (>= 0)")
    fields = {k: v for k, v in raw.items() if k not in ("type", "t")}
    if kind == CHALLENGE_TYPE:
        action = fields.pop("action", None)
        if not isinstance(action, str) or not action:
            raise InvalidInputError(f"{where}: a challenge needs an \"action\"")
        kind = action
    return ScriptStep(type=kind, t=float(t), fields=fields)
