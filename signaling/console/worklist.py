"""Claims and notes: who is working on a queued session, and what reviewers wrote about it.

A claim is one row per session (primary key), so two reviewers claiming at once cannot both
win: the second insert fails inside its transaction and gets 409 ``claimed``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from signaling.console.errors import ClaimedError
from verification.store.schema import ConsoleClaimRow, ConsoleNoteRow
from verification.workflow.webhooks import iso

MAX_NOTE_CHARS = 4000


def claims(db: Session, session_ids: list[str] | None = None) -> dict[str, str]:
    query = select(ConsoleClaimRow)
    if session_ids is not None:
        query = query.where(ConsoleClaimRow.session_id.in_(session_ids))
    return {row.session_id: row.username for row in db.scalars(query)}


def claim(sessions: sessionmaker[Session], session_id: str, username: str, now: float) -> str:
    try:
        with sessions.begin() as db:
            row = db.get(ConsoleClaimRow, session_id)
            if row is not None and row.username != username:
                raise ClaimedError(f"session {session_id} is claimed by {row.username}")
            if row is None:
                db.add(ConsoleClaimRow(session_id=session_id, username=username,
                                       claimed_at=now))
    except IntegrityError:  # a concurrent claim committed first
        with sessions() as db:
            row = db.get(ConsoleClaimRow, session_id)
        holder = row.username if row else "someone else"
        if holder != username:
            raise ClaimedError(f"session {session_id} is claimed by {holder}") from None
    return username


def release(sessions: sessionmaker[Session], session_id: str, username: str,
            force: bool = False) -> None:
    """Drop the caller's claim (``force``: anyone's - after a decision, or by a supervisor)."""
    with sessions.begin() as db:
        row = db.get(ConsoleClaimRow, session_id)
        if row is None:
            return
        if row.username != username and not force:
            raise ClaimedError(f"session {session_id} is claimed by {row.username}")
        db.execute(delete(ConsoleClaimRow).where(ConsoleClaimRow.session_id == session_id))


def add_note(sessions: sessionmaker[Session], session_id: str, author: str, text: str,
             now: float) -> dict[str, Any]:
    with sessions.begin() as db:
        row = ConsoleNoteRow(session_id=session_id, author=author, text=text, created_at=now)
        db.add(row)
    return {"author": author, "text": text, "at": iso(now)}


def notes(db: Session, session_id: str) -> list[dict[str, Any]]:
    rows = db.scalars(select(ConsoleNoteRow).where(ConsoleNoteRow.session_id == session_id)
                      .order_by(ConsoleNoteRow.id))
    return [{"author": r.author, "text": r.text, "at": iso(r.created_at)} for r in rows]
