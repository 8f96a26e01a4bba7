"""The reviewer console in headless Chromium, on a session flagged by a real recorded interview.

What a real flagged session looks like: an applicant (the GRID speaker, Chromium's fake camera
and microphone playing the clip) starts a scripted interview with the loan-system API, gets
through the device check, location and consent, then closes the page during the face step and
never comes back. Past the resume window the server concludes the interview as ``abandoned``
from the evidence it has: normally a ``review`` verdict with reasons (incomplete interview,
checks without enough evidence, GPS 1.1 km from the declared shop), a passthrough recording and
the ID photo. No verdict is injected. On a heavily loaded machine Chromium's looping fake
camera can drift from its audio and the lip-sync hard gate may turn it into ``reject``; the
server audits every automatic verdict here (``REVIEW_SAMPLE_RATE=1``) so either verdict reaches
the queue, and the account is a supervisor, who may also overturn a ``reject`` (four eyes).

Then that account, made with ``verification users add``, signs in, finds the session in the
queue, opens it (click 1), plays the recording, seeks by a timeline marker and by a reason's
"go to moment", approves (click 2) with a note and confirms (click 3); the loan system's
webhook receiver gets a correctly signed ``verdict.updated`` carrying the override.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

import av
import httpx
import pytest

# fixtures browser, capture, receiver: conftest.py (the browser interview test's)
from tests.api.test_browser_interview import KEY, SECRET, WORKFLOW, _create, _tap_through
from tests.integration.browser_support import CLIP, chromium_missing_reason, running_server

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(chromium_missing_reason() is not None,
                                 reason=chromium_missing_reason() or "")]

REVIEWER = "sup.alice"
PASSWORD = "correct horse battery staple"
AUTH = {"Authorization": f"Bearer {KEY}"}
# The applicant's phone reports a fix ~1.1 km north of the declared shop (31.2304, 121.4737).
APPLICANT_FIX = {"latitude": 31.2404, "longitude": 121.4737, "accuracy": 30}
SEEK_TOLERANCE_S = 0.01


@pytest.fixture(scope="module")
def id_photo(tmp_path_factory) -> Path:
    """The ID photo: a still of the same speaker, as a lender would have from the ID card."""
    path = tmp_path_factory.mktemp("id") / "id.jpg"
    with av.open(str(CLIP)) as container:
        frame = next(itertools.islice(container.decode(video=0), 12, None))
        frame.to_image().save(path, quality=92)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("console") / "data", api_key=KEY,
                        webhook_secret=SECRET, workflow_dir=WORKFLOW, media_timeout_s=10,
                        reconnect_grace_s=2, review_sample_rate=1) as srv:
        yield srv


def _add_console_account(server) -> None:
    """As an operator would: the CLI, the password on stdin (never on argv)."""
    data_dir = server.log_path.parent
    out = subprocess.run([sys.executable, "-m", "verification", "users", "add", REVIEWER,
                          "--role", "supervisor", "--password-stdin", "--data-dir", str(data_dir)],
                         input=PASSWORD + "\n", capture_output=True, text=True, timeout=60,
                         env=server.env)
    assert out.returncode == 0, out.stderr


def _flagged_session(server, browser, receiver, id_photo: Path) -> tuple[str, str]:
    """A real interview abandoned at the face step -> (session id, automatic decision)."""
    created = _create(server, id_photo, receiver, "CONSOLE-1")
    context = browser.new_context(permissions=["geolocation"], geolocation=APPLICANT_FIX,
                                  timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.goto(created["join_url"].replace("http://127.0.0.1:8000", server.url))
    page.check("#consent")
    page.click("#start")
    # Leave as the face step begins: the face stage has been matching the face since the
    # first frame, and no challenge is in flight yet (one cut short is judged failed -> reject)
    _tap_through(page, "window.__interview.prompts.indexOf('face') >= 0"
                       " || window.__interview.phase === 'done'", 90)
    assert page.evaluate("window.__interview.phase") != "done", page.evaluate(
        "window.__interview")
    context.close()
    deadline = time.monotonic() + 60
    while True:
        view = httpx.get(f"{server.url}/v1/sessions/{created['session_id']}", headers=AUTH,
                         timeout=10).json()
        if view["verdict"] is not None:
            break
        assert time.monotonic() < deadline, view
        time.sleep(0.5)
    assert view["end_reason"] == "abandoned", view
    assert view["verdict"]["decision"] in ("review", "reject"), view["verdict"]
    return created["session_id"], view["verdict"]["decision"]


def _last_seek(page) -> float:
    return page.evaluate("window.__seeks[window.__seeks.length - 1]")


# Under the console's CSP (no 'unsafe-eval') wait_for_function needs a function, not an
# expression string, which Playwright would eval() in the page.
def _click_and_seek(page, selector: str, keyboard: bool = False) -> float:
    """Click the element (or focus it and press Enter); return its data-t once the recording
    has started seeking."""
    target = float(page.get_attribute(selector, "data-t"))
    before = page.evaluate("window.__seeks.length")
    if keyboard:
        page.focus(selector)
        page.keyboard.press("Enter")
    else:
        page.click(selector)
    page.wait_for_function("n => window.__seeks.length > n", arg=before, timeout=30_000)
    return target


def test_reviewer_decides_a_flagged_interview_in_three_clicks(server, browser, receiver,
                                                               id_photo, tmp_path):
    session_id, automatic = _flagged_session(server, browser, receiver, id_photo)
    _add_console_account(server)

    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    failed: list[tuple[int, str]] = []
    page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)

    try:
        page.goto(f"{server.url}/console")
        page.fill("#username", REVIEWER)
        page.fill("#password", "not the password")
        page.press("#password", "Enter")
        page.wait_for_selector("#login-error:not([hidden])")
        page.fill("#password", PASSWORD)
        page.press("#password", "Enter")  # keyboard sign-in

        row = f'#queue tr[data-session="{session_id}"]'
        page.wait_for_selector(row, timeout=30_000)
        assert automatic in page.text_content(row)
        # filters: by product and by one of the session's reasons, both keep the row
        with page.expect_response(lambda r: "product=quick" in r.url) as filtered:
            page.select_option("#filter-product", "quick")
        assert session_id in filtered.value.text()
        reason_code = page.text_content(f"{row} .reasons-cell .chip")
        with page.expect_response(lambda r: f"reason={reason_code}" in r.url) as filtered:
            page.select_option("#filter-reason", reason_code)
        assert session_id in filtered.value.text()
        page.wait_for_selector(row)
        clicks = 0
        page.click(row)
        clicks += 1
        page.wait_for_url(f"**/console/sessions/{session_id}")
        page.wait_for_selector("#timeline [data-t]", timeout=30_000)
        page.wait_for_selector("#reasons [data-t]")
        page.evaluate("""() => {
            const v = document.querySelector('video#recording');
            window.__seeks = [];
            // at 'seeking' currentTime is the position the page asked for
            v.addEventListener('seeking', () => window.__seeks.push(v.currentTime));
        }""")

        # the recording plays in the browser (Range-served) and has a duration to seek in
        page.wait_for_function("() => document.querySelector('#recording').readyState >= 1",
                               timeout=30_000)
        page.evaluate("document.querySelector('#recording').muted = true")
        page.evaluate("document.querySelector('#recording').play()")
        page.wait_for_function("() => document.querySelector('#recording').currentTime > 0.2",
                               timeout=30_000)
        duration = page.evaluate("document.querySelector('#recording').duration")
        assert duration > 1.0, duration

        # a marker well inside the recording: its t is where the video goes
        markers = page.eval_on_selector_all(
            "#timeline [data-t]",
            "ms => ms.map(m => [parseFloat(m.dataset.t), m.dataset.evidence])")
        t_marker, evidence = max((m for m in markers if m[0] < duration - 0.3), key=lambda m: m[0])
        assert t_marker > 0.5, markers
        marker = f'#timeline [data-evidence="{evidence}"]'
        # drawn where its moment is: t / duration along the track
        fraction = page.eval_on_selector(marker, """m => {
            const r = m.getBoundingClientRect(), track = m.parentElement.getBoundingClientRect();
            const x = m.classList.contains('span') ? r.left : r.left + r.width / 2;
            return (x - track.left) / track.width; }""")
        assert fraction == pytest.approx(t_marker / duration, abs=0.01)
        target = _click_and_seek(page, marker)
        assert target == pytest.approx(t_marker)
        assert _last_seek(page) == pytest.approx(target, abs=SEEK_TOLERANCE_S)
        # ... and plays on from there
        page.wait_for_function("t => document.querySelector('#recording').currentTime > t",
                               arg=target)

        # every timed reason is one click (or Enter) from its moment
        page.evaluate("document.querySelector('#recording').pause()")
        reason_target = _click_and_seek(page, "#reasons [data-t]", keyboard=True)
        assert _last_seek(page) == pytest.approx(reason_target, abs=SEEK_TOLERANCE_S)

        # the evidence is all there: faces with a score, location drawn inline, reasons
        view = page.request.get(f"{server.url}/console/api/sessions/{session_id}").json()
        assert view["id_photo_url"] and page.is_visible("#id-photo")
        assert page.evaluate("document.querySelector('#id-photo').naturalWidth") > 0
        assert page.is_visible("#reference-frame") == bool(view["reference_frame_url"])
        if view["match_score"] is not None:
            assert page.text_content("#match-score").strip() == f"{view['match_score']:.2f}"
        assert page.locator("#location svg .pt-gps").count() == 1
        assert page.locator("#location svg .pt-declared").count() == 1
        assert "km" in page.text_content('#location-facts [data-distance="gps_declared"]')
        # a supervisor gets the evidence export link (a download: fetched, not clicked)
        link = page.get_attribute("#export-evidence", "href")
        assert link == f"/console/api/sessions/{session_id}/export"
        exported = page.request.get(f"{server.url}{link}")
        assert exported.ok and "attachment" in exported.headers["content-disposition"]
        assert exported.json()["session"]["id"] == session_id
        page.screenshot(path=str(tmp_path / "session.png"), full_page=True)

        # opening the session claimed it for this reviewer
        queue = page.request.get(f"{server.url}/console/api/queue").json()["items"]
        assert [i["claimed_by"] for i in queue if i["session_id"] == session_id] == [REVIEWER]
        page.fill("#note-text", "Watched the whole recording.")
        page.click("#note-add")
        page.wait_for_function("() => document.querySelector('#notes').textContent"
                               ".includes('Watched the whole recording.')")

        # decide: approve -> note -> confirm
        page.click("#decide-approve")
        clicks += 1
        page.fill("#decision-note", "Applicant left at the face step; identity and face match are "
                                    "clear on the recording.")
        page.click("#decision-confirm")
        clicks += 1
        page.wait_for_selector("#decision-result:not([hidden])", timeout=30_000)
        assert clicks <= 3
        event_id = page.get_attribute("#decision-result", "data-event-id")
        # the API may echo the button (approve) or the verdict it became (pass)
        assert page.get_attribute("#decision-result", "data-decision") in ("approve", "pass")

        deadline = time.monotonic() + 45
        while event_id not in receiver.effective and time.monotonic() < deadline:
            time.sleep(0.2)
        sent = [r for r in receiver.requests if r["event_id"] == event_id]
        assert sent and all(r["valid"] for r in sent), sent  # HMAC checked on the raw body
        event = receiver.effective[event_id]
        assert event["type"] == "verdict.updated"
        assert event["data"]["session_id"] == session_id
        assert event["data"]["kind"] == "override"
        assert event["data"]["decision"] == "pass"
        assert "face step" in event["data"]["verdict"]["reasons"][0]["message"]

        # decided sessions leave the queue
        queue = page.request.get(f"{server.url}/console/api/queue").json()
        assert session_id not in [item["session_id"] for item in queue["items"]]
    except BaseException:
        # shown by pytest on a failure: where the page stood and what the server said
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        print("page:", page.url, "| status:", page.text_content("#status"),
              "| failed requests:", failed, "| console errors:", errors)
        print("server log (tail):", server.log()[-4000:])
        raise
    context.close()
    # no CSP violation, no script error; the only failed requests: /me before signing in and
    # the wrong password
    assert not [e for e in errors if "Failed to load resource" not in e], errors
    assert [(status, url.rsplit("/", 1)[-1]) for status, url in failed] == [
        (401, "me"), (401, "login")], failed
    assert "Traceback" not in server.log()
