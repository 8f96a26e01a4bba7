"""The relational schema of the interview workflow (SQLAlchemy 2 declarative tables).

Why these tables and not a document per session: the verdict and its outbox event must be
written in *one* transaction (so a crash can never leave a verdict that is not going to be
delivered, nor an event for a verdict that does not exist), delivery state must be queried by
due time across all sessions, and the evidence log grows row by row during an interview.

Times are epoch seconds in double precision (``Float``): portable between SQLite and
PostgreSQL, comparable in SQL, and what the workflow clock speaks. JSON payloads are stored as
text written by the workflow (``JsonText``) so the bytes that were signed are the bytes stored.
The schema is created and evolved only by the Alembic migrations in ``migrations/``; this module
is their source of truth and the ORM's view of it.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class JsonText(TypeDecorator[Any]):
    """JSON kept as compact UTF-8 text (same bytes on SQLite and PostgreSQL)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else json.loads(value)


class Base(DeclarativeBase):
    pass


class InterviewSessionRow(Base):
    """One interview: who, for which product, its join token (hashed), state and script progress."""

    __tablename__ = "interview_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    application_id: Mapped[str | None] = mapped_column(String(128), index=True)
    applicant_name: Mapped[str | None] = mapped_column(String(256))
    loan_product: Mapped[str] = mapped_column(String(64), default="default")
    script_version: Mapped[str] = mapped_column(String(64), default="")
    policy_version: Mapped[str] = mapped_column(String(64), default="")
    locale: Mapped[str] = mapped_column(String(16), default="zh-CN")
    callback_url: Mapped[str | None] = mapped_column(Text)
    declared_business: Mapped[Any] = mapped_column(JsonText, nullable=True)
    loan_terms: Mapped[Any] = mapped_column(JsonText, nullable=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)  # the join link's expiry (first use)
    updated_at: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), index=True)
    step_index: Mapped[int] = mapped_column(Integer, default=0)
    step_id: Mapped[str | None] = mapped_column(String(64))
    engine_state: Mapped[Any] = mapped_column(JsonText, nullable=True)
    prompt_script: Mapped[Any] = mapped_column(JsonText, nullable=True)  # what was shown, when
    connections: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[float | None] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float)
    disconnected_at: Mapped[float | None] = mapped_column(Float)
    end_reason: Mapped[str | None] = mapped_column(String(64))
    decision: Mapped[str | None] = mapped_column(String(16))
    verdict: Mapped[Any] = mapped_column(JsonText, nullable=True)
    id_photo_path: Mapped[str | None] = mapped_column(Text)
    voiceprint_path: Mapped[str | None] = mapped_column(Text)
    recording_path: Mapped[str | None] = mapped_column(Text)
    geo: Mapped[Any] = mapped_column(JsonText, nullable=True)
    geo_denied: Mapped[bool] = mapped_column(Boolean, default=False)
    device_key: Mapped[str | None] = mapped_column(String(64))
    evidence_seq: Mapped[int] = mapped_column(Integer, default=0)


class EvidenceRow(Base):
    """The evidence timeline: analyzer evidence and interview-flow entries, in arrival order."""

    __tablename__ = "evidence_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("interview_sessions.id", ondelete="CASCADE"))
    entry_id: Mapped[str] = mapped_column(String(64))  # unique within the session; reasons cite it
    kind: Mapped[str] = mapped_column(String(24))  # "evidence" | "flow"
    check: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    media_start: Mapped[float | None] = mapped_column(Float)
    media_end: Mapped[float | None] = mapped_column(Float)
    recorded_at: Mapped[float] = mapped_column(Float)
    step_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[Any] = mapped_column(JsonText, nullable=True)

    __table_args__ = (
        Index("ix_evidence_session_seq", "session_id", "seq"),
        Index("ux_evidence_session_entry", "session_id", "entry_id", unique=True),
    )


class VerdictRow(Base):
    """Every decision on a session: the automatic verdict and later overrides. ``id`` is the
    polling cursor of ``GET /v1/verdicts``."""

    __tablename__ = "verdicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("interview_sessions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "automatic" | "override"
    decision: Mapped[str] = mapped_column(String(16))
    policy_version: Mapped[str] = mapped_column(String(64))
    body: Mapped[Any] = mapped_column(JsonText, nullable=False)
    event_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[float] = mapped_column(Float)


class OutboxEventRow(Base):
    """An event owed to the loan system; written in the transaction that made it true."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(32), unique=True)
    session_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("interview_sessions.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(48))
    body: Mapped[str] = mapped_column(Text)  # the exact bytes (UTF-8) that are POSTed and signed
    callback_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    deadline_at: Mapped[float] = mapped_column(Float)  # retries stop after this
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed | no_callback
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float | None] = mapped_column(Float)
    lease_until: Mapped[float | None] = mapped_column(Float)
    lease_owner: Mapped[str | None] = mapped_column(String(32))
    last_attempt_at: Mapped[float | None] = mapped_column(Float)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


class DeliveryAttemptRow(Base):
    """One POST of one event: when, how long, what came back."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("outbox_events.event_id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[float] = mapped_column(Float)
    duration_ms: Mapped[float] = mapped_column(Float)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class FailureRow(Base):
    """A failed attempt at a checked step, kept per applicant and per device for the failure
    budget (at most N failures in a sliding window, across sessions)."""

    __tablename__ = "attempt_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(96))  # "applicant:<id>" | "device:<hash>"
    session_id: Mapped[str] = mapped_column(String(32))
    step_id: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_failures_subject_at", "subject", "at"),)


# -- reviewer console (signaling/console): migration 0002_console ------------------------------
# Claims and notes belong to interview sessions (deleted with them, shared by every server
# process on one PostgreSQL); a login session must be valid on whichever process serves the
# next request. Accounts stay in the protect layer's accounts.sqlite3.

class ConsoleLoginRow(Base):
    """One signed-in browser. The cookie holds a random id; only its SHA-256 is stored, so a
    copy of the database cannot be replayed as a cookie."""

    __tablename__ = "console_logins"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    last_seen_at: Mapped[float] = mapped_column(Float)


class ConsoleClaimRow(Base):
    """Who works on a queued session now (one row per session: the primary key is the lock)."""

    __tablename__ = "console_claims"

    session_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("interview_sessions.id", ondelete="CASCADE"), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[float] = mapped_column(Float)


class ConsoleNoteRow(Base):
    """A reviewer's note on a session (append-only, like the audit trail it accompanies)."""

    __tablename__ = "console_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("interview_sessions.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_console_notes_session", "session_id", "id"),)
