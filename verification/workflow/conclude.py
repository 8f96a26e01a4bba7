"""The end of an interview: fuse the persisted evidence with the product's policy, and write
the verdict, the session's final state and the outbox event in one transaction.

Why from the database and not from the live session's memory: the evidence of an interview
that survived a reconnect or a server restart is in the evidence log, not in one process's
memory; and the ids that reasons cite must be the ids a reviewer finds in the timeline.
Concluding twice is harmless: the first verdict stands and is returned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from verification.store.schema import EvidenceRow, InterviewSessionRow, VerdictRow
from verification.types import Check, Evidence, Outcome, TimeWindow, Verdict
from verification.workflow import repository as repo
from verification.workflow.outbox import queue_event
from verification.workflow.products import ProductCatalog
from verification.workflow.webhooks import iso

log = logging.getLogger(__name__)

_CHECKS = {c.value: c for c in Check}


@dataclass(frozen=True)
class Concluded:
    verdict_id: int
    event_id: str
    decision: str
    created: bool  # False: the session already had its verdict


def evidence_from_row(row: EvidenceRow) -> Evidence | None:
    """The stored evidence as the fusion policy reads it (flow entries are not evidence)."""
    if row.kind != "evidence" or row.check not in _CHECKS or row.outcome is None:
        return None
    payload = row.payload or {}
    start = row.media_start if row.media_start is not None else 0.0
    end = row.media_end if row.media_end is not None else start
    return Evidence(check=_CHECKS[row.check], outcome=Outcome(row.outcome),
                    window=TimeWindow(start, max(start, end)), summary=row.summary,
                    score=payload.get("score"), model=payload.get("model"),
                    provider=payload.get("provider"), latency_ms=payload.get("latency_ms"),
                    details=payload.get("details") or {}, code=row.code, id=row.entry_id)


def session_evidence(db: Session, session_id: str) -> list[Evidence]:
    rows = repo.timeline(db, session_id, limit=1_000_000, kind="evidence")
    return [e for e in (evidence_from_row(r) for r in rows) if e is not None]


def verdict_event_data(session: InterviewSessionRow, verdict: dict[str, Any], kind: str,
                       decided_at: float, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"session_id": session.id, "application_id": session.application_id,
            "loan_product": session.loan_product, "script": session.script_version,
            "end_reason": session.end_reason, "kind": kind, "decision": verdict["decision"],
            "verdict": verdict, "decided_at": iso(decided_at), **(extra or {})}


def conclude(db: Session, session_id: str, catalog: ProductCatalog, reason: str,
             now: float) -> Concluded | None:
    """Run inside ``with sessions.begin() as db``: verdict + session + outbox, atomically.
    ``None`` for a session the loan system cancelled (or whose link expired): no verdict."""
    session = repo.get_session(db, session_id, lock=True)
    if session is None:
        raise KeyError(session_id)
    if session.state in ("cancelled", "expired"):
        return None
    existing = repo.automatic_verdict(db, session_id)
    if existing is not None:
        return Concluded(existing.id, existing.event_id, existing.decision, False)
    product = catalog.get(session.loan_product)
    verdict: Verdict = product.fusion().decide(session_evidence(db, session_id))
    body = verdict.to_json() | {"script": session.script_version}
    session.state = "finished"
    session.finished_at = session.finished_at or now
    session.end_reason = session.end_reason or reason
    session.decision = verdict.decision.value
    session.verdict = body
    session.updated_at = now
    event = queue_event(db, session, "verdict.created",
                        verdict_event_data(session, body, "automatic", now), now)
    row = VerdictRow(session_id=session_id, kind="automatic", decision=verdict.decision.value,
                     policy_version=verdict.policy_version, body=body, event_id=event.event_id,
                     created_at=now)
    db.add(row)
    db.flush()
    log.info("session %s concluded: %s (%s)", session_id, verdict.decision.value, reason)
    return Concluded(row.id, event.event_id, verdict.decision.value, True)


class StaleDecisionError(Exception):
    """The session's latest verdict is no longer the one the decision was made on."""


def record_override(db: Session, session_id: str, decision: str, reviewer: str, note: str,
                    now: float, *, decided_on: int | None = None) -> Concluded:
    """A later human decision (reviewer console): a new verdict row and a ``verdict.updated``
    event, in the caller's transaction. The automatic verdict stays for the audit trail.

    ``decided_on``: the id of the latest verdict the reviewer's decision was based on. Checked
    under the session's lock (:func:`repository.get_session`, SQLite included), so of two
    reviewers deciding the same session at once the second gets :class:`StaleDecisionError`
    instead of a second, silently later verdict.
    """
    if decision not in ("pass", "review", "reject"):
        raise ValueError(f"decision must be pass, review or reject, not {decision!r}")
    session = repo.get_session(db, session_id, lock=True)
    if session is None:
        raise KeyError(session_id)
    previous = repo.latest_verdict(db, session_id)
    if decided_on is not None and (previous is None or previous.id != decided_on):
        raise StaleDecisionError(session_id)
    body = {"decision": decision, "policy_version": "override",
            "reasons": [{"code": "reviewer_decision", "message": note, "check": "interview",
                         "evidence_ids": [], "windows": []}],
            "checks": previous.body.get("checks", {}) if previous else {},
            "reviewer": reviewer, "overrides": previous.id if previous else None}
    session.decision = decision
    session.updated_at = now
    event = queue_event(db, session, "verdict.updated",
                        verdict_event_data(session, body, "override", now), now)
    row = VerdictRow(session_id=session_id, kind="override", decision=decision,
                     policy_version="override", body=body, event_id=event.event_id,
                     created_at=now)
    db.add(row)
    db.flush()
    return Concluded(row.id, event.event_id, decision, True)
