"""Evidence export: everything the record holds about one interview, as one JSON document.

Who needs it: a supervisor answering a complaint, an auditor or a court, outside the console.
The bundle is built from the same reads as the session page (``session_view``) plus what the
page leaves out: every verdict row with its full body (automatic and overrides), the raw
evidence log, and the audit entries about the session, each with its chain hashes so anyone
holding the audit log can check them. Media is **not** included (it stays encrypted in the
vault, under retention); each media object is named with its size and the SHA-256 of its
plaintext, so a copy handed over later can be shown to be the one the verdict was made on.

The applicant's name stays masked as on the page: the loan system links the application id to
the person; the bundle does not need to. The route records the export (with the bundle's own
SHA-256) in the audit log after building it, so the export entry itself is not in the bundle.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.orm import Session

from signaling.console.session_view import session_view, verdict_rows
from verification.protect.audit import AuditEntry, AuditLog, canonical_json
from verification.protect.errors import ObjectNotFoundError
from verification.protect.media import sniff_content_type
from verification.store.schema import EvidenceRow
from verification.workflow import repository as repo
from verification.workflow.webhooks import iso

FORMAT = "verification-evidence-export/1"


def _evidence(row: EvidenceRow) -> dict[str, Any]:
    return {"seq": row.seq, "entry_id": row.entry_id, "kind": row.kind, "check": row.check,
            "outcome": row.outcome, "code": row.code, "summary": row.summary,
            "media_start": row.media_start, "media_end": row.media_end,
            "recorded_at": iso(row.recorded_at), "step_id": row.step_id,
            "payload": row.payload}


def _audit(entry: AuditEntry) -> dict[str, Any]:
    return {"seq": entry.seq, "time": entry.time, "actor": entry.actor, "role": entry.role,
            "action": entry.action, "target": entry.target, "details": dict(entry.details),
            "prev_hash": entry.prev_hash, "hash": entry.hash}


def media_digests(vault: Any, session_id: str) -> list[dict[str, Any]]:
    """SHA-256 of each stored object's plaintext, decrypted chunk by chunk (bounded memory)."""
    out = []
    for obj in vault.list_media(session_id):
        digest, head, size = hashlib.sha256(), b"", 0
        try:
            for chunk in vault.store.stream(obj.object_id):
                if len(head) < 64:
                    head += chunk[:64 - len(head)]
                digest.update(chunk)
                size += len(chunk)
        except ObjectNotFoundError:
            continue  # deleted meanwhile (retention, data-subject request)
        out.append({"object_id": obj.object_id, "kind": obj.kind.value, "size": size,
                    "content_type": sniff_content_type(head),
                    "created_at": obj.created_at.isoformat(), "sha256": digest.hexdigest()})
    return out


def audit_targets(session_id: str) -> tuple[str, ...]:
    """How audit entries name a session: console actions ``session:<id>``, live watch and
    data-subject deletion the bare id."""
    return (f"session:{session_id}", session_id)


def evidence_bundle(core: Any, db: Session, audit: AuditLog, session_id: str,
                    exported_by: dict[str, str], exported_at: float) -> dict[str, Any]:
    view = session_view(core, db, session_id)  # 404 for an unknown session
    entries = audit.entries_about(audit_targets(session_id))
    head = audit.tail(1)
    return {
        "format": FORMAT,
        "exported_at": iso(exported_at),
        "exported_by": exported_by,
        "session": view["session"],
        "current_decision": view["current_decision"],
        "verdicts": [{"id": v.id, "kind": v.kind, "decision": v.decision,
                      "policy_version": v.policy_version, "created_at": iso(v.created_at),
                      "event_id": v.event_id, "body": v.body}
                     for v in verdict_rows(db, session_id)],
        "decisions": view["decisions"],
        "reasons": (view["verdict"] or {}).get("reasons", []),
        "timeline": view["timeline"],
        "evidence": [_evidence(r) for r in repo.timeline(db, session_id, limit=1_000_000)],
        "notes": view["notes"],
        "audit": {"entries": [_audit(e) for e in entries],
                  "log_head_hash": head[0].hash if head else None,
                  "log_head_seq": head[0].seq if head else 0},
        "media": media_digests(core.vault, session_id),
    }


def encode(bundle: dict[str, Any]) -> bytes:
    """Canonical JSON (sorted keys, UTF-8): the same bundle always hashes the same."""
    return canonical_json(bundle).encode("utf-8")
