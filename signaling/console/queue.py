"""The review queue: sessions awaiting a human decision, most risky and longest waiting first.

In the queue: every session whose automatic verdict is ``review`` and no human has decided
yet, plus the automatic ``pass`` / ``reject`` verdicts of the last 30 days that the audit
sample picks (``VERIFICATION_REVIEW_SAMPLE_RATE``; see :mod:`.risk`). Filters: loan product
(in SQL) and reason code (on the verdict's reasons).

The sample is a hash of the session id, which SQL cannot compute, so it is picked in two steps:
the 30 days of undecided pass / reject verdicts are read as ids only (no verdict bodies: a
month of them is thousands of JSON documents, and the queue refreshes every 30 s per
reviewer), the sample is drawn from the ids, and only the picked verdicts are read whole,
together with the ``review`` ones. With a sample rate of 0 the first step is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from signaling.console.risk import risk_of, sampled_for_audit
from signaling.console.worklist import claims
from verification.store.schema import InterviewSessionRow, VerdictRow

SAMPLE_WINDOW_S = 30 * 86400.0
MAX_ITEMS = 500
ID_CHUNK = 500  # verdict ids per IN (...) list (SQLite's variable limit is far above it)


@dataclass(frozen=True)
class QueueFilter:
    product: str | None = None
    reason: str | None = None


def _undecided(flt: QueueFilter, *columns: Any) -> Any:
    """``select(columns)`` over automatic verdicts no human has overridden, with the product
    filter."""
    override = aliased(VerdictRow)
    decided = exists().where(override.session_id == VerdictRow.session_id,
                             override.kind == "override")
    query = (select(*columns)
             .join(InterviewSessionRow, InterviewSessionRow.id == VerdictRow.session_id)
             .where(VerdictRow.kind == "automatic", ~decided))
    if flt.product:
        query = query.where(InterviewSessionRow.loan_product == flt.product)
    return query


def _sampled_ids(db: Session, flt: QueueFilter, now: float, sample_rate: float) -> list[int]:
    """The recent undecided pass / reject verdicts the audit sample picks (ids only)."""
    if sample_rate <= 0:
        return []
    query = _undecided(flt, VerdictRow.id, VerdictRow.session_id).where(
        VerdictRow.decision.in_(("pass", "reject")),
        VerdictRow.created_at >= now - SAMPLE_WINDOW_S)
    return [verdict_id for verdict_id, session_id in db.execute(query).all()
            if sampled_for_audit(session_id, sample_rate)]


def _candidates(db: Session, flt: QueueFilter, now: float, sample_rate: float
                ) -> list[tuple[VerdictRow, Any]]:
    review = _undecided(flt, VerdictRow, InterviewSessionRow).where(VerdictRow.decision == "review")
    rows = [(v, s) for v, s in db.execute(review).all()]
    picked = _sampled_ids(db, flt, now, sample_rate)
    for start in range(0, len(picked), ID_CHUNK):
        chunk = _undecided(flt, VerdictRow, InterviewSessionRow).where(
            VerdictRow.id.in_(picked[start:start + ID_CHUNK]))
        rows += [(v, s) for v, s in db.execute(chunk).all()]
    return rows


def build_queue(db: Session, flt: QueueFilter, now: float, sample_rate: float
                ) -> list[dict[str, Any]]:
    items = []
    for verdict, session in _candidates(db, flt, now, sample_rate):
        sampled = verdict.decision != "review"
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
