"""What the interview engine is fed (events) and what it asks its driver to do (effects).

Why explicit messages: the engine is a pure state machine, tested without HTTP or WebRTC. The
live driver translates data-channel messages, VAD segments, quality reports and the clock into
these events, and turns the effects into data-channel prompts, evidence-log rows and the
prompt script the analyzers read.

Every event carries ``at``: the server clock (epoch seconds; timeouts, the failure budget and
the resume window run on it) and ``media_t``: the interview's media time in seconds when the
driver knows it (prompts and evidence are placed on the media timeline with it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from verification.types import Evidence, TimeWindow


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


# -- events (driver -> engine) -------------------------------------------------------------------

@dataclass(frozen=True)
class Joined:
    """The applicant's page connected (first time or a reconnect). ``prior_failures``: the
    clock times of failures already counted for this applicant or device (failure budget)."""

    at: float
    media_t: float | None = None
    prior_failures: tuple[float, ...] = ()


@dataclass(frozen=True)
class Disconnected:
    at: float
    media_t: float | None = None


@dataclass(frozen=True)
class Tick:
    """Time passes (the driver ticks a few times a second; timeouts fire on ticks)."""

    at: float
    media_t: float | None = None


@dataclass(frozen=True)
class DeviceReport:
    at: float
    camera: bool
    microphone: bool
    network: str = "unknown"  # "good" | "fair" | "poor" | "unknown"
    media_t: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", _frozen(self.details))


@dataclass(frozen=True)
class GeoReport:
    at: float
    granted: bool
    accuracy_m: float | None = None
    media_t: float | None = None


@dataclass(frozen=True)
class Tap:
    """The applicant tapped a button on a prompt (``choice``: "agree" or "decline")."""

    at: float
    step_id: str
    choice: str
    media_t: float | None = None


@dataclass(frozen=True)
class Speech:
    """A closed speech segment from the VAD, in media time."""

    at: float
    start: float
    end: float
    media_t: float | None = None


@dataclass(frozen=True)
class SpeechOnset:
    """The VAD heard speech begin at media time ``start`` (its segment is still open): an
    answer is under way, so silence timers must not end it."""

    at: float
    start: float
    media_t: float | None = None


@dataclass(frozen=True)
class FaceQuality:
    """The live quality gate's view of the newest frame (``codes``: guidance codes when bad)."""

    at: float
    good: bool
    codes: tuple[str, ...] = ()
    media_t: float | None = None


@dataclass(frozen=True)
class ChallengeResult:
    """A live verifier's judgement of one issued challenge (optional: without one, challenges
    are judged by the analyzers after the interview from the prompt script)."""

    at: float
    challenge_id: str
    performed: bool
    score: float | None = None
    media_t: float | None = None
    reason: str | None = None  # the verifier's outcome code (not_performed, too_fast, no_face)


@dataclass(frozen=True)
class DigitsResult:
    """A live judgement of one digit reading (``decided`` False: the analyzer could not tell;
    the reading is then left to the recording)."""

    at: float
    prompt_id: str
    matched: bool
    media_t: float | None = None
    reason: str | None = None  # the analyzer's evidence code (digits_not_spoken, ...)
    decided: bool = True


@dataclass(frozen=True)
class Cancel:
    at: float
    reason: str = "cancelled"
    media_t: float | None = None


Event = (Joined | Disconnected | Tick | DeviceReport | GeoReport | Tap | Speech | SpeechOnset
         | FaceQuality | ChallengeResult | DigitsResult | Cancel)


# -- effects (engine -> driver) ------------------------------------------------------------------

@dataclass(frozen=True)
class Prompt:
    """Show this to the applicant (sent over the data channel as ``{"type": "prompt", ...}``)."""

    step_id: str
    kind: str
    input: str  # "none" | "tap" | "speak" | "tap_speak" | "look" | "action"
    text: Mapping[str, str]  # locale -> text
    index: int  # step index
    total: int  # steps in the script
    attempt: int
    seconds: float | None = None  # how long the applicant has, when that helps them
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", _frozen(self.text))
        object.__setattr__(self, "data", _frozen(self.data))

    def to_message(self) -> dict[str, Any]:
        return {"type": "prompt", "id": self.step_id, "step": self.step_id, "kind": self.kind,
                "input": self.input,
                "text": dict(self.text), "index": self.index, "total": self.total,
                "attempt": self.attempt, "seconds": self.seconds, "data": dict(self.data)}


@dataclass(frozen=True)
class FlowEntry:
    """An interview-flow fact for the evidence timeline (step started, tap, challenge issued)."""

    code: str
    summary: str
    step_id: str | None
    window: TimeWindow | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", _frozen(self.details))


@dataclass(frozen=True)
class EvidenceOut:
    """Evidence for fusion produced by the flow itself (a challenge failed beyond its retries,
    the script completed or not)."""

    evidence: Evidence
    step_id: str | None = None


@dataclass(frozen=True)
class ScriptMark:
    """One entry of the prompt script the analyzers read (:mod:`verification.prompt_script`)."""

    step: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "step", _frozen(self.step))


@dataclass(frozen=True)
class FailureCounted:
    """A failure that counts toward the budget of this applicant and device."""

    step_id: str
    code: str
    at: float


@dataclass(frozen=True)
class Finished:
    """The interview is over. ``reason``: completed | declined | failure_budget_exhausted |
    challenges_failed (a challenge step failed beyond its retries) | step_failed | abandoned |
    cancelled."""

    reason: str
    at: float


Effect = Prompt | FlowEntry | EvidenceOut | ScriptMark | FailureCounted | Finished
