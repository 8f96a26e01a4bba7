"""The pieces between the server and the vault, without models: the master key of a fresh data
dir, recordings sealed from the spool (and recovered after a crash), evidence stripped of image
bytes, per-product retention in the catalog, and the template sealer of the background index."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import av
import numpy as np
import pytest

from signaling.recording import InterviewRecording, RecordedPacket
from signaling.recording_vault import recover_spool, seal_recording, spool_dir
from signaling.testmedia import encoded_packets
from tests.scene.conftest import Camera, ellipse_person, expose, film
from verification.errors import VerificationError
from verification.protect.keys import DATA_DIR_KEY_FILE, KeyRing, MasterKey, keyring_for_data_dir
from verification.protect.media import MediaVault, VaultTemplateSealer, sniff_content_type
from verification.protect.store import ObjectKind
from verification.scene.fingerprint import Fingerprinter
from verification.scene.index import INDEX_FILE, IndexEntry, SceneIndex
from verification.scene.masking import background_view_from_mask
from verification.workflow.products import ProductCatalog, ScriptError, parse_retention
from verification.workflow.repository import _without_media

CLIP = Path(__file__).resolve().parents[1] / "data" / "video" / "bbaf2n.mpg"


@pytest.fixture(scope="module")
def packets():
    return list(encoded_packets(CLIP, seconds=2.0))


@pytest.fixture()
def vault(tmp_path: Path) -> MediaVault:
    return MediaVault.for_data_dir(tmp_path / "data", KeyRing.of(MasterKey.generate()))


def _record(vault: MediaVault, interview_id: str, packets) -> InterviewRecording:
    recording = InterviewRecording(spool_dir(vault, interview_id), started_wall=time.time())
    writer = recording.new_segment(expect_video=True)
    for kind, data, t, key in packets:
        writer.submit(RecordedPacket(kind, "VP8" if kind == "video" else "opus", data, t, key))
    return recording


def test_a_fresh_data_dir_gets_a_private_key_file_only_when_the_server_asks(tmp_path: Path):
    with pytest.raises(VerificationError, match="no master key"):
        keyring_for_data_dir(tmp_path, env={})  # the CLI never creates a key
    ring = keyring_for_data_dir(tmp_path, env={}, create=True)
    path = tmp_path / DATA_DIR_KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert keyring_for_data_dir(tmp_path, env={}).primary == ring.primary  # stable on restart
    configured = MasterKey.generate()
    env = {"VERIFICATION_MASTER_KEY": configured.to_base64()}
    assert keyring_for_data_dir(tmp_path, env=env).primary == configured  # config wins


def test_the_recording_is_sealed_and_the_plaintext_removed(vault: MediaVault, tmp_path, packets):
    result = _record(vault, "iv1", packets).finalize()
    assert Path(result.path).exists()  # plaintext exists only until sealed
    ref = seal_recording(vault, "iv1", result, tmp_path / "data" / "recordings" / "iv1")
    assert ref == "vault:sessions/iv1/recording"
    assert not spool_dir(vault, "iv1").exists()
    assert (tmp_path / "data" / "recordings" / "iv1" / "recording.json").exists()
    data = vault.read_reference(ref)
    assert sniff_content_type(data[:64]) in ("video/webm", "video/x-matroska")
    with av.open(io.BytesIO(data)) as container:
        assert sum(1 for _ in container.decode(video=0)) > 10
    # a second finalisation (interview resumed after a restart) does not replace the first
    again = seal_recording(vault, "iv1", _record(vault, "iv1", packets).finalize(),
                           tmp_path / "data" / "recordings" / "iv1")
    assert again == "vault:sessions/iv1/recording/part-1"
    assert vault.read_reference(ref) == data


def test_a_crash_leaves_no_plaintext_after_the_next_start(vault: MediaVault, packets):
    recording = _record(vault, "iv2", packets)
    for writer in recording._segments:
        writer.close()  # the server died before finalize()
    stray = vault.spool_path("voice_enrolment")
    stray.write_bytes(b"RIFF....WAVE")
    assert recover_spool(vault) == 1
    assert not any(vault.spool.rglob("*.*"))
    (part,) = [m for m in vault.list_media("iv2") if m.kind is ObjectKind.RECORDING]
    assert part.object_id == "sessions/iv2/recording/recovered-segment-000-1"
    with vault.plaintext_object(part.object_id, ".mkv") as path:
        assert os.stat(path).st_mode & 0o777 == 0o600
        with av.open(str(path)) as container:
            assert container.streams.video
    assert not any(vault.spool.rglob("*.*"))  # the decrypted copy is gone again


def test_stored_evidence_keeps_no_image_bytes():
    details = {"pts": 1.5, "face_jpeg_base64": "/9j/4AAQSkZJRg=="}
    assert _without_media(details) == {"pts": 1.5,
                                       "face_jpeg": "encrypted at rest (reference_frame)"}
    assert _without_media({"pts": 2}) == {"pts": 2}


def test_each_product_has_a_retention_rule():
    policy = ProductCatalog.load().retention_policy()
    assert (policy.rule_for("default").media_days, policy.rule_for("express").media_days) == (
        90, 30)
    assert policy.rule_for(None).template_days == 365
    with pytest.raises(ScriptError, match="media_days"):
        parse_retention({"media_days": -1}, "products.x.retention")


def test_face_descriptors_of_the_background_index_are_sealed(vault: MediaVault, tmp_path,
                                                              desk):
    frame = expose(film(desk, Camera(), (640, 480)), Camera())
    view = background_view_from_mask(frame, ellipse_person((640, 480), 0.5))
    fingerprint = Fingerprinter(masker=None).from_view(view)  # type: ignore[arg-type]
    face = np.random.default_rng(3).normal(0, 0.1, 128).astype(np.float32)
    index = SceneIndex.open(tmp_path / "index", VaultTemplateSealer(vault))
    index.add([IndexEntry("s-desk", fingerprint, face)])
    raw = (tmp_path / "index" / INDEX_FILE).read_bytes() + b"".join(
        p.read_bytes() for p in (tmp_path / "index").glob("*-wal"))
    assert face.tobytes() not in raw and face[:8].tobytes() not in raw
    (hit,) = index.search(fingerprint).hits
    np.testing.assert_array_equal(hit.face, face)
    assert [m.kind for m in vault.list_media("s-desk")] == [ObjectKind.FACE_TEMPLATE]
    index.close()


def test_index_rows_hold_a_reference_and_deleted_faces_read_as_unknown(vault: MediaVault,
                                                                        tmp_path: Path):
    sealer = VaultTemplateSealer(vault)
    face = np.linspace(-1, 1, 128, dtype=np.float32)
    index = SceneIndex.open(tmp_path / "index", sealer)
    stored = index._face_blob("s9", face)
    assert stored.startswith(b"vault:sessions/s9/face_template/scene-")
    assert face.tobytes() not in (tmp_path / "index").joinpath("scene_index.sqlite3").read_bytes()
    assert np.array_equal(index._face(stored), face)
    vault.delete_personal_data("s9", actor="dpo", role="admin", reason="request")
    assert index._face(stored) is None
    assert np.array_equal(SceneIndex.open(tmp_path / "plain")._face(face.tobytes()), face)
    index.close()
