"""The reviewer console API on sessions made by the real workflow from a real clip: login and
CSRF, the queue, claims, the session view, media with range requests, decisions through the
outbox, the four-eyes rule, and the audit trail of all of it."""

from __future__ import annotations

import time

from sqlalchemy import select

from signaling.console.services import services
from verification.geo.distance import haversine_m
from verification.protect.audit import AuditLog
from verification.store.schema import OutboxEventRow, VerdictRow
from verification.types import Check, Evidence, Outcome, TimeWindow

from .conftest import API_AUTH, DECLARED, GPS, PASSWORD, browser, make_concluded

KINDS = {"step", "challenge", "face_match", "identity", "second_face", "second_voice",
         "lip_sync", "expression", "background", "location", "digits", "consent", "other"}
MISMATCH = Evidence(Check.FACE_MATCH, Outcome.CONTRADICTS, TimeWindow(1.0, 2.5),
                    "the face does not match the ID photo", score=0.1, code="face_mismatch")
ONE_FACE = Evidence(Check.FACE_PRESENCE, Outcome.SUPPORTS, TimeWindow(0.0, 3.0), "one face",
                    code="one")


def test_login_sets_strict_cookies_and_logout_needs_the_csrf_token(console):
    client, _ = browser(console)
    wrong = client.post("/console/api/login", json={"username": "rita", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    assert "vs_session" not in client.cookies
    ok = client.post("/console/api/login", json={"username": "Rita", "password": PASSWORD})
    assert ok.status_code == 200
    body = ok.json()
    assert body["username"] == "rita" and body["role"] == "reviewer" and body["csrf"]
    cookies = {c.split("=", 1)[0]: c.lower() for c in ok.headers.get_list("set-cookie")}
    assert "httponly" in cookies["vs_session"] and "samesite=strict" in cookies["vs_session"]
    assert "httponly" not in cookies["vs_csrf"] and "samesite=strict" in cookies["vs_csrf"]
    assert client.cookies["vs_csrf"] == body["csrf"]
    assert client.get("/console/api/me").json() == body
    refused = client.post("/console/api/logout")
    assert refused.status_code == 403 and refused.json()["code"] == "csrf"
    assert client.post("/console/api/logout",
                       headers={"X-CSRF-Token": body["csrf"]}).status_code == 204
    gone = client.get("/console/api/me")
    assert gone.status_code == 401 and gone.json()["code"] == "not_authenticated"


def test_repeated_failures_lock_the_username_out(console):
    client, _ = browser(console)
    for _ in range(5):
        assert client.post("/console/api/login", json={"username": "mallory",
                                                       "password": "guess-1234567"}
                           ).status_code == 401
    locked = client.post("/console/api/login", json={"username": "mallory",
                                                     "password": "guess-1234567"})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0


def test_idle_sessions_expire(console):
    client, _ = browser(console, "rob")
    svc = services(client)
    real = svc.clock
    try:
        svc.clock = lambda: real() + 31 * 60
        expired = client.get("/console/api/me")
        assert expired.status_code == 401 and expired.json()["code"] == "not_authenticated"
    finally:
        svc.clock = real
    assert client.get("/console/api/me").status_code == 401  # the row is gone for good


def test_unsafe_requests_need_a_matching_csrf_token(console, interviews):
    session_id = interviews["first"]
    client, headers = browser(console, "rita")
    url = f"/console/api/sessions/{session_id}/notes"
    missing = client.post(url, json={"text": "looks fine"})
    assert missing.status_code == 403 and missing.json()["code"] == "csrf"
    forged = client.post(url, json={"text": "looks fine"}, headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 403 and forged.json()["code"] == "csrf"
    blank = client.post(url, json={"text": "   "}, headers=headers)
    assert blank.status_code == 400
    made = client.post(url, json={"text": "ID photo is older; same person"}, headers=headers)
    assert made.status_code == 201 and made.json()["author"] == "rita"
    notes = client.get(f"/console/api/sessions/{session_id}").json()["notes"]
    assert [n["text"] for n in notes][-1] == "ID photo is older; same person"


def test_api_keys_and_join_tokens_never_open_the_console(console):
    client, _ = browser(console)
    for headers in (API_AUTH, {"Authorization": "Bearer some-join-token"}):
        response = client.get("/console/api/queue", headers=headers)
        assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


def test_queue_lists_review_verdicts_by_risk_with_filters(console, interviews):
    client, _ = browser(console, "rita")
    rejected = make_concluded(console, "APP-CONSOLE-REJECT-Q", [ONE_FACE, MISMATCH])
    items = client.get("/console/api/queue").json()["items"]
    ids = [i["session_id"] for i in items]
    assert interviews["first"] in ids and interviews["second"] in ids
    assert rejected not in ids  # automatic reject, not sampled (rate 0)
    assert [i["risk"] for i in items] == sorted((i["risk"] for i in items), reverse=True)
    first = next(i for i in items if i["session_id"] == interviews["first"])
    assert first["decision"] == "review" and 0 < first["risk"] <= 1 and first["reasons"]
    assert first["waiting_s"] >= 0 and first["sampled"] is False
    assert first["application_id"] == "APP-CONSOLE-1" and first["product"] == "default"

    express = client.get("/console/api/queue", params={"product": "express"}).json()["items"]
    assert [i["session_id"] for i in express] == [interviews["second"]]
    second = next(i for i in items if i["session_id"] == interviews["second"])
    code = second["reasons"][0]
    by_reason = client.get("/console/api/queue", params={"reason": code}).json()["items"]
    assert interviews["second"] in [i["session_id"] for i in by_reason]
    assert all(code in i["reasons"] for i in by_reason)
    assert {i["session_id"] for i in items if code not in i["reasons"]}.isdisjoint(
        i["session_id"] for i in by_reason)
    assert client.get("/console/api/queue", params={"reason": "no_such_reason"}
                      ).json()["items"] == []

    settings = services(client).settings
    settings.review_sample_rate = 1.0
    try:
        sampled = client.get("/console/api/queue").json()["items"]
    finally:
        settings.review_sample_rate = 0.0
    audit = next(i for i in sampled if i["session_id"] == rejected)
    assert audit["sampled"] is True and audit["decision"] == "reject"
    assert audit["risk"] > first["risk"]  # a hard gate outranks inconclusive checks


def test_claims_keep_two_reviewers_apart(console, interviews):
    session_id = interviews["second"]
    rita, rita_h = browser(console, "rita")
    rob, rob_h = browser(console, "rob")
    sam, sam_h = browser(console, "sam")
    url = f"/console/api/sessions/{session_id}"
    assert rita.post(f"{url}/claim", headers=rita_h).json() == {"claimed_by": "rita"}
    assert rita.post(f"{url}/claim", headers=rita_h).status_code == 200  # idempotent
    taken = rob.post(f"{url}/claim", headers=rob_h)
    assert taken.status_code == 409 and taken.json()["code"] == "claimed"
    queued = {i["session_id"]: i for i in rob.get("/console/api/queue").json()["items"]}
    assert queued[session_id]["claimed_by"] == "rita"
    assert rob.post(f"{url}/release", headers=rob_h).status_code == 409
    assert rita.post(f"{url}/release", headers=rita_h).json() == {"claimed_by": None}
    assert rob.post(f"{url}/claim", headers=rob_h).json() == {"claimed_by": "rob"}
    assert sam.post(f"{url}/release", headers=sam_h).status_code == 200  # a supervisor may
    assert rob.get(url).json()["claimed_by"] is None
    missing = rob.post("/console/api/sessions/" + "0" * 32 + "/claim", headers=rob_h)
    assert missing.status_code == 404


def test_session_view_shows_the_evidence_on_the_recording_clock(console, interviews):
    client, _ = browser(console, "rita")
    view = client.get(f"/console/api/sessions/{interviews['second']}").json()
    session = view["session"]
    assert session["id"] == interviews["second"] and session["product"] == "express"
    assert session["application_id"] == "APP-CONSOLE-2" and session["state"] == "finished"
    assert session["applicant_name_masked"] == "L* L**"
    verdict = view["verdict"]
    assert verdict["decision"] == "review" and verdict["reasons"]
    for reason in verdict["reasons"]:
        assert reason["code"] and reason["message"] and reason["evidence_ids"]
        assert reason["t"] is not None and 0.0 <= reason["t"] <= reason["end_t"] <= 3.2
    timeline = view["timeline"]
    assert {item["kind"] for item in timeline} <= KINDS
    assert {"face_match", "location", "lip_sync", "step"} <= {i["kind"] for i in timeline}
    assert {item["outcome"] for item in timeline} <= {"pass", "fail", "flag", "info"}
    media = [i for i in timeline if i["t"] is not None]
    assert media and all(0.0 <= i["t"] <= i["end_t"] <= 3.2 for i in media)
    ids = {i["evidence_id"] for i in timeline}
    assert all(set(r["evidence_ids"]) <= ids for r in verdict["reasons"])
    # the face matches: the ID photo is a frame of the same clip
    assert len(view["face_match"]) >= 2 and view["match_score"] > 0.8
    assert all(0.0 <= p["t"] <= 3.2 and -1 <= p["score"] <= 1 for p in view["face_match"])
    location = view["location"]
    assert location["gps"]["lat"] == GPS["lat"] and location["declared"]["address"]
    expected = haversine_m(GPS["lat"], GPS["lon"], DECLARED["coordinates"]["lat"],
                           DECLARED["coordinates"]["lon"])
    assert abs(location["distances_m"]["gps_declared"] - expected) < 1.0
    assert location["distances_m"]["gps_ip"] is None  # no IP database in the tests
    related = {r["session_id"]: r["why"] for r in view["related"]}
    assert interviews["first"] in related and "GPS" in related[interviews["first"]]
    back = client.get(f"/console/api/sessions/{interviews['first']}").json()["related"]
    assert interviews["second"] in {r["session_id"] for r in back}
    base = f"/console/api/sessions/{interviews['second']}"
    assert view["recording_url"] == f"{base}/recording"
    assert view["id_photo_url"] == f"{base}/id-photo"
    assert view["reference_frame_url"] == f"{base}/reference-frame"
    unknown = client.get("/console/api/sessions/" + "0" * 32)
    assert unknown.status_code == 404


def test_recording_is_served_with_range_requests(console, interviews):
    client, _ = browser(console, "rita")
    session_id = interviews["first"]
    plain = console.core.vault.read_media(session_id, "recording")
    url = f"/console/api/sessions/{session_id}/recording"
    whole = client.get(url)
    assert whole.status_code == 200 and whole.content == plain
    assert whole.headers["content-type"] == "video/webm"
    assert whole.headers["accept-ranges"] == "bytes"
    assert plain[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM/Matroska file
    part = client.get(url, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == plain[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(plain)}"
    seek = client.get(url, headers={"Range": f"bytes={len(plain) - 5000}-"})
    assert seek.status_code == 206 and seek.content == plain[-5000:]
    tail = client.get(url, headers={"Range": "bytes=-64"})
    assert tail.status_code == 206 and tail.content == plain[-64:]
    beyond = client.get(url, headers={"Range": f"bytes={len(plain)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(plain)}"
    photo = client.get(f"/console/api/sessions/{session_id}/id-photo")
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    assert photo.content.startswith(b"\xff\xd8")
    face = client.get(f"/console/api/sessions/{session_id}/reference-frame",
                      headers={"Range": "bytes=0-1"})
    assert face.status_code == 206 and face.content == b"\xff\xd8"


def test_media_of_a_session_without_media_is_404(console):
    client, _ = browser(console, "rita")
    session_id = make_concluded(console, "APP-CONSOLE-NOMEDIA", [ONE_FACE])
    view = client.get(f"/console/api/sessions/{session_id}").json()
    assert view["recording_url"] is None and view["reference_frame_url"] is None
    missing = client.get(f"/console/api/sessions/{session_id}/recording")
    assert missing.status_code == 404 and missing.json()["code"] == "media_not_found"


def test_a_decision_reaches_the_outbox_as_verdict_updated(console):
    session_id = make_concluded(console, "APP-CONSOLE-DECIDE", [ONE_FACE])
    client, headers = browser(console, "rita")
    url = f"/console/api/sessions/{session_id}/decision"
    assert client.post(url, json={"decision": "approve", "note": " "},
                       headers=headers).status_code == 400
    assert client.post(url, json={"decision": "maybe", "note": "x"},
                       headers=headers).status_code == 400
    done = client.post(url, json={"decision": "approve", "note": "same person, good light"},
                       headers=headers)
    assert done.status_code == 200, done.text
    event_id = done.json()["event_id"]
    assert done.json()["decision"] == "approve"
    with console.core.workflow.sessions() as db:
        event = db.scalars(select(OutboxEventRow)
                           .where(OutboxEventRow.event_id == event_id)).one()
        override = db.scalars(select(VerdictRow).where(VerdictRow.event_id == event_id)).one()
    assert event.type == "verdict.updated" and event.session_id == session_id
    assert '"decision":"pass"' in event.body and "same person, good light" in event.body
    assert override.kind == "override" and override.body["reviewer"] == "rita"
    view = client.get(f"/console/api/sessions/{session_id}").json()
    assert view["current_decision"] == "pass"
    assert view["decisions"][-1]["author"] == "rita"
    assert view["decisions"][-1]["note"] == "same person, good light"
    queued = [i["session_id"] for i in client.get("/console/api/queue").json()["items"]]
    assert session_id not in queued
    loan = console.client.get(f"/v1/sessions/{session_id}", headers=API_AUTH).json()
    assert loan["verdict"]["decision"] == "pass" and loan["verdict"]["kind"] == "override"


def test_overturning_an_automatic_reject_needs_a_supervisor(console):
    session_id = make_concluded(console, "APP-CONSOLE-4EYES", [ONE_FACE, MISMATCH])
    rita, rita_h = browser(console, "rita")
    sam, sam_h = browser(console, "sam")
    ada, ada_h = browser(console, "ada")
    url = f"/console/api/sessions/{session_id}/decision"
    approve = {"decision": "approve", "note": "ID photo is 10 years old"}
    refused = rita.post(url, json=approve, headers=rita_h)
    assert refused.status_code == 403 and refused.json()["code"] == "four_eyes"
    admin = ada.post(url, json=approve, headers=ada_h)
    assert admin.status_code == 403 and admin.json()["code"] == "forbidden"
    assert sam.post(url, json=approve, headers=sam_h).status_code == 200
    other = make_concluded(console, "APP-CONSOLE-4EYES-2", [ONE_FACE, MISMATCH])
    agree = rita.post(f"/console/api/sessions/{other}/decision",
                      json={"decision": "reject", "note": "not the applicant"}, headers=rita_h)
    assert agree.status_code == 200  # upholding a reject is a reviewer's call


def test_a_claimed_session_is_decided_only_by_its_claimant(console):
    session_id = make_concluded(console, "APP-CONSOLE-CLAIMED", [ONE_FACE])
    rita, rita_h = browser(console, "rita")
    rob, rob_h = browser(console, "rob")
    assert rita.post(f"/console/api/sessions/{session_id}/claim",
                     headers=rita_h).status_code == 200
    blocked = rob.post(f"/console/api/sessions/{session_id}/decision",
                       json={"decision": "reject", "note": "no"}, headers=rob_h)
    assert blocked.status_code == 409 and blocked.json()["code"] == "claimed"
    assert rita.post(f"/console/api/sessions/{session_id}/decision",
                     json={"decision": "reject", "note": "no"}, headers=rita_h
                     ).status_code == 200
    assert rita.get(f"/console/api/sessions/{session_id}").json()["claimed_by"] is None


def test_audit_sample_is_drawn_from_ids_and_read_in_chunks(console, interviews, monkeypatch):
    """The sampled pass / reject verdicts are picked from their ids, then read whole in chunks:
    the same queue whatever the chunk size, and none of them when the rate is 0."""
    from signaling.console import queue as queue_module

    for application in ("APP-CONSOLE-REJECT-CHUNK-1", "APP-CONSOLE-REJECT-CHUNK-2"):
        make_concluded(console, application, [ONE_FACE, MISMATCH])
    svc = services(console.client)
    with svc.sessions() as db:
        now = svc.clock()
        whole = queue_module.build_queue(db, queue_module.QueueFilter(), now, 1.0)
        monkeypatch.setattr(queue_module, "ID_CHUNK", 1)
        chunked = queue_module.build_queue(db, queue_module.QueueFilter(), now, 1.0)
        unsampled = queue_module.build_queue(db, queue_module.QueueFilter(), now, 0.0)
    assert sum(item["sampled"] for item in whole) >= 2
    assert chunked == whole
    assert unsampled == [item for item in whole if not item["sampled"]]


def test_every_console_action_is_in_the_hash_chained_audit_log(console, interviews):
    started = time.time()
    client, headers = browser(console, "rob")
    session_id = interviews["first"]
    client.get("/console/api/queue")
    client.get(f"/console/api/sessions/{session_id}")
    client.get(f"/console/api/sessions/{session_id}/recording", headers={"Range": "bytes=0-9"})
    for piece in ("bytes=10-99", "bytes=100-"):  # the player filling its buffer: logged once
        client.get(f"/console/api/sessions/{session_id}/recording", headers={"Range": piece})
    client.get(f"/console/api/sessions/{session_id}/id-photo")
    client.post(f"/console/api/sessions/{session_id}/claim", headers=headers)
    client.post(f"/console/api/sessions/{session_id}/notes", json={"text": "checked"},
                headers=headers)
    client.post(f"/console/api/sessions/{session_id}/release", headers=headers)
    log = AuditLog.for_data_dir(console.data_dir)
    mine = [e for e in log.entries() if e.actor == "rob"]
    actions = [e.action for e in mine]
    for action in ("console.login", "queue.view", "session.view", "recording.play",
                   "session.view_id_photo", "session.claim", "note.add", "session.release"):
        assert action in actions, action
    plays = [e for e in mine if e.action == "recording.play"]
    assert len(plays) == 1
    assert plays[0].target == f"session:{session_id}" and plays[0].details["range"] == "bytes=0-9"
    assert all(e.role == "reviewer" for e in mine)
    decided = [e for e in log.entries() if e.action == "session.overturn_reject"]
    assert decided and decided[-1].actor == "sam"
    assert log.verify().ok
    assert started <= time.time()


def test_two_reviewers_deciding_at_once_make_one_verdict_and_a_409(console, monkeypatch):
    """Rob's decision lands between Rita's read of the session and her write: hers is refused
    (409 ``decided_meanwhile``) instead of becoming a second, silently later verdict."""
    session_id = make_concluded(console, "APP-CONSOLE-RACE", [ONE_FACE])
    workflow = console.core.workflow
    real_override = workflow.override

    def rob_decides_first(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        monkeypatch.setattr(workflow, "override", real_override)
        real_override(session_id, "reject", "rob", "not the applicant")
        return real_override(*args, **kwargs)

    monkeypatch.setattr(workflow, "override", rob_decides_first)
    rita, rita_h = browser(console, "rita")
    late = rita.post(f"/console/api/sessions/{session_id}/decision",
                     json={"decision": "approve", "note": "looks fine"}, headers=rita_h)
    assert late.status_code == 409 and late.json()["code"] == "decided_meanwhile"
    with workflow.sessions() as db:
        overrides = db.scalars(select(VerdictRow).where(VerdictRow.session_id == session_id,
                                                        VerdictRow.kind == "override")).all()
    assert [o.body["reviewer"] for o in overrides] == ["rob"]
    view = rita.get(f"/console/api/sessions/{session_id}").json()
    assert view["current_decision"] == "reject"


def test_two_decisions_racing_in_threads_make_one_verdict(console, monkeypatch):
    """Both deciders try to read the latest verdict at the same moment and then wait for each
    other (a barrier right after the read): one wins, the other is told the session was
    decided meanwhile, on SQLite (which ignores FOR UPDATE) as on PostgreSQL."""
    import threading

    import verification.workflow.conclude as conclude_module
    from verification.workflow import repository as repo
    from verification.workflow.conclude import StaleDecisionError

    session_id = make_concluded(console, "APP-CONSOLE-RACE-THREADS", [ONE_FACE])
    workflow = console.core.workflow
    with workflow.sessions() as db:
        automatic = repo.latest_verdict(db, session_id).id
    barrier = threading.Barrier(2, timeout=1.0)
    real_latest = repo.latest_verdict

    def latest_then_wait_for_the_other(db, sid):  # noqa: ANN001, ANN202
        latest = real_latest(db, sid)
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass  # the other decider is held at the lock: it reads after this one commits
        return latest

    monkeypatch.setattr(conclude_module.repo, "latest_verdict", latest_then_wait_for_the_other)
    outcomes: list[str] = []

    def decide(reviewer: str, decision: str) -> None:
        try:
            workflow.override(session_id, decision, reviewer, "racing", decided_on=automatic)
            outcomes.append("decided")
        except StaleDecisionError:
            outcomes.append("stale")

    threads = [threading.Thread(target=decide, args=("rita", "pass")),
               threading.Thread(target=decide, args=("rob", "reject"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["decided", "stale"]
    monkeypatch.undo()
    with workflow.sessions() as db:
        overrides = db.scalars(select(VerdictRow).where(VerdictRow.session_id == session_id,
                                                        VerdictRow.kind == "override")).all()
    assert len(overrides) == 1


def test_a_decision_from_a_stale_page_is_refused(console):
    """The page sends the verdict it shows; a decision recorded since then wins."""
    session_id = make_concluded(console, "APP-CONSOLE-STALE-PAGE", [ONE_FACE])
    rita, rita_h = browser(console, "rita")
    rob, rob_h = browser(console, "rob")
    url = f"/console/api/sessions/{session_id}/decision"
    shown = rita.get(f"/console/api/sessions/{session_id}").json()["current_verdict_id"]
    assert shown is not None
    assert rob.post(url, json={"decision": "reject", "note": "not him",
                               "verdict_id": shown}, headers=rob_h).status_code == 200
    stale = rita.post(url, json={"decision": "approve", "note": "fine",
                                 "verdict_id": shown}, headers=rita_h)
    assert stale.status_code == 409 and stale.json()["code"] == "decided_meanwhile"
    fresh = rita.get(f"/console/api/sessions/{session_id}").json()
    assert fresh["current_decision"] == "reject" and fresh["current_verdict_id"] != shown
    assert rita.post(url, json={"decision": "approve", "note": "seen rob's; still fine",
                                "verdict_id": fresh["current_verdict_id"]},
                     headers=rita_h).status_code == 200
