"""The live driver against a real database: every transition is persisted, a new process
resumes the interview at the same step, and a restart's orphans are concluded in time."""

from __future__ import annotations

import asyncio
from pathlib import Path

from verification.types import Check, Evidence, Outcome, TimeWindow
from verification.workflow import repository as repo
from verification.workflow.driver import InterviewDriver
from verification.workflow.events import DeviceReport, GeoReport, Speech, Tap
from verification.workflow.recovery import Recovery

from .conftest import Clock, make_workflow, new_request


def _run(coro):  # noqa: ANN001, ANN202
    return asyncio.run(coro)


def test_a_restarted_process_resumes_the_interview_at_the_same_step(db_engine, tmp_path: Path):
    clock = Clock()
    workflow = make_workflow(db_engine, tmp_path, clock)
    session_id = workflow.create_session(new_request()).session_id

    async def first_process() -> list[dict]:
        driver = await InterviewDriver.open(workflow, session_id, resume_window_s=120)
        assert driver.context.id_photo is not None  # the ID photo reaches the analyzers
        messages = (await driver.joined(0.0)).messages
        clock.t += 1
        driver.post(DeviceReport(clock.t, True, True, "good", 1.0))
        driver.post(GeoReport(clock.t, True, 20.0, 1.0))
        messages += (await driver.step(1.0)).messages
        clock.t += 3
        driver.post(Tap(clock.t, "consent", "agree", 4.0))
        driver.post(Speech(clock.t, 4.2, 5.0, 5.0))
        messages += (await driver.step(5.2)).messages
        await driver.flush_evidence([Evidence(Check.FACE_PRESENCE, Outcome.SUPPORTS,
                                              TimeWindow(0.0, 5.0), "one face", code="one")])
        return messages  # ... and the process dies here (no disconnect, no goodbye)

    messages = _run(first_process())
    assert [m["step"] for m in messages] == ["device_check", "geolocation", "consent",
                                             "loan_terms"]
    assert "80,000" in messages[-1]["text"]["en"]  # the loan terms, as the lender sent them
    view = workflow.session_view(session_id)
    assert view["state"] == "live" and view["current_step"]["id"] == "loan_terms"

    restarted = make_workflow(db_engine, tmp_path, clock)
    Recovery(restarted, resume_window_s=120).after_restart()
    view = restarted.session_view(session_id)
    assert view["state"] == "interrupted" and view["current_step"]["id"] == "loan_terms"

    async def second_process() -> list[dict]:
        clock.t += 30
        driver = await InterviewDriver.open(restarted, session_id, resume_window_s=120)
        return (await driver.joined(40.0)).messages

    resumed = _run(second_process())
    assert [m["step"] for m in resumed] == ["loan_terms"]
    codes = [e["code"] for e in restarted.timeline(session_id)["events"]]
    assert codes.count("server_restarted") == 1 and "resumed" in codes
    assert "confirmed" in codes  # the consent given before the restart is kept
    assert any(e["kind"] == "evidence" for e in restarted.timeline(session_id)["events"])


def test_an_orphaned_interview_is_concluded_after_the_resume_window(db_engine, tmp_path: Path):
    clock = Clock()
    workflow = make_workflow(db_engine, tmp_path, clock)
    session_id = workflow.create_session(new_request()).session_id

    async def start() -> None:
        driver = await InterviewDriver.open(workflow, session_id, resume_window_s=120)
        await driver.joined(0.0)
        await driver.disconnected(2.0)

    _run(start())
    recovery = Recovery(workflow, resume_window_s=120)
    clock.t += 100
    recovery.sweep(lambda _id: False)
    assert workflow.session_view(session_id)["verdict"] is None  # still resumable
    clock.t += 30
    recovery.sweep(lambda _id: False)
    view = workflow.session_view(session_id)
    assert view["state"] == "finished" and view["end_reason"] == "abandoned"
    assert view["verdict"]["decision"] == "review"
    incomplete = next(r for r in view["verdict"]["reasons"]
                      if r["code"] == "interview_not_checked" or r["check"] == "interview")
    assert incomplete["evidence_ids"]
    assert view["deliveries"][0]["type"] == "verdict.created"
    with workflow.sessions() as db:
        assert repo.automatic_verdict(db, session_id) is not None


def test_unused_links_expire_with_an_event(sqlite_engine, tmp_path: Path):
    clock = Clock()
    workflow = make_workflow(sqlite_engine, tmp_path, clock)
    session_id = workflow.create_session(new_request()).session_id
    assert workflow.expire_links() == []
    clock.t += workflow.join_ttl_s + 1
    assert workflow.expire_links() == [session_id]
    view = workflow.session_view(session_id)
    assert view["state"] == "expired" and view["deliveries"][0]["type"] == "session.expired"
    assert workflow.expire_links() == []
