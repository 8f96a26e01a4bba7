"""The loan-system side of the workflow: create, read, cancel sessions; timelines; verdicts.

Each public method is what one route of the ``/v1`` API does, free of HTTP: route handlers
stay a few lines long and these rules are tested directly. Times go out as RFC 3339 strings.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from verification.errors import VerificationError
from verification.protect.media import MediaVault, vault_ref
from verification.protect.store import ObjectKind
from verification.store.schema import InterviewSessionRow, OutboxEventRow
from verification.workflow import repository as repo
from verification.workflow.budget import check_applicant
from verification.workflow.conclude import Concluded, conclude, record_override
from verification.workflow.engine import EngineState
from verification.workflow.intake import FaceCounter, SessionRequest, validate
from verification.workflow.interviews import InterviewClosedError, hash_token
from verification.workflow.outbox import queue_event
from verification.workflow.products import ProductCatalog
from verification.workflow.webhooks import iso

log = logging.getLogger(__name__)

OPEN_STATES = ("created", "live", "interrupted")
MAX_PAGE = 500


class SessionNotFoundError(VerificationError):
    code = "session_not_found"
    http_status = 404


class InvalidCursorError(VerificationError):
    code = "cursor_invalid"
    http_status = 400


@dataclass(frozen=True)
class CreatedSession:
    session_id: str
    token: str
    join_url: str
    expires_at: float
    warnings: tuple[str, ...]


class LoanWorkflow:
    def __init__(self, engine: Engine, catalog: ProductCatalog, data_dir: Path,
                 faces: FaceCounter, join_base_url: str, join_ttl_s: float = 1800.0,
                 clock: Callable[[], float] = time.time,
                 on_event: Callable[[], None] | None = None,
                 media: MediaVault | None = None) -> None:
        self.engine = engine
        self.sessions = repo.session_factory(engine)
        self.catalog = catalog
        self.data_dir = Path(data_dir)
        self.faces = faces
        self.join_base_url = join_base_url.rstrip("/")
        self.join_ttl_s = join_ttl_s
        self.clock = clock
        self.on_event = on_event or (lambda: None)
        # ID photos and enrolment audio are encrypted at rest (verification.protect.media).
        self.media = media or MediaVault.for_data_dir(self.data_dir, create_key=True)

    # -- POST /v1/sessions ---------------------------------------------------------------------
    def create_session(self, request: SessionRequest) -> CreatedSession:
        valid = validate(request, self.catalog, self.faces)
        product = self.catalog.get(valid.loan_product)
        # an applicant who just spent the failure budget gets no new attempt before it refills
        check_applicant(self, valid.application_id, product.script.budget)
        session_id = uuid.uuid4().hex
        token = secrets.token_urlsafe(24)
        now = self.clock()
        self.media.save_media(ObjectKind.ID_PHOTO, session_id, valid.id_photo.data,
                              product=product.name)
        photo, voice = vault_ref(session_id, ObjectKind.ID_PHOTO), None
        if valid.voiceprint is not None:
            self.media.save_media(ObjectKind.VOICE_ENROLMENT, session_id, valid.voiceprint.data,
                                  product=product.name)
            voice = vault_ref(session_id, ObjectKind.VOICE_ENROLMENT)
        row = InterviewSessionRow(
            id=session_id, application_id=valid.application_id,
            applicant_name=valid.applicant_name, loan_product=product.name,
            script_version=product.script.label, policy_version=product.policy.version,
            locale=valid.locale, callback_url=valid.callback_url,
            declared_business=valid.declared_business, loan_terms=valid.loan_terms,
            token_sha256=hash_token(token), created_at=now, expires_at=now + self.join_ttl_s,
            updated_at=now, state="created", step_index=0, step_id=product.script.steps[0].id,
            engine_state=None, prompt_script={"steps": []}, connections=0,
            id_photo_path=photo, voiceprint_path=voice,
            geo_denied=False, evidence_seq=0)
        try:
            with self.sessions.begin() as db:
                db.add(row)
        except Exception:
            for stored in self.media.list_media(session_id):
                self.media.store.delete(stored.object_id)
            raise
        log.info("session %s created for application %s (%s)", session_id,
                 valid.application_id, product.script.label)
        return CreatedSession(session_id, token, f"{self.join_base_url}/join#{token}",
                              row.expires_at, valid.warnings)

    # -- GET /v1/sessions/{id} -----------------------------------------------------------------
    def _row(self, db: Any, session_id: str) -> InterviewSessionRow:
        row = repo.get_session(db, session_id)
        if row is None:
            raise SessionNotFoundError(f"no session {session_id!r}")
        return row

    def session_view(self, session_id: str) -> dict[str, Any]:
        with self.sessions() as db:
            row = self._row(db, session_id)
            verdict = repo.latest_verdict(db, session_id)
            events = repo.session_events(db, session_id)
            return self._view(row, verdict, events)

    def _view(self, row: InterviewSessionRow, verdict: Any,
              events: list[OutboxEventRow]) -> dict[str, Any]:
        script = self.catalog.get(row.loan_product).script if row.loan_product in \
            self.catalog.names() else None
        state = EngineState.from_json(row.engine_state)
        current = None
        if script is not None and row.state in OPEN_STATES:
            step = script.steps[min(state.step_index, len(script.steps) - 1)]
            current = {"index": state.step_index, "id": step.id, "kind": step.kind,
                       "attempt": state.attempt}
        return {
            "session_id": row.id, "application_id": row.application_id,
            "applicant_name": row.applicant_name, "loan_product": row.loan_product,
            "script": row.script_version, "locale": row.locale, "state": row.state,
            "current_step": current, "steps_total": len(script.steps) if script else None,
            "steps_completed": list(state.completed_steps),
            "created_at": iso(row.created_at), "expires_at": iso(row.expires_at),
            "started_at": iso(row.started_at), "finished_at": iso(row.finished_at),
            "end_reason": row.end_reason, "connections": row.connections,
            "declared_business": row.declared_business, "loan_terms": row.loan_terms,
            "callback_url": row.callback_url,
            "verdict": None if verdict is None else {
                **verdict.body, "kind": verdict.kind, "decided_at": iso(verdict.created_at),
                "event_id": verdict.event_id},
            "deliveries": [self._delivery(e) for e in events],
        }

    @staticmethod
    def _delivery(event: OutboxEventRow) -> dict[str, Any]:
        return {"event_id": event.event_id, "type": event.type, "status": event.status,
                "attempts": event.attempts, "created_at": iso(event.created_at),
                "last_attempt_at": iso(event.last_attempt_at),
                "last_status_code": event.last_status_code, "last_error": event.last_error,
                "next_attempt_at": iso(event.next_attempt_at),
                "delivered_at": iso(event.delivered_at)}

    # -- GET /v1/sessions/{id}/events ----------------------------------------------------------
    def timeline(self, session_id: str, after: int = 0, limit: int = MAX_PAGE) -> dict[str, Any]:
        limit = max(1, min(limit, MAX_PAGE))
        with self.sessions() as db:
            self._row(db, session_id)
            rows = repo.timeline(db, session_id, after=max(0, after), limit=limit)
        items = [{
            "seq": r.seq, "id": r.entry_id, "kind": r.kind, "check": r.check,
            "outcome": r.outcome, "code": r.code, "summary": r.summary, "step": r.step_id,
            "window": None if r.media_start is None else
            {"start": round(r.media_start, 3), "end": round(r.media_end or r.media_start, 3)},
            "recorded_at": iso(r.recorded_at), **(r.payload or {})} for r in rows]
        for item in items:
            item.pop("source_id", None)
        return {"session_id": session_id, "events": items,
                "next_after": rows[-1].seq if rows else max(0, after)}

    # -- POST /v1/sessions/{id}/cancel ---------------------------------------------------------
    def cancel(self, session_id: str, reason: str = "cancelled_by_lender") -> dict[str, Any]:
        now = self.clock()
        with self.sessions.begin() as db:
            row = repo.get_session(db, session_id, lock=True)
            if row is None:
                raise SessionNotFoundError(f"no session {session_id!r}")
            if row.state not in OPEN_STATES:
                raise InterviewClosedError(f"session {session_id} is already {row.state}")
            state = EngineState.from_json(row.engine_state)
            row.state = "cancelled"
            row.end_reason = reason
            row.finished_at = now
            row.updated_at = now
            row.engine_state = {**state.to_json(), "status": "finished",
                                "finish_reason": "cancelled"}
            queue_event(db, row, "session.cancelled",
                        {"session_id": row.id, "application_id": row.application_id,
                         "reason": reason, "cancelled_at": iso(now)}, now)
        self.on_event()
        return self.session_view(session_id)

    # -- GET /v1/verdicts?since= ---------------------------------------------------------------
    def verdicts_since(self, cursor: str | None, limit: int = 100) -> dict[str, Any]:
        try:
            after = int(cursor) if cursor not in (None, "") else 0
            if after < 0:
                raise ValueError
        except ValueError:
            raise InvalidCursorError("since: expected a cursor returned by this API") from None
        limit = max(1, min(limit, MAX_PAGE))
        with self.sessions() as db:
            rows = repo.verdicts_after(db, after, limit)
            sessions = {r.session_id: repo.get_session(db, r.session_id) for r in rows}
        items = [{"cursor": str(r.id), "event_id": r.event_id, "session_id": r.session_id,
                  "application_id": sessions[r.session_id].application_id
                  if sessions.get(r.session_id) else None,
                  "kind": r.kind, "decision": r.decision, "policy_version": r.policy_version,
                  "decided_at": iso(r.created_at), "verdict": r.body} for r in rows]
        return {"verdicts": items, "next_cursor": str(rows[-1].id) if rows else str(after)}

    # -- verdicts ------------------------------------------------------------------------------
    def conclude(self, session_id: str, reason: str) -> Concluded | None:
        with self.sessions.begin() as db:
            result = conclude(db, session_id, self.catalog, reason, self.clock())
        if result is not None and result.created:
            self.on_event()
        return result

    def override(self, session_id: str, decision: str, reviewer: str, note: str,
                 decided_on: int | None = None) -> Concluded:
        with self.sessions.begin() as db:
            if repo.get_session(db, session_id) is None:
                raise SessionNotFoundError(f"no session {session_id!r}")
            result = record_override(db, session_id, decision, reviewer, note, self.clock(),
                                     decided_on=decided_on)
        self.on_event()
        return result

    # -- housekeeping --------------------------------------------------------------------------
    def expire_links(self) -> list[str]:
        """Sessions whose link was never used before it expired: ``expired`` + an event."""
        now = self.clock()
        expired = []
        with self.sessions.begin() as db:
            for candidate in repo.sessions_in_state(db, ("created",)):
                if candidate.expires_at >= now:
                    continue
                row = repo.get_session(db, candidate.id, lock=True)
                if row is not None and row.state == "created":
                    row.state = "expired"
                    row.end_reason = "expired"
                    row.finished_at = now
                    row.updated_at = now
                    queue_event(db, row, "session.expired",
                                {"session_id": row.id, "application_id": row.application_id,
                                 "expired_at": iso(now)}, now)
                    expired.append(row.id)
        if expired:
            self.on_event()
        return expired
