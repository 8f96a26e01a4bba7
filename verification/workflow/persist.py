"""Persist one engine transition: new state, timeline entries, prompt-script marks, failures.

Why one function: the live driver and the restart recovery both advance interviews through the
engine; both must leave the database in the same shape, in one transaction per transition, so
that whatever the applicant was last shown is what a restarted server resumes from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from verification.workflow import repository as repo
from verification.workflow.engine import FINISHED, PAUSED, RUNNING, EngineState, Transition
from verification.workflow.events import (
    EvidenceOut,
    FailureCounted,
    FlowEntry,
    ScriptMark,
)


def device_key(peer_ip: str | None, user_agent: str | None) -> str | None:
    """A device's pseudonymous key for the failure budget (no raw IP is stored)."""
    if not peer_ip and not user_agent:
        return None
    raw = f"{peer_ip or ''}|{user_agent or ''}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def failure_subjects(application_id: str | None, device_key: str | None) -> list[str]:
    subjects = []
    if application_id:
        subjects.append(f"applicant:{application_id}")
    if device_key:
        subjects.append(f"device:{device_key}")
    return subjects


def merge_marks(script: dict[str, Any] | None, marks: Iterable[ScriptMark]) -> dict[str, Any]:
    """Append marks to the prompt script; a mark with the same (type, id) as an earlier one
    replaces it (a question's mark gains its answer's end)."""
    steps = list((script or {}).get("steps", []))
    for mark in marks:
        step = dict(mark.step)
        key = (step.get("type"), step.get("id"))
        for i, existing in enumerate(steps):
            if key[1] is not None and (existing.get("type"), existing.get("id")) == key:
                steps[i] = step
                break
        else:
            steps.append(step)
    return {"steps": steps}


def save_transition(db: Session, session_id: str, transition: Transition, now: float,
                    step_ids: Sequence[str]) -> list[str]:
    """Write a transition in the caller's transaction; returns the new timeline ids."""
    row = repo.get_session(db, session_id, lock=True)
    if row is None:
        raise KeyError(session_id)
    state: EngineState = transition.state
    effects = transition.effects
    ids = repo.append_flow(db, session_id, [e for e in effects if isinstance(e, FlowEntry)], now)
    for item in (e for e in effects if isinstance(e, EvidenceOut)):
        ids += repo.append_evidence(db, session_id, [item.evidence], now, item.step_id)
    marks = [e for e in effects if isinstance(e, ScriptMark)]
    if marks:
        row.prompt_script = merge_marks(row.prompt_script, marks)
    failures = [e for e in effects if isinstance(e, FailureCounted)]
    subjects = failure_subjects(row.application_id, row.device_key)
    for failure in failures:
        repo.record_failures(db, subjects, session_id, failure.step_id, failure.code, failure.at)
    row.engine_state = state.to_json()
    row.step_index = state.step_index
    row.step_id = step_ids[min(state.step_index, len(step_ids) - 1)]
    if row.state not in ("finished", "cancelled", "expired"):
        if state.status == RUNNING:
            row.state = "live"
            row.disconnected_at = None
        elif state.status == PAUSED:
            row.state = "interrupted"
            row.disconnected_at = state.disconnected_at
        elif state.status == FINISHED:
            row.end_reason = row.end_reason or state.finish_reason
    row.updated_at = now
    return ids
