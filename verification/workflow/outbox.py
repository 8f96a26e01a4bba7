"""Queue an event for the loan system inside the caller's transaction.

Whoever makes something true (a verdict, an override, a cancellation) calls :func:`queue_event`
in the same ``Session.begin()`` block, so the event is committed exactly when the fact is.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from verification.store.schema import InterviewSessionRow, OutboxEventRow
from verification.workflow.delivery import MAX_AGE_S
from verification.workflow.webhooks import event_body

EVENT_TYPES = ("verdict.created", "verdict.updated", "session.cancelled", "session.expired")


def queue_event(db: Session, session: InterviewSessionRow, event_type: str,
                data: dict[str, Any], now: float, max_age_s: float = MAX_AGE_S) -> OutboxEventRow:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    event_id = uuid.uuid4().hex
    row = OutboxEventRow(
        event_id=event_id, session_id=session.id, type=event_type,
        body=event_body(event_id, event_type, now, data), callback_url=session.callback_url,
        created_at=now, deadline_at=now + max_age_s,
        status="pending" if session.callback_url else "no_callback", attempts=0,
        next_attempt_at=now if session.callback_url else None)
    db.add(row)
    return row
