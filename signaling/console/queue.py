"""The review queue: sessions awaiting a human decision, most risky and longest waiting first.

In the queue: every session whose automatic verdict is ``review`` and no human has decided
yet, plus the automatic ``pass`` / ``reject`` verdicts of the last 30 days that the audit
sample picks (``VERIFICATION_REVIEW_SAMPLE_RATE``; see :mod:`.risk`). Filters: loan product
(in SQL) and reason code (on the verdict's reasons).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from signaling.console.risk import risk_of, sampled_for_audit
from signaling.console.worklist import claims
from verification.store.schema import InterviewSessionRow, VerdictRow

SAMPLE_WINDOW_S = 30 * 86400.0
MAX_ITEMS = 500


@dataclass(frozen=True)
class QueueFilter:
    product: str | None = None
    reason: str | None = None


def _candidates(db: Session, flt: QueueFilter, now: float) -> list[tuple[VerdictRow, Any]]:
    override = aliased(VerdictRow)
    decided = exists().where(override.session_id == VerdictRow.session_id,
                             override.kind == "override")
    query = (select(VerdictRow, InterviewSessionRow)
             .join(InterviewSessionRow, InterviewSessionRow.id == VerdictRow.session_id)
             .where(VerdictRow.kind == "automatic", ~decided,
                    or_(VerdictRow.decision == "review",
                        and_(VerdictRow.decision.in_(("pass", "reject")),
                             VerdictRow.created_at >= now - SAMPLE_WINDOW_S))))
    if flt.product:
        query = query.where(InterviewSessionRow.loan_product == flt.product)
    return [(v, s) for v, s in db.execute(query).all()]


def build_queue(db: Session, flt: QueueFilter, now: float, sample_rate: float
                ) -> list[dict[str, Any]]:
    items = []
    for verdict, session in _candidates(db, flt, now):
        sampled = verdict.decision != "review"
        if sampled and not sampled_for_audit(session.id, sample_rate):
            continue
        codes = [str(r.get("code")) for r in (verdict.body or {}).get("reasons") or ()
                 if isinstance(r, dict)]
        if flt.reason and flt.reason not in codes:
            continue
        items.append({"session_id": session.id, "application_id": session.application_id,
                      "product": session.loan_product, "decision": verdict.decision,
                      "risk": risk_of(verdict.body or {}), "reasons": codes,
                      "waiting_s": round(max(0.0, now - verdict.created_at), 1),
                      "claimed_by": None, "sampled": sampled})
    items.sort(key=lambda item: (-item["risk"], -item["waiting_s"]))
    items = items[:MAX_ITEMS]
    held = claims(db, [item["session_id"] for item in items])
    for item in items:
        item["claimed_by"] = held.get(item["session_id"])
    return items
