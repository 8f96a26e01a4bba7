"""One running app per test module, reviewer accounts of every role, and flagged sessions made
by the real workflow code from a real recorded clip (GRID ``lrwp9a.mpg``).

How a session is made, step by step as the server does it: ``POST /v1/sessions`` (the ID photo
is a frame of the clip, so the face matches), the interview driver opens it and the applicant
joins, the real analyzers (face, voice, geo with a history dir, background) run over the clip,
the driver stores the evidence and concludes the verdict with the product's policy. What the
live edge does at the end is done here too: the reference face crop and the recording (the clip
re-encoded to VP8/Opus WebM) go encrypted into the media vault, the GPS fix onto the row.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from signaling.app import create_app
from signaling.settings import ServerSettings
from verification.analyzers import default_analyzers
from verification.geo.config import GeoConfig
from verification.pipeline.analyzer import SessionContext
from verification.pipeline.session import VerificationSession
from verification.protect.accounts import AccountStore
from verification.protect.media import vault_ref
from verification.protect.store import ObjectKind
from verification.runtime import InferenceExecutor
from verification.scene.config import SceneSettings
from verification.store.db import make_engine
from verification.types import AudioChunk, Evidence, VideoFrame
from verification.video.decode import iter_media
from verification.workflow import repository as repo
from verification.workflow.driver import InterviewDriver

API_KEY = "console-test-api-key"
API_AUTH = {"Authorization": f"Bearer {API_KEY}"}
ADMIN_TOKEN = "console-test-operator-token"
CLIP = Path(__file__).resolve().parents[1] / "data" / "video" / "lrwp9a.mpg"
PASSWORD = "correct horse battery staple"
USERS = {"rita": "reviewer", "rob": "reviewer", "sam": "supervisor", "ada": "admin"}
GPS = {"lat": 31.2304, "lon": 121.4737, "accuracy_m": 20.0}
DECLARED = {"type": "noodle restaurant", "address": "上海市黄浦区人民大道 200 号",
            "coordinates": {"lat": 31.2330, "lon": 121.4760}}


@dataclass
class Console:
    client: TestClient
    data_dir: Path

    @property
    def core(self) -> Any:
        return self.client.app.state.core


def _database_url() -> str | None:
    """PostgreSQL when CI started one (a clean schema), else the data dir's SQLite."""
    url = os.environ.get("VERIFICATION_TEST_POSTGRES_URL")
    if not url:
        return None
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(scope="package")
def console(tmp_path_factory) -> Iterator[Console]:  # noqa: ANN001
    """Shared by every test file here (the analysed interviews cost seconds of CPU each)."""
    data_dir = tmp_path_factory.mktemp("console") / "data"
    accounts = AccountStore.for_data_dir(data_dir)
    for name, role in USERS.items():
        accounts.add(name, PASSWORD, role)
    app = create_app(ServerSettings(data_dir=data_dir, provider="cpu", api_key=API_KEY,
                                    database_url=_database_url(),
                                    webhook_secret="whsec-console-tests",
                                    admin_token=ADMIN_TOKEN, review_sample_rate=0.0))
    with TestClient(app) as client:
        yield Console(client, data_dir)


def login(client: TestClient, username: str) -> dict[str, str]:
    """Sign in; returns the headers of an unsafe request (cookies stay on the client)."""
    response = client.post("/console/api/login",
                           json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf"]}


def browser(console: Console, username: str | None = None) -> tuple[TestClient, dict[str, str]]:
    """A separate cookie jar on the same app (one per simulated browser)."""
    client = TestClient(console.client.app)
    return client, (login(client, username) if username else {})


# -- a real interview from a real clip ---------------------------------------------------------

def clip_frame_jpeg(at_s: float = 1.0) -> bytes:
    with av.open(str(CLIP)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= at_s:
                ok, jpeg = cv2.imencode(".jpg", frame.to_ndarray(format="bgr24"))
                assert ok
                return jpeg.tobytes()
    raise AssertionError("clip too short")


def clip_as_webm(target: Path) -> Path:
    """The clip re-encoded the way browsers send it (VP8 + Opus), as the live recorder keeps."""
    with av.open(str(CLIP)) as source, av.open(str(target), "w", format="webm") as sink:
        vin, ain = source.streams.video[0], source.streams.audio[0]
        vout = sink.add_stream("libvpx", rate=25)
        vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
        vout.bit_rate = 400_000
        aout = sink.add_stream("libopus", rate=48000)
        aout.layout = "mono"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        for packet in source.demux(vin, ain):
            for frame in packet.decode():
                if packet.stream.type == "video":
                    frame.pts = None
                    sink.mux(vout.encode(frame))
                else:
                    for chunk in resampler.resample(frame):
                        chunk.pts = None
                        sink.mux(aout.encode(chunk))
        sink.mux(vout.encode(None))
        sink.mux(aout.encode(None))
    return target


async def _analyse(core: Any, session_id: str, id_photo: Any, geo: dict[str, Any],
                   history_dir: Path) -> list[Evidence]:
    registry = core.registry
    analyzers = default_analyzers(
        registry, geo=GeoConfig.from_env({}, default_data_dir=history_dir),
        scene=SceneSettings(index_dir=history_dir / "scene_index"))
    executor = InferenceExecutor(registry.budget)
    try:
        context = SessionContext(session_id, id_photo=id_photo, geo=geo, script={})
        from verification.offline import decode_fps, policy_for

        session = VerificationSession(context, analyzers, policy_for({}), executor)
        await session.start()
        for item in iter_media(CLIP, video_fps=decode_fps(5.0, analyzers)):
            if isinstance(item, VideoFrame):
                await session.put_video(item)
            elif isinstance(item, AudioChunk):
                session.offer_audio(item)
        return list((await session.finish()).evidence)
    finally:
        executor.shutdown()


def create_session(console: Console, application_id: str, applicant: str,
                   product: str = "default") -> tuple[str, str]:
    """``POST /v1/sessions`` with a frame of the clip as ID photo: (session id, join token)."""
    response = console.client.post("/v1/sessions", headers=API_AUTH, data={
        "application_id": application_id, "applicant_name": applicant,
        "loan_product": product, "declared_business": json.dumps(DECLARED),
        "locale": "zh-CN",
        "loan_terms": json.dumps({"amount": 50000, "currency": "CNY", "annual_rate_pct": 7,
                                  "term_months": 12, "fees": 0})},
        files={"id_photo": ("id.jpg", clip_frame_jpeg(), "image/jpeg")})
    assert response.status_code == 201, response.text
    return response.json()["session_id"], response.json()["join_url"].split("#", 1)[1]


def make_interview(console: Console, application_id: str, applicant: str,
                   product: str = "default") -> str:
    """A concluded session with real evidence, recording, reference frame and GPS fix."""
    core = console.core
    session_id, _token = create_session(console, application_id, applicant, product)
    workflow = core.workflow
    geo = {"gps": {**GPS, "time": workflow.clock()}, "applicant_id": application_id,
           "declared": {"address": DECLARED["address"], **DECLARED["coordinates"]},
           "time": workflow.clock()}

    async def interview() -> None:
        driver = await InterviewDriver.open(workflow, session_id, resume_window_s=120)
        await driver.joined(0.0)
        evidence = await _analyse(core, session_id, driver.context.id_photo, geo,
                                  console.data_dir / "history")
        reference = next(e for e in evidence if e.code == "reference_frame")
        core.vault.save_media(ObjectKind.REFERENCE_FRAME, session_id,
                              base64.b64decode(reference.details["face_jpeg_base64"]))
        await driver.conclude("completed", evidence)

    asyncio.run(interview())
    webm = clip_as_webm(console.data_dir / f"{session_id}.webm")
    core.vault.save_and_remove(ObjectKind.RECORDING, session_id, webm, product=product)
    with workflow.sessions.begin() as db:
        row = repo.get_session(db, session_id)
        row.recording_path = vault_ref(session_id, ObjectKind.RECORDING)
        row.geo = {"latitude": GPS["lat"], "longitude": GPS["lon"],
                   "accuracy_m": GPS["accuracy_m"], "at": workflow.clock()}
    return session_id


def make_concluded(console: Console, application_id: str, evidence: list[Evidence],
                   product: str = "default") -> str:
    """A session concluded by the workflow on the given evidence (no media): for rules that
    depend on the automatic decision only (four eyes, queue filters)."""
    session_id, _token = create_session(console, application_id, "Zhao Min", product)

    async def interview() -> None:
        driver = await InterviewDriver.open(console.core.workflow, session_id,
                                            resume_window_s=120)
        await driver.joined(0.0)
        await driver.conclude("completed", evidence)

    asyncio.run(interview())
    return session_id


@pytest.fixture(scope="package")
def interviews(console: Console) -> dict[str, str]:
    """Two real interviews from one place (the second one's geo evidence names the first)."""
    first = make_interview(console, "APP-CONSOLE-1", "Wang Fang")
    second = make_interview(console, "APP-CONSOLE-2", "Li Lei", product="express")
    return {"first": first, "second": second}
