"""Other sessions that share this one's background or location cluster (fraud rings).

The background and geo stages already searched their cross-interview indexes during the
interview and wrote the matching session ids into their evidence (``details.matches`` of the
background fingerprint evidence; ``details.other_sessions`` / ``reused_by_sessions`` of the
location checks). Links are read from both directions: this session's evidence names earlier
ones, and later sessions' evidence that names this one is found by a text search over the
``background`` / ``lbs`` evidence payloads recorded after this session was created (ids are 32
hex characters, so no false hits). That search scans those rows: fine for the evidence of
months of interviews; a link table written by the analyzers would be the next step at scale.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Text, select, type_coerce
from sqlalchemy.orm import Session

from verification.store.schema import EvidenceRow

MAX_RELATED = 50
_CHECKS = ("background", "lbs")


def _named(row: EvidenceRow) -> list[tuple[str, str]]:
    details = (row.payload or {}).get("details") or {}
    out: list[tuple[str, str]] = []
    for match in details.get("matches") or ():
        if isinstance(match, dict) and match.get("session_id"):
            who = match.get("applicant") or "unknown"
            out.append((str(match["session_id"]), f"same background ({who} applicant)"))
    for other in details.get("other_sessions") or ():
        if isinstance(other, dict) and other.get("session_id"):
            distance = other.get("distance_m")
            where = f", {distance:.0f} m apart" if isinstance(distance, int | float) else ""
            what = "same location cluster" if row.code == "location_cluster" else \
                "interviewed nearby"
            out.append((str(other["session_id"]), f"{what}{where}"))
    for session_id in details.get("reused_by_sessions") or ():
        out.append((str(session_id), "same GPS fix"))
    return out


def related_sessions(db: Session, session_id: str, own_rows: Iterable[EvidenceRow],
                     since: float = 0.0) -> list[dict[str, Any]]:
    """``since``: when this session was created (only later evidence can name it)."""
    found: dict[str, list[str]] = {}
    for row in own_rows:
        if row.check in _CHECKS:
            for other, why in _named(row):
                if other != session_id:
                    found.setdefault(other, []).append(why)
    naming_me = db.scalars(select(EvidenceRow).where(
        EvidenceRow.check.in_(_CHECKS), EvidenceRow.session_id != session_id,
        EvidenceRow.recorded_at >= since,
        type_coerce(EvidenceRow.payload, Text).contains(session_id)).limit(MAX_RELATED * 4))
    for row in naming_me:
        for other, why in _named(row):
            if other == session_id:
                found.setdefault(row.session_id, []).append(why)
    return [{"session_id": other, "why": "; ".join(dict.fromkeys(reasons))}
            for other, reasons in list(found.items())[:MAX_RELATED]]
