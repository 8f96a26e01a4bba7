"""Typed, immutable messages that cross module boundaries.

Media items carry *media* timestamps (seconds since the start of the interview's media), never
wall-clock time, so the same session code runs on a live WebRTC stream and on a recording.
Results are frozen dataclasses, not dicts: a missing field is an error at construction time,
not a ``None`` discovered in production.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import numpy as np

AUDIO_SAMPLE_RATE = 16_000


@dataclass(frozen=True, eq=False)
class VideoFrame:
    """One decoded frame: RGB uint8 (H, W, 3) at media time ``pts`` seconds."""

    image: np.ndarray
    pts: float
    index: int = 0

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(f"VideoFrame needs an RGB uint8 (H, W, 3) image, got "
                             f"{self.image.dtype} {self.image.shape}")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])


@dataclass(frozen=True, eq=False)
class AudioChunk:
    """Mono float32 samples in [-1, 1] at 16 kHz, the first one at media time ``pts`` seconds."""

    samples: np.ndarray
    pts: float
    sample_rate: int = AUDIO_SAMPLE_RATE

    def __post_init__(self) -> None:
        if self.samples.ndim != 1 or self.samples.dtype != np.float32:
            raise ValueError(f"AudioChunk needs mono float32 samples, got "
                             f"{self.samples.dtype} {self.samples.shape}")
        if self.sample_rate != AUDIO_SAMPLE_RATE:
            raise ValueError(f"AudioChunk must be {AUDIO_SAMPLE_RATE} Hz, got {self.sample_rate}")

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    @property
    def end(self) -> float:
        return self.pts + self.duration


class Check(StrEnum):
    """The checks a verdict reports on. The first six are the mission's checks."""

    FACE_LIVENESS = "face_liveness"
    MICRO_EXPRESSION = "micro_expression"
    VOICEPRINT = "voiceprint"
    BACKGROUND = "background"
    POI = "poi"
    LBS = "lbs"
    FACE_MATCH = "face_match"
    FACE_PRESENCE = "face_presence"
    SPEECH_PRESENCE = "speech_presence"
    LIP_SYNC = "lip_sync"
    MEDIA_QUALITY = "media_quality"
    INTERVIEW = "interview"  # the script ran to its end: consent, confirmations, every step


class Outcome(StrEnum):
    """What one piece of evidence says about its check."""

    SUPPORTS = "supports"        # consistent with a genuine, live, matching applicant
    CONTRADICTS = "contradicts"  # points against (mismatch, attack cue, second person)
    INCONCLUSIVE = "inconclusive"  # measured, but cannot decide (poor quality, too little data)
    NOT_CHECKED = "not_checked"  # the check could not run at all (no model, no input)


@dataclass(frozen=True)
class TimeWindow:
    """A span of media time in seconds."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)) or self.end < self.start:
            raise ValueError(f"invalid time window [{self.start}, {self.end}]")

    def to_json(self) -> dict[str, float]:
        return {"start": round(self.start, 3), "end": round(self.end, 3)}


_evidence_ids = itertools.count(1)


def _freeze(details: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(details or {}))


@dataclass(frozen=True)
class Evidence:
    """One timestamped observation by one analyzer, with the model that made it and its cost."""

    check: Check
    outcome: Outcome
    window: TimeWindow
    summary: str
    score: float | None = None
    model: str | None = None
    provider: str | None = None
    latency_ms: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    code: str = ""
    id: str = field(default_factory=lambda: f"ev-{next(_evidence_ids)}")

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", _freeze(self.details))
        if self.score is not None and not math.isfinite(self.score):
            raise ValueError(f"evidence score must be finite, got {self.score}")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "check": self.check.value,
            "outcome": self.outcome.value,
            "code": self.code,
            "summary": self.summary,
            "score": self.score,
            "window": self.window.to_json(),
            "model": self.model,
            "provider": self.provider,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 3),
            "details": _jsonable(self.details),
        }


class Decision(StrEnum):
    PASS = "pass"
    REVIEW = "review"
    REJECT = "reject"


class CheckStatus(StrEnum):
    SUPPORTED = "supported"
    CONTRADICTED = "contradicted"
    INCONCLUSIVE = "inconclusive"
    NOT_CHECKED = "not_checked"


@dataclass(frozen=True)
class Reason:
    """Why a verdict is not a plain pass; names the evidence and media times it rests on."""

    code: str
    message: str
    check: Check
    evidence_ids: tuple[str, ...] = ()
    windows: tuple[TimeWindow, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "check": self.check.value,
            "evidence_ids": list(self.evidence_ids),
            "windows": [w.to_json() for w in self.windows],
        }


@dataclass(frozen=True)
class CheckResult:
    check: Check
    status: CheckStatus
    summary: str
    score: float | None = None
    evidence_ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "summary": self.summary,
            "score": self.score,
            "evidence_ids": list(self.evidence_ids),
        }


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reasons: tuple[Reason, ...]
    checks: Mapping[Check, CheckResult]
    policy_version: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "checks", MappingProxyType(dict(self.checks)))

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision.value,
            "policy_version": self.policy_version,
            "reasons": [r.to_json() for r in self.reasons],
            "checks": {c.value: r.to_json() for c, r in self.checks.items()},
        }


def _jsonable(value: Any) -> Any:
    """numpy scalars/arrays and nested mappings -> plain JSON types."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
