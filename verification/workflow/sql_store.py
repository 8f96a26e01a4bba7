"""The interview-record store of :mod:`verification.workflow.interviews`, kept in the database.

Why: the WebRTC edge drives interviews through ``InterviewService`` (connected, interrupted,
geolocation, finished) against a small store interface; backing that interface with the
``interview_sessions`` table makes every transition durable — a restarted server still knows
which links are open, which interviews were under way, and what their applicants shared.

Ownership of columns: this store writes the lifecycle columns the edge owns (state,
connections, times, geo, recording); the verdict and decision of a scripted session belong to
:mod:`verification.workflow.conclude` (product policy, outbox in the same transaction) and are
never overwritten from here. Unscripted sessions (operator CLI) keep the edge's verdict.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, select

from verification.store.schema import InterviewSessionRow
from verification.workflow import repository as repo
from verification.workflow.interviews import GeoFix, InterviewRecord, InterviewState
from verification.workflow.outbox import queue_event
from verification.workflow.webhooks import iso

_TO_RECORD_STATE = {"created": InterviewState.CREATED, "live": InterviewState.LIVE,
                    "interrupted": InterviewState.INTERRUPTED,
                    "finished": InterviewState.FINISHED, "expired": InterviewState.EXPIRED,
                    "cancelled": InterviewState.FINISHED}


def record_from_row(row: InterviewSessionRow) -> InterviewRecord:
    geo = None
    if isinstance(row.geo, dict) and row.geo.get("latitude") is not None:
        geo = GeoFix(float(row.geo["latitude"]), float(row.geo["longitude"]),
                     float(row.geo.get("accuracy_m") or 0.0), float(row.geo.get("at") or 0.0))
    script = row.prompt_script if isinstance(row.prompt_script, dict) else {}
    return InterviewRecord(
        id=row.id, token_sha256=row.token_sha256, created_at=row.created_at,
        expires_at=row.expires_at, state=_TO_RECORD_STATE.get(row.state, InterviewState.FINISHED),
        reference=row.application_id, locale=row.locale, connections=row.connections,
        started_at=row.started_at, finished_at=row.finished_at,
        end_reason=row.end_reason, decision=row.decision, verdict=row.verdict, geo=geo,
        geo_denied=row.geo_denied, recording=row.recording_path,
        prompts_done=len(script.get("steps", [])))


class SqlInterviewStore:
    """Implements the ``InterviewStore`` protocol over ``interview_sessions``."""

    def __init__(self, engine: Engine, default_product: str = "default",
                 clock: Callable[[], float] = time.time,
                 on_event: Callable[[], None] | None = None) -> None:
        self.sessions = repo.session_factory(engine)
        self.default_product = default_product
        self.clock = clock
        self.on_event = on_event or (lambda: None)
        self._lock = threading.Lock()

    def add(self, record: InterviewRecord) -> None:
        """A session made without the loan-system API (operator CLI, admin route): no
        application data and no script (it runs the edge's fixed prompts)."""
        now = self.clock()
        with self.sessions.begin() as db:
            db.add(InterviewSessionRow(
                id=record.id, application_id=record.reference, applicant_name=None,
                loan_product=self.default_product, script_version="",
                policy_version="", locale=record.locale, callback_url=None,
                declared_business=None, loan_terms=None, token_sha256=record.token_sha256,
                created_at=record.created_at, expires_at=record.expires_at, updated_at=now,
                state=record.state.value, step_index=0, step_id=None, engine_state=None,
                prompt_script={"steps": []}, connections=record.connections,
                geo_denied=record.geo_denied, evidence_seq=0))

    def get(self, interview_id: str) -> InterviewRecord | None:
        with self.sessions() as db:
            row = repo.get_session(db, interview_id)
            return record_from_row(row) if row else None

    def by_token_hash(self, token_sha256: str) -> InterviewRecord | None:
        with self.sessions() as db:
            row = repo.session_by_token(db, token_sha256)
            return record_from_row(row) if row else None

    def put(self, record: InterviewRecord) -> None:
        now = self.clock()
        queued = False
        with self._lock, self.sessions.begin() as db:
            row = repo.get_session(db, record.id, lock=True)
            if row is None:
                return
            if row.state == "cancelled" or (row.state == "finished"
                                            and record.state is not InterviewState.FINISHED):
                return  # closed by the loan system or concluded: the edge cannot reopen it
            new_state = record.state.value
            if new_state == "expired" and row.state == "created":
                queue_event(db, row, "session.expired",
                            {"session_id": row.id, "application_id": row.application_id,
                             "expired_at": iso(now)}, now)
                queued = True
            row.state = new_state
            row.connections = record.connections
            row.started_at = record.started_at
            row.finished_at = row.finished_at or record.finished_at
            row.end_reason = row.end_reason or record.end_reason
            row.geo_denied = record.geo_denied
            row.geo = None if record.geo is None else {
                "latitude": record.geo.latitude, "longitude": record.geo.longitude,
                "accuracy_m": record.geo.accuracy_m, "at": record.geo.at}
            row.recording_path = record.recording or row.recording_path
            if not row.script_version and record.verdict is not None and row.verdict is None:
                # unscripted (operator) sessions: the edge's own verdict is all there is
                row.verdict = record.verdict
                row.decision = record.decision
            row.updated_at = now
        if queued:
            self.on_event()

    def all(self) -> list[InterviewRecord]:
        """Open links not yet used (the only records the lifecycle sweeps: expiry). Loading
        every finished session each second would grow without bound."""
        with self.sessions() as db:
            rows = db.scalars(select(InterviewSessionRow)
                              .where(InterviewSessionRow.state == "created"))
            return [record_from_row(r) for r in rows]
