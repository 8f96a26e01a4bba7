"""Nothing sensitive readable on disk: store real media and embeddings, then scan every file."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from tests.protect_server.scan import readable_findings
from verification.protect.audit import AuditLog
from verification.protect.keys import KeyRing, MasterKey
from verification.protect.store import EncryptedStore


def _webm_clip(source: Path, frames: int = 12) -> bytes:
    """A short VP8 WebM made from a real test clip: what the server records."""
    out = io.BytesIO()
    with av.open(str(source)) as src, av.open(out, "w", format="webm") as dst:
        stream = dst.add_stream("libvpx", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i, frame in enumerate(src.decode(video=0)):
            if i >= frames:
                break
            for packet in stream.encode(frame.reformat(320, 240, "yuv420p")):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    return out.getvalue()


@pytest.fixture(scope="module")
def sensitive(data_dir: Path) -> dict[str, tuple[str, bytes]]:
    face = np.load(data_dir / "golden" / "face_embedding.npz")["out__descriptor"][0]
    voice = np.load(data_dir / "golden" / "speaker_embedding.npz")["out__embedding"][0]
    npy = io.BytesIO()
    np.save(npy, voice.astype(np.float32))
    return {
        "s1/id_photo": ("id_photo", (data_dir / "faces_id" / "097_neutral.jpg").read_bytes()),
        "s1/reference_frame": ("reference_frame", (data_dir / "faces" / "lisa1.jpg").read_bytes()),
        "s1/scene": ("reference_frame",
                     (data_dir / "scenes" / "two_people_basketball.png").read_bytes()),
        "s1/answer_audio": ("recording",
                            (data_dir / "speech" / "1688-142285-0002.flac").read_bytes()),
        "s1/recording": ("recording", _webm_clip(data_dir / "video" / "bbaf2n.mpg")),
        "s1/face_template": ("face_template", face.astype(np.float32).tobytes()),
        "s1/face_template_f64": ("face_template", face.astype(np.float64).tobytes()),
        "s1/voice_template": ("voice_template", npy.getvalue()),
    }


def test_data_dir_holds_no_readable_media_or_embeddings(tmp_path: Path, sensitive):
    store = EncryptedStore.for_data_dir(tmp_path, KeyRing.of(MasterKey.generate()))
    audit = AuditLog.for_data_dir(tmp_path)
    assert sensitive["s1/recording"][1].startswith(b"\x1a\x45\xdf\xa3")  # a real WebM
    for object_id, (kind, data) in sensitive.items():
        store.put(object_id, data, kind=kind, subject="s1", product="quick")
        audit.append(actor="alice", role="reviewer", action="recording.play", target=object_id)
    for object_id, (_, data) in sensitive.items():
        assert store.get(object_id) == data

    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) >= len(sensitive)
    assert _readable_findings(tmp_path, sensitive) == []


def _readable_findings(root: Path, sensitive) -> list[str]:
    return readable_findings(root, {oid: data for oid, (_, data) in sensitive.items()})


@pytest.mark.parametrize("object_id", ["s1/id_photo", "s1/recording", "s1/answer_audio",
                                       "s1/scene", "s1/face_template", "s1/voice_template"])
def test_the_scan_does_find_plaintext(tmp_path: Path, sensitive, object_id: str):
    """Control: the same scan flags each kind of object when it is written in the clear."""
    (tmp_path / "leak.bin").write_bytes(b"prefix" + sensitive[object_id][1])
    assert any(object_id in f or "readable" in f for f in _readable_findings(tmp_path, sensitive))
