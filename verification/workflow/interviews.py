"""Interview session records and their lifecycle, behind a small store interface.

Why a module of its own: the WebRTC edge only *drives* an interview (connected, interrupted,
finished); what an interview is — its token, its expiry, its state, its verdict — is business
state that the loan workflow persists and reports. :class:`InMemoryInterviewStore` is the
embedded default until that issue adds a database store with the same interface.

Tokens are bearer secrets: only their SHA-256 is stored, so a leaked store does not leak links.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from verification.errors import VerificationError


class InterviewState(StrEnum):
    CREATED = "created"  # link issued, applicant not connected yet
    LIVE = "live"  # media flowing
    INTERRUPTED = "interrupted"  # connection lost, waiting for the applicant to reconnect
    FINISHED = "finished"  # verdict available
    EXPIRED = "expired"  # link never used in time


OPEN_STATES = frozenset({InterviewState.CREATED, InterviewState.LIVE, InterviewState.INTERRUPTED})


class UnknownInterviewError(VerificationError):
    code = "unknown_session"
    http_status = 404


class InterviewExpiredError(VerificationError):
    code = "session_expired"
    http_status = 410


class InterviewClosedError(VerificationError):
    code = "session_closed"
    http_status = 409


@dataclass(frozen=True)
class GeoFix:
    """The applicant's position as the browser reported it, after consent."""

    latitude: float
    longitude: float
    accuracy_m: float
    at: float  # wall clock (epoch seconds)


@dataclass(frozen=True)
class InterviewRecord:
    id: str
    token_sha256: str
    created_at: float  # epoch seconds
    expires_at: float
    state: InterviewState = InterviewState.CREATED
    reference: str | None = None  # the lender's application id
    locale: str = "zh-CN"
    connections: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    end_reason: str | None = None
    decision: str | None = None
    verdict: dict[str, Any] | None = None
    geo: GeoFix | None = None
    geo_denied: bool = False
    recording: str | None = None
    prompts_done: int = 0

    def to_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in (
            "id", "created_at", "expires_at", "reference", "locale", "connections", "started_at",
            "finished_at", "end_reason", "decision", "verdict", "geo_denied", "recording",
            "prompts_done")}
        out["state"] = self.state.value
        out["geo"] = None if self.geo is None else {
            "latitude": self.geo.latitude, "longitude": self.geo.longitude,
            "accuracy_m": self.geo.accuracy_m, "at": self.geo.at}
        return out


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class InterviewStore(Protocol):
    def add(self, record: InterviewRecord) -> None: ...
    def get(self, interview_id: str) -> InterviewRecord | None: ...
    def by_token_hash(self, token_sha256: str) -> InterviewRecord | None: ...
    def put(self, record: InterviewRecord) -> None: ...
    def all(self) -> list[InterviewRecord]: ...


class InMemoryInterviewStore:
    """Thread-safe dict store (HTTP handlers and the CLI's process are not the event loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, InterviewRecord] = {}
        self._by_token: dict[str, str] = {}

    def add(self, record: InterviewRecord) -> None:
        with self._lock:
            self._by_id[record.id] = record
            self._by_token[record.token_sha256] = record.id

    def get(self, interview_id: str) -> InterviewRecord | None:
        with self._lock:
            return self._by_id.get(interview_id)

    def by_token_hash(self, token_sha256: str) -> InterviewRecord | None:
        with self._lock:
            interview_id = self._by_token.get(token_sha256)
            return self._by_id.get(interview_id) if interview_id else None

    def put(self, record: InterviewRecord) -> None:
        with self._lock:
            self._by_id[record.id] = record

    def all(self) -> list[InterviewRecord]:
        with self._lock:
            return list(self._by_id.values())


@dataclass
class InterviewService:
    """The lifecycle rules; every transition goes through here."""

    store: InterviewStore = field(default_factory=InMemoryInterviewStore)
    clock: Callable[[], float] = time.time

    def create(self, ttl_s: float, reference: str | None = None,
               locale: str = "zh-CN") -> tuple[InterviewRecord, str]:
        token = secrets.token_urlsafe(24)
        now = self.clock()
        record = InterviewRecord(id=uuid.uuid4().hex, token_sha256=hash_token(token),
                                 created_at=now, expires_at=now + ttl_s, reference=reference,
                                 locale=locale)
        self.store.add(record)
        return record, token

    def get(self, interview_id: str) -> InterviewRecord:
        record = self.store.get(interview_id)
        if record is None:
            raise UnknownInterviewError("no such interview session")
        return record

    def authenticate(self, token: str) -> InterviewRecord:
        """The open interview a join token belongs to (errors say why it cannot be joined)."""
        record = self.store.by_token_hash(hash_token(token)) if token else None
        if record is None:
            raise UnknownInterviewError("unknown interview link")
        if record.state is InterviewState.CREATED and self.clock() > record.expires_at:
            record = self._update(record, state=InterviewState.EXPIRED, end_reason="expired")
        if record.state is InterviewState.EXPIRED:
            raise InterviewExpiredError("this interview link has expired")
        if record.state is InterviewState.FINISHED:
            raise InterviewClosedError("this interview has already finished")
        return record

    def _update(self, record: InterviewRecord, **changes: Any) -> InterviewRecord:
        record = replace(record, **changes)
        self.store.put(record)
        return record

    def connected(self, interview_id: str) -> InterviewRecord:
        record = self.get(interview_id)
        return self._update(record, state=InterviewState.LIVE, connections=record.connections + 1,
                            started_at=record.started_at or self.clock())

    def interrupted(self, interview_id: str) -> InterviewRecord:
        record = self.get(interview_id)
        if record.state is not InterviewState.LIVE:
            return record
        return self._update(record, state=InterviewState.INTERRUPTED)

    def prompt_done(self, interview_id: str, count: int) -> InterviewRecord:
        return self._update(self.get(interview_id), prompts_done=count)

    def geolocation(self, interview_id: str, fix: GeoFix | None) -> InterviewRecord:
        record = self.get(interview_id)
        if fix is None:
            return self._update(record, geo_denied=True)
        return self._update(record, geo=fix, geo_denied=False)

    def finished(self, interview_id: str, reason: str, verdict: dict[str, Any] | None,
                 recording: str | None) -> InterviewRecord:
        record = self.get(interview_id)
        if record.state is InterviewState.FINISHED:
            # a scripted interview is concluded (verdict first) before its recording is sealed
            if recording and record.recording != recording:
                return self._update(record, recording=recording)
            return record
        return self._update(record, state=InterviewState.FINISHED, finished_at=self.clock(),
                            end_reason=reason, verdict=verdict, recording=recording,
                            decision=None if verdict is None else verdict.get("decision"))

    def expire_stale(self) -> list[InterviewRecord]:
        now = self.clock()
        return [self._update(r, state=InterviewState.EXPIRED, end_reason="expired")
                for r in self.store.all()
                if r.state is InterviewState.CREATED and now > r.expires_at]
