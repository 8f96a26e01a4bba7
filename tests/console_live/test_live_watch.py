"""Live watch in one process over real WebRTC on loopback: an aiortc applicant streams the GRID
clip (pre-encoded VP8 + Opus) while an aiortc reviewer watches it through the console route.

Asserted: the reviewer decodes the applicant's video (right size, not blank) and audio (speech
energy) relayed by the server; evidence arrives on the events route; a reviewer message reaches
the applicant's data channel as text; the per-interview watcher limit; 401/403 for no session,
the applicant's join token, a role without the action and a missing CSRF header; watch starts
and messages in the audit log; every watcher closed when the interview ends.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from aiortc import RTCPeerConnection

from signaling.app import create_app
from signaling.client import Applicant, create_session
from signaling.console.watch_client import WatchClient, console_login
from signaling.settings import ServerSettings
from signaling.testmedia import make_fake_capture, make_webm
from tests.integration.browser_support import (
    CHROMIUM,
    chromium_args,
    chromium_missing_reason,
    running_server,
)
from tests.integration.browser_support import CLIP as BROWSER_CLIP
from tests.integration.test_webrtc_session import wait_for
from verification.protect.accounts import AccountStore
from verification.protect.audit import AuditLog

CLIP = Path(__file__).resolve().parents[1] / "data" / "video" / "bbaf2n.mpg"
PASSWORD = "correct horse battery staple 42"


@pytest.fixture(scope="module")
def webm(tmp_path_factory) -> Path:
    return make_webm(CLIP, tmp_path_factory.mktemp("media") / "grid.webm", seconds=24.0)


def settings(tmp_path: Path) -> ServerSettings:
    # prompts stretched: the interview is still running when the test finishes it
    return ServerSettings(data_dir=tmp_path / "data", provider="cpu", ice_loopback=True,
                          prompt_time_scale=3, media_timeout_s=8, reconnect_grace_s=30,
                          admission_interval_s=0, analysis_fps=3, loop_lag_limit_ms=5000)


async def console_client(app, username: str) -> httpx.AsyncClient:
    """A browser-like client signed in to the console (cookies kept by httpx)."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    client = httpx.AsyncClient(transport=transport, base_url="http://test")
    await console_login(client, username, PASSWORD)
    return client


def test_reviewer_watches_messages_and_is_limited(tmp_path: Path, webm: Path):
    cfg = settings(tmp_path)
    accounts = AccountStore.for_data_dir(cfg.data_dir)
    accounts.add("rita", PASSWORD, "reviewer")
    accounts.add("adam", PASSWORD, "admin")
    out: dict = {}

    async def scenario(app, http: httpx.AsyncClient) -> None:
        rita = await console_client(app, "rita")
        adam = await console_client(app, "adam")
        session = await create_session(http, reference="loan-live-1", locale="en")
        sid = session["id"]
        applicant = Applicant(http, session["token"], webm)
        reviewer = WatchClient()
        extra = [RTCPeerConnection(), RTCPeerConnection()]
        try:
            await applicant.join()
            await asyncio.wait_for(applicant.opened.wait(), 15)
            live = app.state.core.hub.live(sid)
            assert await wait_for(lambda: live.peer is not None and live.peer.video is not None
                                  and live.peer.video.frames > 5, 20)

            # access control before anything is watched
            anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                          base_url="http://test")
            out["anonymous"] = (await anonymous.get("/console/api/live")).status_code
            out["anonymous_watch"] = (await anonymous.post(
                f"/console/api/live/{sid}/watch", json={"sdp": "v=0", "type": "offer"})).json()
            out["join_token"] = (await anonymous.get(
                "/console/api/live",
                headers={"Authorization": f"Bearer {session['token']}"})).json()
            await anonymous.aclose()
            out["admin_list"] = (await adam.get("/console/api/live")).json()
            out["admin_message"] = (await adam.post(f"/console/api/live/{sid}/message",
                                                    json={"text": "hi"})).json()
            out["no_csrf"] = (await rita.post(f"/console/api/live/{sid}/message",
                                              json={"text": "hi"},
                                              headers={"X-CSRF-Token": ""})).json()

            out["list"] = (await rita.get("/console/api/live")).json()
            answer = await reviewer.watch(rita, sid)
            assert answer.status_code == 200, answer.text
            # decoded frames and audio arrive through the relay
            await wait_for(lambda: len(reviewer.video) >= 30 and len(reviewer.audio_rms) >= 100,
                           40)
            out["video"], out["audio"] = list(reviewer.video), list(reviewer.audio_rms)

            sent = await rita.post(f"/console/api/live/{sid}/message",
                                   json={"text": "Please  move\ncloser <b>to</b> the camera"})
            out["message_status"] = sent.status_code
            await wait_for(lambda: applicant.of_type("reviewer_message"), 10)
            out["applicant_got"] = applicant.of_type("reviewer_message")

            await wait_for(lambda: len(live.session.evidence) > 0, 20)
            first = (await rita.get(f"/console/api/live/{sid}/events",
                                    params={"after": 0})).json()
            later = (await rita.get(f"/console/api/live/{sid}/events",
                                    params={"after": first["next"]})).json()
            out["events"], out["events_later"] = first, later

            # two more watchers fit (they never complete their connection), a fourth does not
            extra_ids = []
            for pc in extra:
                pc.addTransceiver("video", direction="recvonly")
                await pc.setLocalDescription(await pc.createOffer())
                response = await rita.post(f"/console/api/live/{sid}/watch",
                                           json={"sdp": pc.localDescription.sdp})
                assert response.status_code == 200, response.text
                extra_ids.append(response.json()["watcher_id"])
            fourth = RTCPeerConnection()
            fourth.addTransceiver("video", direction="recvonly")
            await fourth.setLocalDescription(await fourth.createOffer())
            limited = await rita.post(f"/console/api/live/{sid}/watch",
                                      json={"sdp": fourth.localDescription.sdp})
            out["limit"] = (limited.status_code, limited.json())
            out["bad_offer"] = (await rita.post(f"/console/api/live/{sid}/watch",
                                                json={"sdp": "hello"})).json()
            await fourth.close()
            # a reviewer leaving frees the slot (an admin, without live.watch, cannot close it)
            close_url = f"/console/api/live/{sid}/watch/{extra_ids[0]}/close"
            out["close_by_other"] = (await adam.post(close_url)).status_code
            out["close"] = (await rita.post(close_url)).status_code
            out["after_leave"] = app.state.live_watchers.count(sid)
            sendrecv = RTCPeerConnection()
            sendrecv.addTransceiver("video", direction="sendrecv")
            await sendrecv.setLocalDescription(await sendrecv.createOffer())
            out["sendrecv"] = (await rita.post(f"/console/api/live/{sid}/watch",
                                               json={"sdp": sendrecv.localDescription.sdp})).json()
            await sendrecv.close()
            out["feed"] = live.feed.stats()
            out["ingest_frames"] = live.peer.video.frames

            # the applicant's network drops and the page reconnects (a new peer whose media
            # timestamps restart at zero): the reviewer keeps watching on the same connection
            await applicant.close()
            applicant = Applicant(http, session["token"], webm, resume_key=applicant.resume_key)
            await applicant.join()
            before = len(reviewer.video)
            out["after_reconnect"] = await wait_for(lambda: len(reviewer.video) >= before + 20,
                                                    30)

            # the interview ends: every watcher is closed and the page learns it is over
            await http.post(f"/v1/admin/sessions/{sid}/finish")
            registry = app.state.live_watchers
            out["closed"] = await wait_for(lambda: registry.count(sid) == 0, 15)
            out["reviewer_ended"] = await wait_for(lambda: reviewer.ended == {"audio", "video"},
                                                   15)
            out["after_end"] = (await rita.get(f"/console/api/live/{sid}/events")).json()
            late = WatchClient()
            out["watch_after_end"] = (await late.watch(rita, sid)).json()
            await late.close()
        finally:
            await reviewer.close()
            for pc in extra:
                await pc.close()
            await applicant.close()
            await rita.aclose()
            await adam.aclose()
            registry = getattr(app.state, "live_watchers", None)
            if registry is not None:
                await registry.close_all()
        out["audit"] = [(e.actor, e.action, e.target, dict(e.details))
                        for e in AuditLog.for_data_dir(cfg.data_dir).entries()]
        out["sid"] = sid

    async def run() -> None:
        app = create_app(cfg)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                await scenario(app, http)

    asyncio.run(run())
    sid = out["sid"]

    # authorisation: cookie session + role + CSRF, nothing else counts
    assert out["anonymous"] == 401
    assert out["anonymous_watch"]["code"] == "not_authenticated"
    assert out["join_token"]["code"] == "not_authenticated"
    assert out["admin_list"]["code"] == "forbidden"
    assert out["admin_message"]["code"] == "forbidden"
    assert out["no_csrf"]["code"] == "csrf"

    # the live list shows the running interview
    [item] = [i for i in out["list"]["items"] if i["session_id"] == sid]
    assert item["application_id"] == "loan-live-1" and item["connected"] is True
    assert {"started_at", "live_s", "prompt_index", "network"} <= set(item)

    # relayed media: the applicant's 320x240 picture (not blank) and speech (not silence)
    assert len(out["video"]) >= 30, len(out["video"])
    assert {(v.width, v.height) for v in out["video"]} == {(320, 240)}
    assert np.median([v.luma_std for v in out["video"]]) > 10
    assert len(out["audio"]) >= 100
    assert max(out["audio"]) > 300  # int16 RMS: the GRID speaker, not digital silence

    # the message reached the applicant's page as one line of plain text
    assert out["message_status"] == 202
    assert out["applicant_got"] == [{"type": "reviewer_message",
                                     "text": "Please move closer <b>to</b> the camera"}]

    # evidence arrives in order, paged by `after`
    first = out["events"]
    assert first["live"] is True and first["items"] and first["next"] == len(first["items"])
    assert {"id", "check", "outcome", "window"} <= set(first["items"][0])
    assert out["events_later"]["next"] >= first["next"]

    # limit: three watchers per interview; a malformed offer is a clear 400
    assert out["limit"][0] == 429 and out["limit"][1]["code"] == "watch_limit"
    assert out["bad_offer"]["code"] in ("invalid_sdp", "invalid_request")
    assert out["sendrecv"]["code"] == "invalid_sdp"  # a reviewer never sends media
    assert out["close_by_other"] == 403 and out["close"] == 204 and out["after_leave"] == 2

    # the relay took frames from the ingest without holding any back from it
    assert out["feed"]["video"].delivered > 0 and out["ingest_frames"] > 0

    assert out["after_reconnect"]  # frames kept coming after the applicant reconnected

    # the end of the interview closes every watcher
    assert out["closed"] and out["reviewer_ended"]
    assert out["after_end"]["live"] is False
    assert out["watch_after_end"]["code"] == "not_live"

    audit = [(actor, action, target) for actor, action, target, _ in out["audit"]]
    assert audit.count(("rita", "live.watch", sid)) == 3
    [message] = [d for a, action, t, d in out["audit"] if action == "live.message"]
    assert message["text"] == "Please move closer <b>to</b> the camera"


# -- a real browser on each side -------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(chromium_missing_reason() is not None,
                    reason=chromium_missing_reason() or "")
def test_reviewer_browser_watches_browser_applicant(tmp_path: Path):
    """A browser applicant streams; a second browser context, signed in as a reviewer, opens
    /console/live/{id}: its video element plays the relayed picture (size known, time moving),
    and a message typed there appears on the applicant's page."""
    from playwright.sync_api import sync_playwright

    capture = make_fake_capture(BROWSER_CLIP, tmp_path / "capture", seconds=6.0, width=320,
                                height=240)
    data_dir = tmp_path / "server" / "data"
    with running_server(data_dir, prompt_time_scale=4, media_timeout_s=10) as server:
        added = subprocess.run(
            [sys.executable, "-m", "verification", "users", "add", "rita", "--role", "reviewer",
             "--password-stdin", "--data-dir", str(data_dir)],
            input=PASSWORD + "\n", capture_output=True, text=True, timeout=60, env=server.env)
        assert added.returncode == 0, added.stderr
        session = server.create_session("--locale", "en")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=chromium_args(*capture))
            try:
                applicant = browser.new_context().new_page()
                applicant.goto(session["join_url"].replace("http://127.0.0.1:8000", server.url))
                applicant.check("#consent")
                applicant.click("#start")
                applicant.wait_for_function("() => window.__interview.prompts.length >= 1",
                                            timeout=30_000)

                reviewer_context = browser.new_context()
                login = reviewer_context.request.post(
                    f"{server.url}/console/api/login",
                    data={"username": "rita", "password": PASSWORD})
                assert login.status == 200, login.text()
                reviewer = reviewer_context.new_page()
                console: list[str] = []
                reviewer.on("console", lambda m: console.append(m.text))
                reviewer.goto(f"{server.url}/console/live/{session['id']}")
                reviewer.wait_for_function(
                    "() => { const v = document.querySelector('video#live-video');"
                    " return v && v.videoWidth > 0 && v.currentTime > 0.2; }", timeout=45_000)
                first = reviewer.evaluate(
                    "() => document.querySelector('video#live-video').currentTime")
                reviewer.wait_for_function(
                    "(t) => document.querySelector('video#live-video').currentTime > t + 1.0",
                    arg=first, timeout=20_000)
                size = reviewer.evaluate(
                    "() => [document.querySelector('video#live-video').videoWidth,"
                    " document.querySelector('video#live-video').videoHeight]")

                reviewer.fill("#live-message", "Please hold your ID card up")
                reviewer.click("#live-send")
                applicant.wait_for_function(
                    "() => (window.__interview.reviewerMessages || []).length >= 1",
                    timeout=15_000)
                shown = applicant.text_content("#reviewer-message")
                watch_state = reviewer.evaluate("() => window.__liveWatch")
            finally:
                browser.close()
        log = server.log()

    assert size == [320, 240], (size, console, watch_state)
    assert watch_state["watcherId"] and watch_state["connection"] == "connected", watch_state
    assert shown == "Please hold your ID card up"
    assert "reviewer watching (1 of 3)" in log
