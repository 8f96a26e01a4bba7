"""aiortc applicant <-> server in one process: a whole interview over real WebRTC on loopback
(GRID clip, pre-encoded VP8 + Opus), reconnect into the same recording, graceful shutdown."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import av
import httpx
import pytest

from signaling.app import create_app
from signaling.client import Applicant, create_session
from signaling.settings import ServerSettings
from signaling.testmedia import make_webm
from verification.protect.media import MediaVault

CLIP = Path(__file__).resolve().parents[1] / "data" / "video" / "bbaf2n.mpg"


@pytest.fixture(scope="module")
def webm(tmp_path_factory) -> Path:
    return make_webm(CLIP, tmp_path_factory.mktemp("media") / "grid.webm", seconds=15.0)


def settings(tmp_path: Path, **overrides) -> ServerSettings:
    base = dict(data_dir=tmp_path / "data", provider="cpu", ice_loopback=True,
                prompt_time_scale=0.2, media_timeout_s=4, reconnect_grace_s=30,
                admission_interval_s=0, analysis_fps=5,
                loop_lag_limit_ms=5000)
    base.update(overrides)
    return ServerSettings(**base)


async def run_server(cfg: ServerSettings, body):
    app = create_app(cfg)
    async with app.router.lifespan_context(app):
        app.state.core = app.state.core  # set by the lifespan
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await body(app, http)


async def wait_for(predicate, within: float, step: float = 0.2) -> bool:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return predicate()


def stored_recording(data_dir: Path, ref: str) -> bytes:
    """The recording is encrypted at rest: read it through the media vault."""
    assert ref.startswith("vault:sessions/"), ref
    assert not list(data_dir.rglob("*.mkv")), "no plaintext recording is left on disk"
    return MediaVault.for_data_dir(data_dir).read_reference(ref)


def decode(data: bytes) -> tuple[int, int, float]:
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.video and container.streams.audio
        video = sum(1 for _ in container.decode(video=0))
    with av.open(io.BytesIO(data)) as container:
        frames = list(container.decode(audio=0))
    return video, len(frames), float(frames[-1].pts * frames[-1].time_base)


@pytest.mark.slow
def test_whole_interview_over_webrtc(tmp_path: Path, webm: Path):
    async def body(app, http):
        session = await create_session(http, reference="loan-42", locale="en")
        assert session["join_url"].endswith("/join#" + session["token"])
        applicant = Applicant(http, session["token"], webm)
        await applicant.join()
        finished = await asyncio.wait_for(applicant.done.wait(), timeout=90)
        record = (await http.get(f"/v1/admin/sessions/{session['id']}")).json()
        await wait_for(lambda: app.state.core.hub.live(session["id"]) is None, 60)
        record = (await http.get(f"/v1/admin/sessions/{session['id']}")).json()
        metrics = (await http.get("/v1/metrics")).json()
        await applicant.close()
        return applicant, record, metrics, finished

    applicant, record, metrics, _ = asyncio.run(run_server(settings(tmp_path), body))
    # the prompts, the bandwidth command and guidance reached the client over the data channel
    assert [m["id"] for m in applicant.of_type("prompt")] == [
        "face_in_oval", "turn_head", "read_sentence", "state_name", "blink"]
    bitrate = applicant.of_type("bitrate")[0]
    assert bitrate["maxBitrate"] <= 130_000 and bitrate["maxFramerate"] == 15
    assert bitrate["degradationPreference"] == "maintain-framerate"
    assert applicant.of_type("welcome") and applicant.of_type("guidance")
    # the interview finished with real content analysed server-side
    assert record["state"] == "finished" and record["end_reason"] == "completed"
    checks = record["verdict"]["checks"]
    assert checks["face_presence"]["status"] == "supported"
    assert checks["speech_presence"]["status"] == "supported"
    assert record["connections"] == 1 and record["reference"] == "loan-42"
    # passthrough recording with both tracks
    video, audio, last = decode(stored_recording(tmp_path / "data", record["recording"]))
    assert video > 50 and audio > 200 and last > 4
    assert metrics["load"]["latency_p95_ms"] is not None
    assert sum(metrics["analysed"]["frames"].values()) > 10


@pytest.mark.slow
def test_reconnect_resumes_the_same_interview_and_recording(tmp_path: Path, webm: Path):
    async def body(app, http):
        session = await create_session(http)
        first = Applicant(http, session["token"], webm)
        await first.join()
        await asyncio.wait_for(first.opened.wait(), 10)
        await wait_for(lambda: len(first.of_type("prompt")) >= 1, 10)
        await asyncio.sleep(2)
        # a second device without the resume key is refused while the first is connected
        intruder = Applicant(http, session["token"], webm)
        with pytest.raises(Exception) as refused:
            await intruder.join()
        await intruder.close()
        # the network drops; the same page reconnects with its resume key
        await first.close()
        second = Applicant(http, session["token"], webm, resume_key=first.resume_key)
        await second.join()
        await asyncio.wait_for(second.done.wait(), timeout=90)
        await wait_for(lambda: app.state.core.hub.live(session["id"]) is None, 60)
        record = (await http.get(f"/v1/admin/sessions/{session['id']}")).json()
        await second.close()
        return refused.value, record, second

    refused, record, second = asyncio.run(run_server(settings(tmp_path), body))
    assert refused.status == 409 and refused.body["code"] == "already_connected"
    assert record["state"] == "finished" and record["connections"] == 2
    assert second.of_type("prompt")  # the current prompt is re-sent after reconnecting
    manifest = (tmp_path / "data" / "recordings" / record["id"] / "recording.json").read_text()
    assert '"index": 1' in manifest and '"joined": true' in manifest
    video, audio, last = decode(stored_recording(tmp_path / "data", record["recording"]))
    assert video > 60 and audio > 250 and last > 6


@pytest.mark.slow
def test_graceful_shutdown_finishes_interviews_and_recordings(tmp_path: Path, webm: Path):
    holder = {}

    async def body(app, http):
        session = await create_session(http)
        applicant = Applicant(http, session["token"], webm)
        await applicant.join()
        await wait_for(lambda: len(applicant.of_type("prompt")) >= 1, 10)
        await asyncio.sleep(1.5)
        holder["service"] = app.state.core.hub.service
        holder["applicant"] = applicant
        return session["id"]

    cfg = settings(tmp_path, prompt_time_scale=5)  # far from done when the server stops
    session_id = asyncio.run(run_server(cfg, body))
    record = holder["service"].get(session_id)
    assert record.state == "finished" and record.end_reason == "server_shutdown"
    video, audio, _ = decode(stored_recording(tmp_path / "data", record.recording))
    assert video > 5 and audio > 20
    assert holder["applicant"].done.is_set()  # the page was told the interview ended
    asyncio.run(holder["applicant"].close())
