"""Database access for the interview workflow: plain functions over a SQLAlchemy ``Session``.

Why functions that take the session: the callers decide the transaction. Writing a verdict,
updating its session and queueing its outbox event happen in *one* ``with Session.begin()``
block in :mod:`verification.workflow.conclude`; reading a timeline needs no transaction at all.
No business rules live here — only how rows are found, numbered and changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from verification.store.schema import (
    DeliveryAttemptRow,
    EvidenceRow,
    FailureRow,
    InterviewSessionRow,
    OutboxEventRow,
    VerdictRow,
)
from verification.types import Evidence
from verification.workflow.events import FlowEntry


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


# -- interview sessions --------------------------------------------------------------------------

def get_session(db: Session, session_id: str, lock: bool = False) -> InterviewSessionRow | None:
    """The session row; ``lock``: held until the caller's transaction ends, and read fresh.

    PostgreSQL locks the row (``FOR UPDATE``). SQLite ignores ``FOR UPDATE`` and takes its
    database write lock only at a transaction's first write, so two transactions could both
    read the row (and what hangs off it, e.g. the latest verdict) before either writes: a
    no-op write first makes the second wait until the first commits, then read what it wrote.
    """
    query = select(InterviewSessionRow).where(InterviewSessionRow.id == session_id)
    if lock:
        if db.get_bind().dialect.name == "sqlite":
            db.execute(update(InterviewSessionRow)
                       .where(InterviewSessionRow.id == session_id)
                       .values(updated_at=InterviewSessionRow.updated_at)
                       .execution_options(synchronize_session=False))
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.scalars(query).first()


def session_by_token(db: Session, token_sha256: str) -> InterviewSessionRow | None:
    return db.scalars(select(InterviewSessionRow)
                      .where(InterviewSessionRow.token_sha256 == token_sha256)).first()


def sessions_in_state(db: Session, states: Iterable[str]) -> list[InterviewSessionRow]:
    return list(db.scalars(select(InterviewSessionRow)
                           .where(InterviewSessionRow.state.in_(list(states)))))


# -- evidence log --------------------------------------------------------------------------------

def _next_ids(db: Session, session_id: str, count: int) -> list[str]:
    """Reserve ``count`` evidence ids, unique within the session across restarts."""
    row = get_session(db, session_id, lock=True)
    if row is None:
        raise KeyError(session_id)
    first = row.evidence_seq + 1
    row.evidence_seq += count
    return [f"ev-{n}" for n in range(first, first + count)]


def append_evidence(db: Session, session_id: str, items: Sequence[Evidence], at: float,
                    step_id: str | None = None) -> list[str]:
    """Store analyzer (or flow-made) evidence; returns the ids it was stored under."""
    if not items:
        return []
    ids = _next_ids(db, session_id, len(items))
    for entry_id, item in zip(ids, items, strict=True):
        payload = item.to_json()
        payload["details"] = _without_media(payload["details"])
        db.add(EvidenceRow(
            session_id=session_id, entry_id=entry_id, kind="evidence", check=item.check.value,
            outcome=item.outcome.value, code=item.code or "", summary=item.summary,
            media_start=item.window.start, media_end=item.window.end, recorded_at=at,
            step_id=step_id or _step_id(item.details.get("step")),
            payload={k: payload[k] for k in ("score", "model", "provider", "latency_ms",
                                             "details")} | {"source_id": item.id}))
    return ids


def _step_id(step: object) -> str | None:
    """A script step id from an analyzer's ``details["step"]``. Only a string is one: an
    analyzer may describe the step it saw in its own shape (the expression cue gives a dict of
    index, type and title), which belongs in the payload, not in the ``step_id`` column; one odd
    detail must never make the evidence, and with it the verdict, unstorable."""
    return step[:64] if isinstance(step, str) and step else None


# Image bytes some evidence carries for the live session (the face stage's reference crop): the
# database keeps only a pointer; the image itself is encrypted in the media vault
# (verification.protect.media, object ``sessions/<id>/reference_frame``).
_MEDIA_DETAILS = {"face_jpeg_base64": "face_jpeg"}


def _without_media(details: Any) -> Any:
    if not isinstance(details, dict) or not _MEDIA_DETAILS.keys() & details.keys():
        return details
    out = {k: v for k, v in details.items() if k not in _MEDIA_DETAILS}
    out.update({name: "encrypted at rest (reference_frame)"
                for key, name in _MEDIA_DETAILS.items() if key in details})
    return out


def append_flow(db: Session, session_id: str, entries: Sequence[FlowEntry],
                at: float) -> list[str]:
    if not entries:
        return []
    ids = _next_ids(db, session_id, len(entries))
    for entry_id, entry in zip(ids, entries, strict=True):
        db.add(EvidenceRow(
            session_id=session_id, entry_id=entry_id, kind="flow", check=None, outcome=None,
            code=entry.code, summary=entry.summary,
            media_start=entry.window.start if entry.window else None,
            media_end=entry.window.end if entry.window else None, recorded_at=at,
            step_id=entry.step_id, payload={"details": _plain(entry.details)}))
    return ids


def timeline(db: Session, session_id: str, after: int = 0, limit: int = 500,
             kind: str | None = None) -> list[EvidenceRow]:
    query = (select(EvidenceRow).where(EvidenceRow.session_id == session_id,
                                       EvidenceRow.seq > after)
             .order_by(EvidenceRow.seq).limit(limit))
    if kind is not None:
        query = query.where(EvidenceRow.kind == kind)
    return list(db.scalars(query))


# -- verdicts and the outbox ---------------------------------------------------------------------

def automatic_verdict(db: Session, session_id: str) -> VerdictRow | None:
    return db.scalars(select(VerdictRow).where(VerdictRow.session_id == session_id,
                                               VerdictRow.kind == "automatic")).first()


def latest_verdict(db: Session, session_id: str) -> VerdictRow | None:
    return db.scalars(select(VerdictRow).where(VerdictRow.session_id == session_id)
                      .order_by(VerdictRow.id.desc())).first()


def verdicts_after(db: Session, cursor: int, limit: int) -> list[VerdictRow]:
    return list(db.scalars(select(VerdictRow).where(VerdictRow.id > cursor)
                           .order_by(VerdictRow.id).limit(limit)))


def session_events(db: Session, session_id: str) -> list[OutboxEventRow]:
    return list(db.scalars(select(OutboxEventRow).where(OutboxEventRow.session_id == session_id)
                           .order_by(OutboxEventRow.id)))


def outbox_event(db: Session, event_id: str) -> OutboxEventRow | None:
    return db.scalars(select(OutboxEventRow).where(OutboxEventRow.event_id == event_id)).first()


def due_event_ids(db: Session, now: float, limit: int) -> list[str]:
    query = (select(OutboxEventRow.event_id)
             .where(OutboxEventRow.status == "pending", OutboxEventRow.next_attempt_at <= now,
                    (OutboxEventRow.lease_until.is_(None)) | (OutboxEventRow.lease_until < now))
             .order_by(OutboxEventRow.next_attempt_at).limit(limit))
    return list(db.scalars(query))


def next_due_time(db: Session) -> float | None:
    return db.scalars(select(OutboxEventRow.next_attempt_at)
                      .where(OutboxEventRow.status == "pending")
                      .order_by(OutboxEventRow.next_attempt_at).limit(1)).first()


def claim_event(db: Session, event_id: str, now: float, lease_s: float, owner: str) -> bool:
    """Lease one due event to this worker; an atomic conditional UPDATE, so two workers (or two
    server processes on one PostgreSQL) never send the same attempt twice."""
    result = db.execute(
        update(OutboxEventRow)
        .where(OutboxEventRow.event_id == event_id, OutboxEventRow.status == "pending",
               (OutboxEventRow.lease_until.is_(None)) | (OutboxEventRow.lease_until < now))
        .values(lease_until=now + lease_s, lease_owner=owner))
    return result.rowcount == 1


def add_attempt(db: Session, event_id: str, number: int, started_at: float, duration_ms: float,
                status_code: int | None, error: str | None) -> None:
    db.add(DeliveryAttemptRow(event_id=event_id, number=number, started_at=started_at,
                              duration_ms=duration_ms, status_code=status_code, error=error))


def attempts_of(db: Session, event_id: str) -> list[DeliveryAttemptRow]:
    return list(db.scalars(select(DeliveryAttemptRow)
                           .where(DeliveryAttemptRow.event_id == event_id)
                           .order_by(DeliveryAttemptRow.id)))


# -- failure budget ------------------------------------------------------------------------------

def record_failures(db: Session, subjects: Iterable[str], session_id: str, step_id: str,
                    code: str, at: float) -> None:
    for subject in subjects:
        db.add(FailureRow(subject=subject, session_id=session_id, step_id=step_id, code=code,
                          at=at))


def failure_times(db: Session, subjects: Iterable[str], since: float) -> list[float]:
    """Failure times of any of these subjects since ``since`` (one failure seen under two
    subjects — the same applicant on the same device — counts once)."""
    rows = db.execute(select(FailureRow.session_id, FailureRow.step_id, FailureRow.at)
                      .where(FailureRow.subject.in_(list(subjects)), FailureRow.at >= since))
    distinct = {(r.session_id, r.step_id, r.at) for r in rows}
    return sorted(at for _, _, at in distinct)


def _plain(value: Any) -> Any:
    from collections.abc import Mapping

    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
