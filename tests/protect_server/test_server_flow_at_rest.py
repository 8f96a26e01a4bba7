"""A whole server flow with data protection on: the loan API creates a session with a real ID
photo and enrolment audio, a short interview runs over real WebRTC (in-process aiortc), and then
nothing sensitive is readable anywhere in the data dir; after a key rotation everything still
reads; a retention purge (clock injected) removes the raw media while verdicts and the audit
log stay."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import httpx
import numpy as np
import pytest

from signaling.app import create_app
from signaling.client import Applicant
from signaling.retention_task import RetentionScheduler
from signaling.settings import ServerSettings
from signaling.testmedia import make_webm
from tests.protect_server.scan import readable_findings
from verification.protect.audit import AuditLog
from verification.protect.keys import KeyRing, MasterKey, keyring_for_data_dir
from verification.protect.media import MediaVault, VaultTemplateSealer
from verification.protect.store import EncryptedStore, ObjectKind
from verification.store.db import default_database_url, make_engine
from verification.workflow import repository as repo
from verification.workflow.products import ProductCatalog

DATA = Path(__file__).resolve().parents[1] / "data"
PHOTO = DATA / "faces" / "london_001_neutral.jpg"
VOICE = DATA / "speech" / "1688-142285-0002.flac"
CLIP = DATA / "video" / "bbaf2n.mpg"
API_KEY = "protect-server-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}

pytestmark = pytest.mark.slow


def _form() -> dict[str, str]:
    return {"application_id": "APP-PROTECT-1", "applicant_name": "李娜",
            "loan_product": "express", "locale": "en",
            "declared_business": json.dumps({"type": "tea shop", "address": "杭州市西湖区 1 号",
                                             "coordinates": {"lat": 30.25, "lon": 120.15}}),
            "loan_terms": json.dumps({"amount": 20000, "currency": "CNY",
                                      "annual_rate_pct": 7.2, "term_months": 12})}


async def _wait_for(predicate, within: float) -> bool:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.2)
    return predicate()


@pytest.fixture(scope="module")
def flow(tmp_path_factory) -> dict:
    """One interview, ended by the operator after a few seconds of real media."""
    root = tmp_path_factory.mktemp("protect-flow")
    webm = make_webm(CLIP, root / "grid.webm", seconds=6.0)
    data_dir = root / "data"
    settings = ServerSettings(data_dir=data_dir, provider="cpu", api_key=API_KEY,
                              ice_loopback=True, media_timeout_s=6, admission_interval_s=0,
                              loop_lag_limit_ms=5000, analysis_fps=5, retention_interval_s=0)

    async def run() -> dict:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                created = await http.post(
                    "/v1/sessions", headers=AUTH, data=_form(),
                    files={"id_photo": (PHOTO.name, PHOTO.read_bytes(), "image/jpeg"),
                           "voiceprint": (VOICE.name, VOICE.read_bytes(), "audio/flac")})
                assert created.status_code == 201, created.text
                session_id = created.json()["session_id"]
                token = created.json()["join_url"].split("#", 1)[1]
                applicant = Applicant(http, token, webm)
                await applicant.join()
                await _wait_for(lambda: applicant.opened.is_set(), 15)
                await asyncio.sleep(4.0)  # a few seconds of media: recording + analysis
                finished = await http.post(f"/v1/admin/sessions/{session_id}/finish")
                assert finished.status_code == 200, finished.text
                await _wait_for(lambda: app.state.core.hub.live(session_id) is None, 60)
                record = (await http.get(f"/v1/admin/sessions/{session_id}")).json()
                events = (await http.get(f"/v1/sessions/{session_id}/events",
                                         headers=AUTH)).json()
                await applicant.close()
                return {"session_id": session_id, "record": record, "events": events}

    out = asyncio.run(run())
    out["data_dir"] = data_dir
    return out


def _known_plaintexts(vault: MediaVault, session_id: str) -> dict[str, bytes]:
    known = {"id photo": PHOTO.read_bytes(), "enrolment audio": VOICE.read_bytes()}
    for item in vault.list_media(session_id):
        known[item.object_id] = vault.store.get(item.object_id)
        if item.kind.is_template:  # embeddings: also as float32 / float64 arrays
            vector = np.frombuffer(known[item.object_id], np.float32)
            known[item.object_id + " f64"] = vector.astype(np.float64).tobytes()
    return known


def test_media_are_in_the_vault_and_nothing_sensitive_is_readable_on_disk(flow):
    data_dir, session_id = flow["data_dir"], flow["session_id"]
    vault = MediaVault.for_data_dir(data_dir)  # the key the server generated at first start
    assert (data_dir / "master.key").stat().st_mode & 0o777 == 0o600
    kinds = {m.kind for m in vault.list_media(session_id)}
    assert {ObjectKind.ID_PHOTO, ObjectKind.VOICE_ENROLMENT, ObjectKind.RECORDING,
            ObjectKind.REFERENCE_FRAME} <= kinds, kinds
    assert vault.read_media(session_id, "id_photo") == PHOTO.read_bytes()
    assert vault.read_media(session_id, "voice_enrolment") == VOICE.read_bytes()
    assert vault.content_type(session_id, "reference_frame") == "image/jpeg"
    assert {m.product for m in vault.list_media(session_id)} == {"express"}

    # the admin view points into the vault; the recording plays with both tracks
    record = flow["record"]
    assert record["recording"] == f"vault:sessions/{session_id}/recording"
    recording = vault.read_reference(record["recording"])
    with av.open(io.BytesIO(recording)) as container:
        assert container.streams.video and container.streams.audio
        assert sum(1 for _ in container.decode(video=0)) > 10
    middle = len(recording) // 2
    assert vault.read_range(session_id, "recording", middle, middle + 1000) == \
        recording[middle:middle + 1000]

    # the reference crop is not in the timeline / database in the clear either
    assert "face_jpeg_base64" not in json.dumps(flow["events"])

    # a face template written by the background index goes to the vault too
    golden = np.load(DATA / "golden" / "face_embedding.npz")["out__descriptor"][0]
    sealer = VaultTemplateSealer(vault)
    ref = sealer.seal(session_id, golden.astype(np.float32).tobytes())
    assert np.array_equal(np.frombuffer(sealer.unseal(ref), np.float32), golden)

    # the background index keeps only vault references for applicants' face descriptors
    for index_file in data_dir.rglob("scene_index.sqlite3"):
        with sqlite3.connect(index_file) as db:
            faces = [row[0] for row in db.execute("SELECT face FROM places")]
        assert all(f is None or bytes(f).startswith(b"vault:") for f in faces), faces

    assert not any((data_dir / "spool").rglob("*.*")), "the spool is empty after the interview"
    known = _known_plaintexts(vault, session_id)
    assert readable_findings(data_dir, known) == []


def test_media_still_read_after_a_key_rotation(flow):
    data_dir, session_id = flow["data_dir"], flow["session_id"]
    old_ring = keyring_for_data_dir(data_dir)
    before = {m.object_id: MediaVault.for_data_dir(data_dir).store.get(m.object_id)
              for m in MediaVault.for_data_dir(data_dir).list_media(session_id)}
    new_key = MasterKey.generate()
    report = EncryptedStore.for_data_dir(data_dir, old_ring).rewrap_all(new_key)
    assert report.rewrapped == len(before) >= 4
    rotated = MediaVault.for_data_dir(data_dir, KeyRing.of(new_key))  # the old key is gone
    assert {oid: rotated.store.get(oid) for oid in before} == before
    assert {m.object_id for m in rotated.list_media(session_id)} == set(before)


def test_retention_purge_removes_raw_media_and_keeps_verdicts_and_audit(flow):
    data_dir, session_id = flow["data_dir"], flow["session_id"]
    vault = MediaVault.for_data_dir(data_dir, KeyRing.of(MasterKey.generate()))  # index only
    policy = ProductCatalog.load().retention_policy()
    assert policy.rule_for("express").media_days == 30
    created = min(m.created_at for m in vault.list_media(session_id))
    soon = RetentionScheduler(vault, policy, 0, clock=lambda: created + timedelta(days=29))
    assert soon.run_once().deleted == ()
    later = RetentionScheduler(vault, policy, 0, clock=lambda: created + timedelta(days=31))
    report = later.run_once()
    left = {m.kind for m in vault.list_media(session_id)}
    assert ObjectKind.ID_PHOTO not in left and ObjectKind.RECORDING not in left
    assert ObjectKind.VOICE_ENROLMENT not in left and ObjectKind.REFERENCE_FRAME not in left
    assert report.by_kind.get("recording", 0) >= 1
    assert all(kind.is_template for kind in left)  # templates: 180 days for express

    audit = AuditLog.for_data_dir(data_dir)
    assert audit.verify().ok
    assert [e.action for e in audit.entries()][-1] == "retention.purge"
    engine = make_engine(default_database_url(data_dir))
    with repo.session_factory(engine)() as db:
        assert repo.get_session(db, session_id) is not None
        assert repo.latest_verdict(db, session_id) is not None  # the verdict stays
    engine.dispose()
    assert datetime.now(UTC) > created
