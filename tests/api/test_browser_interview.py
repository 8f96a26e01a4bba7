"""A whole scripted interview in headless Chromium against ``verification serve``.

Chromium's fake camera and microphone play a looping GRID clip (a real person, real speech)
into the applicant page; the page taps through the confirmations; the server runs the script
(device check, location, consent, face, random head-movement challenges, digits, a question),
concludes with the product's policy and POSTs a signed verdict to a webhook receiver on
loopback. A looping clip cannot perform challenges it never saw: the face stage reports each
head-movement challenge as failed when its window closes, the script asks a *different* one,
and after the step's retries the interview ends early (``challenges_failed``) with a signed
``reject`` whose reason names the evidence. The applicant's page only ever shows "submitted".
A second test reloads the page in the middle of a step: the interview resumes at that step.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import av
import cv2
import httpx
import pytest

from signaling.testmedia import make_fake_capture
from tests.integration.browser_support import (
    CHROMIUM,
    CLIP,
    chromium_args,
    chromium_missing_reason,
    running_server,
)

from .webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(chromium_missing_reason() is not None,
                                 reason=chromium_missing_reason() or "")]

KEY = "browser-key"
SECRET = "whsec-browser"
WORKFLOW = Path(__file__).resolve().parents[1] / "data" / "workflow"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> tuple[Path, Path]:
    return make_fake_capture(CLIP, tmp_path_factory.mktemp("capture"), seconds=6.0,
                             width=320, height=240)


@pytest.fixture(scope="module")
def id_photo(tmp_path_factory) -> Path:
    """A frame of the same person (the GRID speaker) as the ID photo."""
    with av.open(str(CLIP)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == 10:
                image = frame.to_ndarray(format="bgr24")
                break
    path = tmp_path_factory.mktemp("id") / "id.jpg"
    cv2.imwrite(str(path), image)
    return path


@pytest.fixture(scope="module")
def receiver():
    with WebhookReceiver(SECRET) as r:
        yield r


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("server") / "data", api_key=KEY,
                        webhook_secret=SECRET, workflow_dir=WORKFLOW, media_timeout_s=10,
                        reconnect_grace_s=60) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser(capture):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=chromium_args(*capture))
        yield browser
        browser.close()


def _create(server, id_photo: Path, receiver: WebhookReceiver, application_id: str) -> dict:
    fields = {"application_id": application_id, "applicant_name": "GRID speaker",
              "loan_product": "quick", "locale": "en", "callback_url": receiver.url,
              "declared_business": json.dumps({"type": "grocery", "address": "1 Test Road",
                                               "coordinates": {"lat": 31.2304,
                                                               "lon": 121.4737}})}
    response = httpx.post(f"{server.url}/v1/sessions", data=fields, headers=AUTH, timeout=30,
                          files={"id_photo": ("id.jpg", id_photo.read_bytes(), "image/jpeg")})
    assert response.status_code == 201, response.text
    return response.json()


def _open(browser, server, created: dict):  # noqa: ANN202
    context = browser.new_context(permissions=["geolocation"],
                                  geolocation={"latitude": 31.2304, "longitude": 121.4737,
                                               "accuracy": 30})
    page = context.new_page()
    page.goto(created["join_url"].replace("http://127.0.0.1:8000", server.url)
              + "")
    page.check("#consent")
    page.click("#start")
    return context, page


def _tap_through(page, until: str, timeout_s: float = 120.0) -> None:
    """Tap "agree" whenever the page offers it, until the JS condition holds."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(until):
        assert time.monotonic() < deadline, page.evaluate("window.__interview")
        if page.is_visible("#agree"):
            page.click("#agree")
        page.wait_for_timeout(250)


def _session(server, session_id: str) -> dict:
    return httpx.get(f"{server.url}/v1/sessions/{session_id}", headers=AUTH, timeout=10).json()


def _log_tail(server, lines: int = 60) -> str:
    return "\n".join(server.log().splitlines()[-lines:])


def _wait_verdict(server, session_id: str, timeout_s: float = 150.0) -> dict:
    """The session once its verdict exists. The verdict comes after every analyzer's summary
    (voice anti-spoofing may take up to 30 s on its low-priority thread when the machine is
    busy), so a loaded CI machine gets a generous wait; a miss says how far the session got."""
    deadline = time.monotonic() + timeout_s
    while True:
        view = _session(server, session_id)
        if view["verdict"] is not None:
            return view
        if time.monotonic() > deadline:
            pytest.fail(f"no verdict after {timeout_s:.0f} s: state {view['state']}, end reason "
                        f"{view['end_reason']}; server log tail:\n{_log_tail(server)}")
        time.sleep(0.5)


def test_scripted_interview_ends_with_a_signed_verdict_that_fits_the_media(
        server, browser, receiver, id_photo):
    created = _create(server, id_photo, receiver, "BROWSER-1")
    context, page = _open(browser, server, created)
    _tap_through(page, "window.__interview.done === true")
    state = page.evaluate("window.__interview")
    context.close()
    assert state["taps"] == ["consent:agree"], state
    assert state["prompts"][:3] == ["device_check", "geolocation", "consent"], state
    # the challenges failed beyond their retries: the interview ended before the questions
    assert "liveness" in state["prompts"] and "questions" not in state["prompts"], state

    view = _wait_verdict(server, created["session_id"])
    assert view["state"] == "finished" and view["end_reason"] == "challenges_failed", view
    # Delivery normally takes well under a second (benchmarks/bench_delivery.py); the generous
    # wait only absorbs a loaded CI machine, and a miss reports what the receiver and the
    # server's delivery state saw.
    deadline = time.monotonic() + 45
    while not receiver.effective and time.monotonic() < deadline:
        time.sleep(0.2)
    if not receiver.effective:
        deliveries = _session(server, created["session_id"]).get("deliveries")
        attempts = [(r["event_id"], r["valid"]) for r in receiver.requests]
        pytest.fail(f"no verified webhook: receiver saw {attempts}; deliveries {deliveries}; "
                    f"server log tail:\n{_log_tail(server)}")
    event = next(iter(receiver.effective.values()))  # signature verified by the receiver
    assert event["type"] == "verdict.created"
    verdict = event["data"]["verdict"]
    assert event["data"]["session_id"] == created["session_id"]
    # the looping clip shows the right person talking, but it turns its head on no prompt
    assert verdict["decision"] == "reject", verdict
    assert "challenge_failed" in [r["code"] for r in verdict["reasons"]], verdict
    liveness = verdict["checks"]["face_liveness"]
    assert liveness["status"] != "supported", liveness
    timeline = httpx.get(f"{server.url}/v1/sessions/{created['session_id']}/events",
                         headers=AUTH, params={"limit": 500}, timeout=10).json()["events"]
    ids = {e["id"] for e in timeline}
    for reason in verdict["reasons"]:  # every reason points into the timeline
        assert set(reason["evidence_ids"]) <= ids, reason
    codes = [e["code"] for e in timeline]
    assert "confirmed" in codes and codes.count("challenge_issued") >= 2
    failed = [e for e in timeline if e["code"] == "challenge_failed_attempt"]
    issued = [e["details"]["action"] for e in timeline if e["code"] == "challenge_issued"]
    assert failed, codes  # judged live, within the step, not only at the end
    first_failed = issued.index(failed[0]["details"]["action"])
    assert issued[first_failed + 1] != issued[first_failed], issued  # a new challenge
    gate = next(r for r in verdict["reasons"] if r["code"] == "challenge_failed")
    assert set(gate["evidence_ids"]) <= ids
    finished = next(e for e in timeline if e["code"] == "interview_finished")
    delay = receiver.received_at[event["id"]] - datetime.fromisoformat(
        finished["recorded_at"].replace("Z", "+00:00")).timestamp()
    print(f"last step -> verdict at the receiver: {delay * 1000:.0f} ms")  # reported, not gated
    checks = {e["check"] for e in timeline if e["kind"] == "evidence"}
    assert {"face_liveness", "interview"} <= checks, (checks, verdict)
    deadline = time.monotonic() + 10  # the receiver answered; the server records it
    while _session(server, created["session_id"])["deliveries"][0]["status"] != "delivered":
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_page_reload_mid_step_resumes_at_the_same_step(server, browser, receiver, id_photo):
    created = _create(server, id_photo, receiver, "BROWSER-2")
    context, page = _open(browser, server, created)
    # the liveness step lasts ~10 s (two challenges): cut the connection in the middle of it
    _tap_through(page, "window.__interview.prompts.indexOf('liveness') >= 0", 60)
    before = _session(server, created["session_id"])["current_step"]["id"]
    assert before == "liveness"
    page.reload()  # the connection is cut; the page keeps its resume key and reconnects
    page.check("#consent")
    page.click("#start")
    # polled with evaluate: the page's CSP (script-src 'self') forbids wait_for_function's eval
    deadline = time.monotonic() + 30
    while not page.evaluate("window.__interview.prompts.length >= 1"):
        assert time.monotonic() < deadline, page.evaluate("window.__interview")
        page.wait_for_timeout(250)
    resumed = page.evaluate("window.__interview.prompts")[0]
    view = _session(server, created["session_id"])
    assert resumed == before or view["current_step"]["id"] == before, (before, resumed, view)
    _tap_through(page, "window.__interview.done === true")
    context.close()
    view = _wait_verdict(server, created["session_id"])
    # the resumed liveness step judges the looping clip live: it ends early unless a head
    # movement happens to fall inside a window
    assert view["connections"] >= 2, view
    assert view["end_reason"] in ("challenges_failed", "completed"), view
    timeline = httpx.get(f"{server.url}/v1/sessions/{created['session_id']}/events",
                         headers=AUTH, timeout=10).json()["events"]
    resumed_entries = [e for e in timeline if e["code"] == "resumed"]
    assert resumed_entries and resumed_entries[0]["step"] == before
