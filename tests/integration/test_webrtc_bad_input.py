"""Bad input at the WebRTC edge: each case gets a clear error or a timeout, and nothing is left
running afterwards (no peer, no interview, no stray task)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from signaling.app import create_app
from signaling.client import Applicant, SignalingError, create_session
from signaling.settings import ServerSettings
from signaling.testmedia import make_webm

CLIP = Path(__file__).resolve().parents[1] / "data" / "video" / "bbaf2n.mpg"


@pytest.fixture(scope="module")
def webm(tmp_path_factory) -> Path:
    return make_webm(CLIP, tmp_path_factory.mktemp("media") / "grid.webm", seconds=8.0)


def run(tmp_path: Path, body, **overrides):
    cfg = dict(data_dir=tmp_path / "data", provider="cpu", ice_loopback=True,
               media_timeout_s=2, reconnect_grace_s=2, admission_interval_s=0,
               loop_lag_limit_ms=5000, prompt_time_scale=5)
    cfg.update(overrides)
    app = create_app(ServerSettings(**cfg))

    async def main():
        baseline = None
        async with app.router.lifespan_context(app):
            baseline = {t.get_name() for t in asyncio.all_tasks()}
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                result = await body(app, http)
        # after a graceful shutdown nothing is left: no interview, no peer, no task
        hub = app.state.core.hub
        leftovers = {"live": len(hub._live), "peers": len(hub._peers)}
        await asyncio.sleep(0.2)
        stray = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()
                 and t.get_name() not in baseline and not t.done()]
        return result, leftovers, stray

    return asyncio.run(main())


async def offer(http, token: str, sdp: str, **extra):
    return await http.post("/v1/rtc/offer", json={"token": token, "sdp": sdp, **extra})


def test_malformed_requests_get_clear_errors(tmp_path: Path):
    async def body(app, http):
        session = await create_session(http)
        token = session["token"]
        good_shape = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
        answers = {
            "garbage": await offer(http, token, "hello world"),
            "no_media": await offer(http, token, good_shape),
            "truncated": await offer(http, token, good_shape + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
                                     "a=rtpmap:96\r\n"),
            "binaryish": await offer(http, token, "v=0\r\n\x00\x01\x02m=audio x y z\r\n"),
            "too_big": await offer(http, token, "v=0\r\n" + "a=x\r\n" * 20000),
            "not_json": await http.post("/v1/rtc/offer", content=b"{{{",
                                        headers={"content-type": "application/json"}),
            "unknown_token": await offer(http, "no-such-token", good_shape),
            "unknown_peer": await http.patch("/v1/rtc/abc/candidates",
                                             json={"resume_key": "k", "candidates": []}),
            "session_unknown": await http.post("/v1/rtc/session", json={"token": "nope"}),
            "admin_unknown": await http.get("/v1/admin/sessions/nope"),
        }
        return {k: (r.status_code, r.json()) for k, r in answers.items()}

    answers, leftovers, stray = run(tmp_path, body)
    for case in ("garbage", "no_media", "truncated", "binaryish"):
        status, data = answers[case]
        assert status == 400 and data["code"] == "invalid_sdp", (case, data)
    assert answers["too_big"][0] == 400 and answers["too_big"][1]["code"] == "invalid_request"
    assert answers["not_json"][0] == 400
    assert answers["unknown_token"] == (404, {"code": "unknown_session",
                                              "message": "unknown interview link"})
    assert answers["unknown_peer"][0] == 404
    assert answers["session_unknown"][0] == 404 and answers["admin_unknown"][0] == 404
    assert all("Traceback" not in str(v) for v in answers.values())
    assert leftovers == {"live": 0, "peers": 0} and not stray


def test_expired_and_finished_links_are_refused(tmp_path: Path, webm: Path):
    async def body(app, http):
        expired = await create_session(http, ttl_s=0.1)
        await asyncio.sleep(0.3)
        info = await http.post("/v1/rtc/session", json={"token": expired["token"]})
        applicant = Applicant(http, expired["token"], webm)
        with pytest.raises(SignalingError) as gone:
            await applicant.join()
        await applicant.close()
        session = await create_session(http)
        await http.post(f"/v1/admin/sessions/{session['id']}/finish")  # never joined: nothing live
        first = Applicant(http, session["token"], webm)
        await first.join()
        await asyncio.sleep(1.0)
        finished = await http.post(f"/v1/admin/sessions/{session['id']}/finish")
        again = Applicant(http, session["token"], webm)
        with pytest.raises(SignalingError) as closed:
            await again.join()
        await again.close()
        await first.close()
        return info.status_code, gone.value, finished.json(), closed.value

    (info, gone, finished, closed), leftovers, stray = run(tmp_path, body)
    assert info == 410 and gone.status == 410 and gone.body["code"] == "session_expired"
    assert finished["state"] == "finished" and finished["end_reason"] == "operator"
    assert closed.status == 409 and closed.body["code"] == "session_closed"
    assert leftovers == {"live": 0, "peers": 0} and not stray


def test_client_that_never_sends_media_times_out(tmp_path: Path):
    async def body(app, http):
        session = await create_session(http)
        silent = Applicant(http, session["token"], media=None)  # negotiates, sends nothing
        await silent.join()
        live = app.state.core.hub.live(session["id"])
        await asyncio.wait_for(live.done.wait(), 20)  # media timeout, then reconnect grace
        record = (await http.get(f"/v1/admin/sessions/{session['id']}")).json()
        await silent.close()
        # garbage on the data channel of a live interview is ignored, not fatal
        return record, silent

    record, leftovers, stray = run(tmp_path, body)
    record, silent = record
    assert record["state"] == "finished" and record["end_reason"] == "abandoned"
    assert record["verdict"]["decision"] != "pass"
    assert leftovers == {"live": 0, "peers": 0} and not stray


def test_admission_refuses_with_503_and_retry_after(tmp_path: Path, webm: Path):
    async def body(app, http):
        first_session = await create_session(http)
        second_session = await create_session(http)
        first = Applicant(http, first_session["token"], webm)
        await first.join()
        # garbage on the control channel is ignored, never fatal
        await asyncio.wait_for(first.opened.wait(), 10)
        first.channel.send("{not json")
        first.channel.send("x" * 10_000)
        first.channel.send('{"type": "geo", "latitude": "abc"}')
        await asyncio.sleep(0.5)
        hub = app.state.core.hub
        ignored = hub.live(first_session["id"]).peer.messages_ignored
        second = Applicant(http, second_session["token"], webm)
        with pytest.raises(SignalingError) as busy:
            await second.join()
        await second.close()
        await first.close()
        return busy.value, ignored

    (busy, ignored), leftovers, stray = run(tmp_path, body, max_sessions=1)
    assert busy.status == 503 and busy.body["code"] == "server_busy"
    assert int(busy.headers["retry-after"]) > 0
    assert ignored == 3
    assert leftovers == {"live": 0, "peers": 0} and not stray
