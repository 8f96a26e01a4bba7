"""Evidence export for supervisors (bundle contents, media digests, audit entry, 403 for the
other roles) and ``Cache-Control: no-store`` on every console answer that carries personal
data, on sessions made by the real workflow from a real clip."""

from __future__ import annotations

import hashlib
import json

from verification.protect.audit import AuditLog

from .conftest import browser, make_concluded
from .test_access_matrix import EXPECTED, UNKNOWN_ID, concrete
from .test_console_api import ONE_FACE


def _export(client, session_id: str):  # noqa: ANN001, ANN202
    return client.get(f"/console/api/sessions/{session_id}/export")


def test_a_supervisor_exports_the_evidence_bundle_and_the_export_is_audited(console, interviews):
    session_id = interviews["first"]
    sam, _ = browser(console, "sam")
    assert sam.get(f"/console/api/sessions/{session_id}").status_code == 200  # a view to trail
    response = _export(sam, session_id)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="evidence-{session_id}.json"')
    assert response.headers["cache-control"] == "no-store"
    bundle = response.json()
    assert bundle["format"] == "verification-evidence-export/1"
    assert bundle["exported_by"] == {"username": "sam", "role": "supervisor"}
    assert bundle["session"]["id"] == session_id
    assert bundle["session"]["application_id"] == "APP-CONSOLE-1"
    assert bundle["session"]["applicant_name_masked"] == "W*** F***"
    assert "Wang Fang" not in response.text
    assert "/9j/" not in response.text  # no JPEG (base64) inside: media stays in the vault
    assert [v["kind"] for v in bundle["verdicts"]][0] == "automatic"
    assert bundle["verdicts"][0]["decision"] == "review" and bundle["verdicts"][0]["body"]
    assert bundle["reasons"] and bundle["timeline"]
    codes = {e["code"] for e in bundle["evidence"]}
    assert "reference_frame" in codes and len(bundle["evidence"]) >= len(bundle["timeline"])
    assert all(set(r["evidence_ids"]) <= {e["entry_id"] for e in bundle["evidence"]}
               for r in bundle["reasons"])

    media = {m["kind"]: m for m in bundle["media"]}
    assert {"recording", "id_photo", "reference_frame"} <= media.keys()
    vault = console.core.vault
    for kind in ("recording", "id_photo", "reference_frame"):
        plain = vault.read_media(session_id, kind)
        assert media[kind]["sha256"] == hashlib.sha256(plain).hexdigest()
        assert media[kind]["size"] == len(plain)
    assert media["recording"]["content_type"].startswith("video/")
    assert media["id_photo"]["content_type"] == "image/jpeg"
    assert len(response.content) < media["recording"]["size"]  # digests, not the media

    trail = bundle["audit"]["entries"]
    assert trail and all(e["target"] in (f"session:{session_id}", session_id) for e in trail)
    assert any(e["action"] == "session.view" and e["actor"] == "sam" for e in trail)
    assert [e["seq"] for e in trail] == sorted(e["seq"] for e in trail)
    log = AuditLog.for_data_dir(console.data_dir)
    assert bundle["audit"]["log_head_seq"] >= trail[-1]["seq"]
    by_seq = {e.seq: e for e in log.entries()}
    assert all(by_seq[e["seq"]].hash == e["hash"] for e in trail)  # checkable against the log

    export = log.tail(1)[0]
    assert export.action == "evidence.export" and export.actor == "sam"
    assert export.role == "supervisor" and export.target == f"session:{session_id}"
    assert export.details["sha256"] == hashlib.sha256(response.content).hexdigest()
    assert export.details["media_objects"] == len(bundle["media"])
    assert log.verify().ok


def test_the_bundle_carries_overrides_notes_and_decisions(console):
    session_id = make_concluded(console, "APP-CONSOLE-EXPORT", [ONE_FACE])
    rita, rita_h = browser(console, "rita")
    base = f"/console/api/sessions/{session_id}"
    assert rita.post(f"{base}/notes", json={"text": "voice matches"},
                     headers=rita_h).status_code == 201
    assert rita.post(f"{base}/decision", json={"decision": "approve", "note": "fine"},
                     headers=rita_h).status_code == 200
    sam, _ = browser(console, "sam")
    bundle = json.loads(_export(sam, session_id).content)
    assert [v["kind"] for v in bundle["verdicts"]] == ["automatic", "override"]
    assert bundle["verdicts"][1]["decision"] == "pass"
    assert bundle["current_decision"] == "pass"
    assert bundle["decisions"][-1]["author"] == "rita"
    assert bundle["decisions"][-1]["note"] == "fine"
    assert [n["text"] for n in bundle["notes"]] == ["voice matches"]
    assert bundle["media"] and {m["kind"] for m in bundle["media"]} == {"id_photo"}
    actions = [e["action"] for e in bundle["audit"]["entries"]]
    assert "note.add" in actions and "session.decide" in actions


def test_only_supervisors_may_export(console, interviews):
    for user in ("rita", "ada"):
        client, _ = browser(console, user)
        refused = _export(client, interviews["first"])
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    nobody, _ = browser(console)
    assert _export(nobody, interviews["first"]).status_code == 401
    sam, _ = browser(console, "sam")
    assert _export(sam, UNKNOWN_ID).status_code == 404
    exports = [e for e in AuditLog.for_data_dir(console.data_dir).entries()
               if e.action == "evidence.export"]
    assert all(e.actor == "sam" for e in exports)


def test_console_answers_with_personal_data_are_never_stored(console, interviews):
    """Session JSON, media (whole and ranges), the export, the queue, live lists, pages and
    error answers all say ``no-store``; only the console's scripts and styles may be cached."""
    session_id = interviews["second"]
    sam, _ = browser(console, "sam")
    base = f"/console/api/sessions/{session_id}"
    answers = {
        "session": sam.get(base), "recording": sam.get(f"{base}/recording"),
        "recording range": sam.get(f"{base}/recording", headers={"Range": "bytes=0-99"}),
        "id photo": sam.get(f"{base}/id-photo"), "face": sam.get(f"{base}/reference-frame"),
        "export": _export(sam, session_id), "queue": sam.get("/console/api/queue"),
        "live": sam.get("/console/api/live"), "me": sam.get("/console/api/me"),
        "page": sam.get(f"/console/sessions/{session_id}"),
        "unknown session": sam.get(f"/console/api/sessions/{UNKNOWN_ID}"),
        "signed out": browser(console)[0].get(base),
    }
    for (method, path), _rule in EXPECTED.items():  # every console and loan-API GET route
        if method == "GET" and path.startswith(("/console", "/v1/")) and "static" not in path:
            answers[path] = sam.get(concrete(path))
    for what, response in answers.items():
        assert response.headers.get("cache-control") == "no-store", (what, response.headers)
    assert answers["session"].status_code == 200 and answers["recording range"].status_code == 206
    script = sam.get("/console/static/console.js")
    assert script.status_code == 200 and script.headers["cache-control"] == "no-cache"
