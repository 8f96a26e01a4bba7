"""The database: migrations, the verdict + outbox transaction, leases, ids (SQLite and
PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from verification.store.migrate import current_revision, head_revision, upgrade_database
from verification.store.schema import Base
from verification.types import Check, Evidence, Outcome, TimeWindow
from verification.workflow import repository as repo
from verification.workflow.conclude import conclude

from .conftest import Clock, make_workflow, new_request


def test_migrations_reach_head_and_match_the_models(db_engine):
    assert current_revision(db_engine) == head_revision()
    assert upgrade_database(db_engine) == head_revision()  # idempotent
    with db_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
    assert diff == []


def _evidence(check: Check, outcome: Outcome, code: str, t: float) -> Evidence:
    return Evidence(check, outcome, TimeWindow(t, t + 1.0), f"{check.value} {outcome.value}",
                    score=0.9, code=code)


def test_verdict_session_and_outbox_commit_together_and_only_once(db_engine, tmp_path: Path):
    clock = Clock()
    woken = []
    workflow = make_workflow(db_engine, tmp_path, clock, lambda: woken.append(1))
    created = workflow.create_session(new_request())
    with workflow.sessions.begin() as db:
        ids = repo.append_evidence(db, created.session_id, [
            _evidence(Check.FACE_PRESENCE, Outcome.SUPPORTS, "face_presence_summary", 1.0),
            _evidence(Check.FACE_PRESENCE, Outcome.CONTRADICTS, "multiple_faces", 12.0)],
            clock())
    assert ids == ["ev-1", "ev-2"]
    # a failure after the verdict was computed leaves nothing behind
    with pytest.raises(RuntimeError), workflow.sessions.begin() as db:
        conclude(db, created.session_id, workflow.catalog, "completed", clock())
        raise RuntimeError("crash before commit")
    with workflow.sessions() as db:
        assert repo.automatic_verdict(db, created.session_id) is None
        assert repo.session_events(db, created.session_id) == []
    first = workflow.conclude(created.session_id, "completed")
    again = workflow.conclude(created.session_id, "completed")
    assert first.created and not again.created and again.event_id == first.event_id
    assert first.decision == "reject" and woken == [1]
    view = workflow.session_view(created.session_id)
    assert view["state"] == "finished" and view["verdict"]["decision"] == "reject"
    gate = next(r for r in view["verdict"]["reasons"] if r["code"] == "multiple_faces")
    assert gate["evidence_ids"] == ["ev-2"] and gate["windows"] == [{"start": 12.0, "end": 13.0}]
    assert [d["status"] for d in view["deliveries"]] == ["pending"]
    page = workflow.verdicts_since(None)
    assert [v["session_id"] for v in page["verdicts"]] == [created.session_id]
    assert workflow.verdicts_since(page["next_cursor"])["verdicts"] == []


def test_an_event_is_leased_to_one_worker_at_a_time(db_engine, tmp_path: Path):
    clock = Clock()
    workflow = make_workflow(db_engine, tmp_path, clock)
    created = workflow.create_session(new_request())
    result = workflow.conclude(created.session_id, "completed")
    now = clock()
    with workflow.sessions.begin() as db:
        assert repo.due_event_ids(db, now, 10) == [result.event_id]
        assert repo.claim_event(db, result.event_id, now, 30.0, "worker-a")
    with workflow.sessions.begin() as db:
        assert not repo.claim_event(db, result.event_id, now + 1, 30.0, "worker-b")
        assert repo.due_event_ids(db, now + 1, 10) == []
    with workflow.sessions.begin() as db:  # the lease of a killed worker runs out
        assert repo.claim_event(db, result.event_id, now + 31, 30.0, "worker-b")


def test_evidence_ids_stay_unique_across_restarts(db_engine, tmp_path: Path):
    clock = Clock()
    workflow = make_workflow(db_engine, tmp_path, clock)
    created = workflow.create_session(new_request())
    item = _evidence(Check.VOICEPRINT, Outcome.SUPPORTS, "voice", 3.0)
    with workflow.sessions.begin() as db:
        first = repo.append_evidence(db, created.session_id, [item, item], clock())
    restarted = make_workflow(db_engine, tmp_path, clock)  # a new process, same database
    with restarted.sessions.begin() as db:
        second = repo.append_evidence(db, created.session_id, [item], clock())
    assert first == ["ev-1", "ev-2"] and second == ["ev-3"]
    timeline = restarted.timeline(created.session_id)
    assert [e["id"] for e in timeline["events"]] == ["ev-1", "ev-2", "ev-3"]


def test_evidence_with_a_step_described_as_a_dict_is_stored(db_engine, tmp_path: Path):
    """The expression cue describes the step a cue fell in as a dict (index, type, title); a
    live interview's verdict once failed on it ("type 'dict' is not supported")."""
    clock = Clock()
    workflow = make_workflow(db_engine, tmp_path, clock)
    created = workflow.create_session(new_request())
    step = {"index": 0, "type": "recording", "title": "the recording", "kind": "answer"}
    cue = Evidence(Check.MICRO_EXPRESSION, Outcome.INCONCLUSIVE, TimeWindow(3.1, 3.2),
                   "brief nose wrinkle (advisory cue)", code="micro_expression",
                   details={"step": step})
    named = Evidence(Check.VOICEPRINT, Outcome.SUPPORTS, TimeWindow(0.0, 3.0), "voice",
                     details={"step": "question_1"})
    with workflow.sessions.begin() as db:
        ids = repo.append_evidence(db, created.session_id, [cue, named], clock())
    events = {e["id"]: e for e in workflow.timeline(created.session_id)["events"]}
    assert events[ids[0]]["step"] is None
    assert events[ids[0]]["details"]["step"] == step  # the description is kept in the payload
    assert events[ids[1]]["step"] == "question_1"


def test_failures_count_once_per_attempt_across_subjects(db_engine):
    sessions = repo.session_factory(db_engine)
    with sessions.begin() as db:
        repo.record_failures(db, ["applicant:a", "device:d"], "s1", "liveness", "x", 100.0)
        repo.record_failures(db, ["device:d"], "s2", "liveness", "x", 150.0)
        repo.record_failures(db, ["applicant:a"], "s3", "digits", "x", 10.0)
    with sessions() as db:
        assert repo.failure_times(db, ["applicant:a", "device:d"], 50.0) == [100.0, 150.0]
        assert repo.failure_times(db, ["device:other"], 0.0) == []
