"""The loan-system API: creating sessions, validation codes, reading, cancelling, polling."""

from __future__ import annotations

import json

from .conftest import AUTH, DATA, form, photo


def test_create_read_cancel_and_the_join_link(api):
    response = api.post("/v1/sessions", data=form(), files=photo(), headers=AUTH)
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == {"session_id", "join_url", "expires_at", "warnings"}
    token = created["join_url"].split("#", 1)[1]
    assert created["join_url"].startswith("http") and len(token) >= 24
    assert created["expires_at"].endswith("Z")
    # the token opens this session (and only this one) on the applicant side
    info = api.post("/v1/rtc/session", json={"token": token})
    assert info.status_code == 200 and info.json()["session"] == created["session_id"]
    assert api.post("/v1/rtc/session", json={"token": token + "x"}).status_code == 404
    view = api.get(f"/v1/sessions/{created['session_id']}", headers=AUTH).json()
    assert view["state"] == "created" and view["script"] == "default@2"
    assert view["current_step"] == {"index": 0, "id": "device_check", "kind": "device_check",
                                    "attempt": 1}
    assert view["verdict"] is None and view["deliveries"] == []
    assert view["declared_business"]["coordinates"] == {"lat": 31.25, "lon": 121.61}
    timeline = api.get(f"/v1/sessions/{created['session_id']}/events", headers=AUTH).json()
    assert timeline["events"] == []
    cancelled = api.post(f"/v1/sessions/{created['session_id']}/cancel", headers=AUTH)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["deliveries"][0]["type"] == "session.cancelled"
    again = api.post(f"/v1/sessions/{created['session_id']}/cancel", headers=AUTH)
    assert again.status_code == 409 and again.json()["code"] == "session_closed"
    # a cancelled session's link no longer opens
    assert api.post("/v1/rtc/session", json={"token": token}).status_code == 409


def test_validation_errors_carry_machine_readable_codes(api):
    scene = DATA / "faces" / "scene_office_desk.jpg"
    cases = {
        "id_photo_no_face": (form(), photo(scene)),
        "id_photo_unreadable": (form(), {"id_photo": ("id.jpg", b"\xff\xd8 not a jpeg",
                                                      "image/jpeg")}),
        "callback_url_invalid": (form(callback_url="ftp://loans.example.com/x"), photo()),
        "declared_business_invalid": (form(declared_business='{"type": "shop"}'), photo()),
        "loan_product_unknown": (form(loan_product="yacht_loan"), photo()),
        "locale_unsupported": (form(locale="fr"), photo()),
        "loan_terms_missing": (form(loan_terms=None), photo()),
        "loan_terms_invalid": (form(loan_terms=json.dumps({"amount": -1})), photo()),
        "application_id_invalid": (form(application_id="   "), photo()),
        "voiceprint_unreadable": (form(), {**photo(), "voiceprint": ("v.wav", b"RIFF junk",
                                                                     "audio/wav")}),
    }
    for code, (fields, files) in cases.items():
        response = api.post("/v1/sessions", data=fields, files=files, headers=AUTH)
        assert response.status_code == 422, (code, response.text)
        assert response.json()["code"] == code, (code, response.json())
        assert "Traceback" not in response.text
    missing = api.post("/v1/sessions", data=form(), headers=AUTH)  # no id_photo at all
    assert missing.status_code == 400 and missing.json()["code"] == "invalid_request"


def test_express_product_needs_no_loan_terms_and_accepts_a_voiceprint(api):
    voice = DATA / "speech" / "1688-142285-0002.flac"
    response = api.post("/v1/sessions", data=form(loan_product="express", loan_terms=None),
                        files={**photo(), "voiceprint": (voice.name, voice.read_bytes(),
                                                         "audio/flac")}, headers=AUTH)
    assert response.status_code == 201, response.text
    view = api.get(f"/v1/sessions/{response.json()['session_id']}", headers=AUTH).json()
    assert view["script"] == "express@2" and view["steps_total"] == 7


def test_authentication_and_unknown_sessions(api):
    assert api.post("/v1/sessions", data=form(), files=photo()).status_code == 401
    wrong = api.get("/v1/sessions/abc", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "unauthorized"
    for path in ("/v1/sessions/abc", "/v1/sessions/abc/events"):
        response = api.get(path, headers=AUTH)
        assert response.status_code == 404 and response.json()["code"] == "session_not_found"
    bad = api.get("/v1/verdicts", params={"since": "yesterday"}, headers=AUTH)
    assert bad.status_code == 400 and bad.json()["code"] == "cursor_invalid"
    page = api.get("/v1/verdicts", headers=AUTH).json()
    assert page == {"verdicts": [], "next_cursor": "0"}


def test_openapi_documents_the_loan_api(api):
    spec = api.get("/openapi.json").json()
    post = spec["paths"]["/v1/sessions"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert {"201", "401", "422"} <= set(post["responses"])
    for path in ("/v1/sessions/{session_id}", "/v1/sessions/{session_id}/events",
                 "/v1/sessions/{session_id}/cancel", "/v1/verdicts"):
        assert path in spec["paths"]
