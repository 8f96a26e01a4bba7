"""Interview scripts: the versioned list of steps an applicant goes through, per loan product.

Why data and not code: lenders change the wording, the number of questions or the timeouts
per product, and every verdict must say which script (and which version of it) produced it.
A script is YAML (or JSON, which YAML reads) in ``verification/workflow/scripts/`` — or in a
directory named by ``VERIFICATION_WORKFLOW_DIR`` that adds or replaces files — and is validated
completely at load time, so a typo fails the server's start, not an applicant's interview.

A step has an ``id``, a ``kind`` (what the engine does: :data:`STEP_KINDS`), a per-attempt
``timeout_s``, ``max_attempts`` (bounded retries), whether its failures count toward the
failure budget (``budget``), its prompts in every locale, and kind-specific ``params``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from verification.errors import VerificationError

LOCALES: tuple[str, ...] = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
STEP_KINDS: tuple[str, ...] = ("device_check", "geolocation", "confirmation", "face_quality",
                               "liveness", "digits", "questions", "done")
BUILTIN_DIR = Path(__file__).resolve().parent / "scripts"


class ScriptError(VerificationError):
    """A script or product file that cannot be used (the message names the file and field)."""

    code = "script_invalid"


@dataclass(frozen=True)
class Text:
    """One message in every supported locale."""

    by_locale: Mapping[str, str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_locale", MappingProxyType(dict(self.by_locale)))

    def get(self, locale: str) -> str:
        return self.by_locale.get(locale) or self.by_locale[DEFAULT_LOCALE]

    def format(self, values: Mapping[str, Any]) -> Text:
        """Fill ``{name}`` placeholders; unknown names stay as written."""
        return Text({k: v.format_map(_Missing(values)) for k, v in self.by_locale.items()})

    def to_json(self) -> dict[str, str]:
        return dict(self.by_locale)


class _Missing(dict):
    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__(values)

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class StepSpec:
    id: str
    kind: str
    prompt: Text
    timeout_s: float
    max_attempts: int = 1
    budget: bool = False  # do this step's failures count toward the failure budget?
    retry_prompt: Text | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


@dataclass(frozen=True)
class FailureBudgetSpec:
    """At most ``max_failures`` failed attempts per applicant and per device within
    ``window_s`` seconds (AWS's advice for face liveness: 5 per device in 3 minutes)."""

    max_failures: int = 5
    window_s: float = 180.0


@dataclass(frozen=True)
class Script:
    name: str
    version: int
    steps: tuple[StepSpec, ...]
    budget: FailureBudgetSpec = FailureBudgetSpec()
    description: str = ""

    @property
    def label(self) -> str:
        """``name@version``: what sessions and verdicts record."""
        return f"{self.name}@{self.version}"

    def index_of(self, step_id: str) -> int:
        for index, step in enumerate(self.steps):
            if step.id == step_id:
                return index
        raise KeyError(step_id)


# -- parsing -------------------------------------------------------------------------------------

def _text(raw: Any, where: str) -> Text:
    if isinstance(raw, str):
        raw = {DEFAULT_LOCALE: raw}
    if not isinstance(raw, Mapping) or not raw:
        raise ScriptError(f"{where}: expected a text per locale ({', '.join(LOCALES)})")
    out = {}
    for locale, value in raw.items():
        if locale not in LOCALES:
            raise ScriptError(f"{where}: unknown locale {locale!r} (known: {', '.join(LOCALES)})")
        if not isinstance(value, str) or not value.strip():
            raise ScriptError(f"{where}.{locale}: expected non-empty text")
        out[locale] = value.strip()
    if DEFAULT_LOCALE not in out:
        raise ScriptError(f"{where}: the {DEFAULT_LOCALE} text is required")
    return Text(out)


def _number(raw: Mapping[str, Any], key: str, where: str, default: float | None = None,
            minimum: float = 0.0) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value < minimum:
        raise ScriptError(f"{where}.{key}: expected a number >= {minimum}")
    return float(value)


def _range(params: Mapping[str, Any], key: str, where: str, lo: int, hi: int) -> None:
    value = params.get(key)
    if value is None:
        return
    if (not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            or not lo <= value[0] <= value[1] <= hi):
        raise ScriptError(f"{where}.params.{key}: expected [min, max] with {lo} <= min <= max "
                          f"<= {hi}")


def _check_params(kind: str, params: Mapping[str, Any], where: str) -> None:
    from verification.face.challenges.actions import ALL_ACTIONS

    if kind == "liveness":
        _range(params, "count", where, 1, len(ALL_ACTIONS))
        actions = params.get("actions", [a.value for a in ALL_ACTIONS])
        known = {a.value for a in ALL_ACTIONS}
        if not isinstance(actions, list) or not actions or any(a not in known for a in actions):
            raise ScriptError(f"{where}.params.actions: expected a list of {sorted(known)}")
        count = params.get("count", [2, 3])
        if count[1] > len(set(actions)):
            raise ScriptError(f"{where}.params: count exceeds the number of distinct actions")
        prompts = params.get("action_prompts", {})
        for action in actions:
            if action not in prompts:
                raise ScriptError(f"{where}.params.action_prompts: no prompt for {action!r}")
            _text(prompts[action], f"{where}.params.action_prompts.{action}")
    elif kind == "digits":
        _range(params, "count", where, 4, 6)
    elif kind == "questions":
        pool = params.get("pool")
        if not isinstance(pool, list) or not pool:
            raise ScriptError(f"{where}.params.pool: expected a list of questions")
        ids = set()
        for i, question in enumerate(pool):
            if not isinstance(question, Mapping) or not isinstance(question.get("id"), str):
                raise ScriptError(f"{where}.params.pool[{i}]: expected {{id, prompt}}")
            if question["id"] in ids:
                raise ScriptError(f"{where}.params.pool[{i}]: duplicate id {question['id']!r}")
            ids.add(question["id"])
            _text(question.get("prompt"), f"{where}.params.pool[{i}].prompt")
        _range(params, "count", where, 1, len(pool))
        required = sum(bool(q.get("required")) for q in pool)
        if required > params.get("count", [2, 4])[0]:
            raise ScriptError(f"{where}.params: more required questions than the minimum count")
    for key in ("window_s", "hold_s", "min_speech_s", "judge_grace_s", "verdict_wait_s",
                "end_silence_s",
                "max_answer_s", "min_answer_s", "answer_start_timeout_s", "extra_window_s"):
        if key in params:
            _number(params, key, f"{where}.params", minimum=0.0)
    delay = params.get("delay_s")
    if delay is not None and (not isinstance(delay, list) or len(delay) != 2
                              or not 0 <= float(delay[0]) <= float(delay[1])):
        raise ScriptError(f"{where}.params.delay_s: expected [min, max] seconds")


def _step(raw: Any, index: int, source: str) -> StepSpec:
    where = f"{source}: steps[{index}]"
    if not isinstance(raw, Mapping):
        raise ScriptError(f"{where}: expected a mapping")
    step_id, kind = raw.get("id"), raw.get("kind")
    if not isinstance(step_id, str) or not step_id.isidentifier():
        raise ScriptError(f"{where}.id: expected an identifier")
    if kind not in STEP_KINDS:
        raise ScriptError(f"{where}.kind: expected one of {', '.join(STEP_KINDS)}")
    params = raw.get("params", {}) or {}
    if not isinstance(params, Mapping):
        raise ScriptError(f"{where}.params: expected a mapping")
    _check_params(kind, params, where)
    attempts = raw.get("max_attempts", 1)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 10:
        raise ScriptError(f"{where}.max_attempts: expected an integer 1-10")
    budget = raw.get("budget", kind in ("liveness", "digits"))
    if not isinstance(budget, bool):
        raise ScriptError(f"{where}.budget: expected true or false")
    return StepSpec(
        id=step_id, kind=kind, prompt=_text(raw.get("prompt"), f"{where}.prompt"),
        timeout_s=_number(raw, "timeout_s", where, 30.0, minimum=0.5),
        max_attempts=attempts, budget=budget,
        retry_prompt=_text(raw["retry_prompt"], f"{where}.retry_prompt")
        if raw.get("retry_prompt") is not None else None,
        params=params)


def parse_script(raw: Any, source: str = "script") -> Script:
    if not isinstance(raw, Mapping):
        raise ScriptError(f"{source}: expected a mapping with name, version and steps")
    name, version = raw.get("name"), raw.get("version")
    if not isinstance(name, str) or not name.isidentifier():
        raise ScriptError(f"{source}.name: expected an identifier")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ScriptError(f"{source}.version: expected a positive integer")
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise ScriptError(f"{source}.steps: expected a non-empty list")
    steps = tuple(_step(s, i, source) for i, s in enumerate(steps_raw))
    ids = [s.id for s in steps]
    if len(set(ids)) != len(ids):
        raise ScriptError(f"{source}.steps: step ids must be unique")
    if steps[-1].kind != "done" or any(s.kind == "done" for s in steps[:-1]):
        raise ScriptError(f"{source}.steps: the last step, and only the last, must be 'done'")
    budget_raw = raw.get("failure_budget", {}) or {}
    if not isinstance(budget_raw, Mapping):
        raise ScriptError(f"{source}.failure_budget: expected a mapping")
    budget = FailureBudgetSpec(
        max_failures=int(_number(budget_raw, "max_failures", f"{source}.failure_budget", 5, 1)),
        window_s=_number(budget_raw, "window_s", f"{source}.failure_budget", 180.0, 1.0))
    return Script(name=name, version=version, steps=steps, budget=budget,
                  description=str(raw.get("description", "")))


def read_document(path: Path) -> Any:
    """YAML or JSON from a file (errors name the file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScriptError(f"{path}: cannot read ({err.strerror})") from None
    try:
        if path.suffix == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as err:
        raise ScriptError(f"{path}: not valid {path.suffix.lstrip('.').upper()} ({err})") from None


def load_script(path: Path) -> Script:
    return parse_script(read_document(path), str(path))
