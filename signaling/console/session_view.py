"""Everything the session page shows, as one JSON document (console contract).

Built from the database only: the session row, its evidence log (timeline, face-match series,
IP location, related sessions), its verdicts (automatic reasons, human decisions), claims and
notes. Media is linked by URL, never inlined; whether each link exists is asked of
:func:`signaling.console.media.open_media`, the one place that knows where media lives.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signaling.console import timeline as tl
from signaling.console.location import location
from signaling.console.media import MediaKind, media_of_row
from signaling.console.related import related_sessions
from signaling.console.worklist import claims, notes
from verification.store.schema import InterviewSessionRow, VerdictRow
from verification.workflow import repository as repo
from verification.workflow.loan import SessionNotFoundError
from verification.workflow.webhooks import iso

API = "/console/api/sessions"


def mask_name(name: str | None) -> str | None:
    """First character of each word, the rest starred: enough to recognise, not to leak."""
    if not name:
        return None
    words = name.split()
    if len(words) == 1:
        word = words[0]
        return word[0] + "*" * max(1, len(word) - 1)
    return " ".join(w[0] + "*" * max(1, len(w) - 1) for w in words)


def media_clock(row: InterviewSessionRow, data_dir: Path) -> tl.MediaClock:
    """Wall-clock time of media time 0: the recording's manifest (``recording.json``, kept
    readable under ``recordings/<id>/``), else the interview's start."""
    manifest = data_dir / "recordings" / row.id / "recording.json"
    try:
        started = json.loads(manifest.read_text())["started_at"]
        return tl.MediaClock(datetime.fromisoformat(started).timestamp())
    except (OSError, ValueError, KeyError, TypeError):
        return tl.MediaClock(row.started_at)


def verdict_rows(db: Session, session_id: str) -> list[VerdictRow]:
    return list(db.scalars(select(VerdictRow).where(VerdictRow.session_id == session_id)
                           .order_by(VerdictRow.id)))


def decisions(rows: list[VerdictRow]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        if row.kind != "override":
            continue
        body = row.body or {}
        note = next((r.get("message") for r in body.get("reasons") or ()
                     if r.get("code") == "reviewer_decision"), "")
        out.append({"author": body.get("reviewer"), "decision": row.decision, "note": note,
                    "at": iso(row.created_at), "event_id": row.event_id})
    return out


def _url(core: Any, row: InterviewSessionRow, kind: MediaKind, path: str) -> str | None:
    return f"{API}/{row.id}/{path}" if media_of_row(core, row, kind) else None


def session_view(core: Any, db: Session, session_id: str) -> dict[str, Any]:
    row = repo.get_session(db, session_id)
    if row is None:
        raise SessionNotFoundError(f"no session {session_id!r}")
    rows = repo.timeline(db, session_id, limit=1_000_000)
    evidence = [r for r in rows if r.kind == "evidence"]
    clock = media_clock(row, Path(core.settings.data_dir))
    verdicts = verdict_rows(db, session_id)
    automatic = next((v for v in verdicts if v.kind == "automatic"), None)
    shown = automatic or (verdicts[-1] if verdicts else None)
    series, score = tl.face_match_series(evidence)
    return {
        "session": {"id": row.id, "application_id": row.application_id,
                    "product": row.loan_product, "state": row.state,
                    "created_at": iso(row.created_at), "started_at": iso(row.started_at),
                    "finished_at": iso(row.finished_at), "end_reason": row.end_reason,
                    "applicant_name_masked": mask_name(row.applicant_name)},
        "verdict": None if shown is None else {
            "decision": shown.decision, "policy_version": shown.policy_version,
            "kind": shown.kind, "decided_at": iso(shown.created_at),
            "reasons": tl.reasons(shown.body or {}, rows, clock)},
        "current_decision": row.decision,
        # the verdict this view shows as current: a decision sent from it names it, so one
        # made on a stale page (someone decided since) is refused instead of silently winning
        "current_verdict_id": verdicts[-1].id if verdicts else None,
        "timeline": tl.timeline(rows, clock),
        "face_match": series,
        "match_score": score,
        "location": location(row, evidence),
        "related": related_sessions(db, session_id, evidence, since=row.created_at),
        "notes": notes(db, session_id),
        "decisions": decisions(verdicts),
        "recording_url": _url(core, row, MediaKind.RECORDING, "recording"),
        "id_photo_url": _url(core, row, MediaKind.ID_PHOTO, "id-photo"),
        "reference_frame_url": _url(core, row, MediaKind.REFERENCE_FRAME, "reference-frame"),
        "claimed_by": claims(db, [session_id]).get(session_id),
    }
