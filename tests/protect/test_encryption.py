"""Encryption at rest: round trips, bounded memory, range reads, tampering and wrong keys."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from pathlib import Path

import pytest

from verification.errors import VerificationError
from verification.protect import envelope
from verification.protect.errors import ObjectNotFoundError, TamperedObjectError, WrongKeyError
from verification.protect.keys import KeyRing, MasterKey
from verification.protect.store import EncryptedStore, ObjectKind


class PatternStream(io.RawIOBase):
    """``size`` bytes of a deterministic pattern, generated on demand (never all in memory)."""

    def __init__(self, size: int) -> None:
        self.size, self.pos = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.size - self.pos, 256 * 1024)
        if n <= 0:
            return 0
        first, last = self.pos // 4096, (self.pos + n - 1) // 4096
        blocks = b"".join(hashlib.sha256(str(i).encode()).digest() * 128  # 4 KiB each
                          for i in range(first, last + 1))
        start = self.pos - first * 4096
        buffer[:n] = blocks[start:start + n]
        self.pos += n
        return n


def _object_file(store: EncryptedStore, object_id: str) -> Path:
    return store._path(store._digest(object_id))


@pytest.mark.parametrize("size", [0, 1, 1023, 1024, 1025, 3 * 1024, 5000])
def test_round_trip_and_ranges_at_chunk_edges(tmp_path: Path, master_key: MasterKey, size: int):
    store = EncryptedStore(tmp_path / "vault", KeyRing.of(master_key), chunk_bytes=1024)
    data = os.urandom(size)
    record = store.put("obj", data, kind=ObjectKind.RECORDING, subject="applicant-1")
    assert record.size == size and record.key_id == master_key.key_id_hex
    assert store.get("obj") == data
    for start, stop in [(0, size), (3, 1500), (1024, 2048), (size - 1, size + 10), (10, 5)]:
        assert store.read_range("obj", start, stop) == data[max(start, 0):stop]


def test_large_streamed_object_round_trips_in_bounded_memory(store: EncryptedStore):
    size = 24 * 1024 * 1024 + 12345
    expected = hashlib.sha256()
    reference = PatternStream(size)
    while block := reference.read(1 << 20):
        expected.update(block)

    tracemalloc.start()
    try:
        record = store.put("sessions/s1/recording", io.BufferedReader(PatternStream(size)),
                           kind="recording", subject="s1")
        got = hashlib.sha256()
        for chunk in store.stream("sessions/s1/recording"):
            got.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert record.size == size
    assert got.hexdigest() == expected.hexdigest()
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes: the object was not streamed"
    # Seeking near the end decrypts only what it needs and still matches the plaintext.
    tail = store.read_range("sessions/s1/recording", size - 70000, size)
    reference = PatternStream(size)
    reference.pos = size - 70000
    assert tail == reference.read(70000)


def test_put_from_file_path_and_delete(store: EncryptedStore, data_dir: Path):
    photo = data_dir / "faces" / "lisa1.jpg"
    store.put("s1/id_photo", photo, kind="id_photo", subject="s1", product="quick")
    assert store.get("s1/id_photo") == photo.read_bytes()
    path = _object_file(store, "s1/id_photo")
    assert path.exists()
    assert store.delete("s1/id_photo") is True
    assert not path.exists()
    assert store.delete("s1/id_photo") is False
    with pytest.raises(ObjectNotFoundError):
        store.get("s1/id_photo")


def test_file_names_do_not_reveal_object_ids(store: EncryptedStore):
    store.put("sessions/ACME-LOAN-42/id_photo", b"x" * 100, kind="id_photo", subject="ACME-42")
    names = [p.name for p in store.root.rglob("*.venc")]
    assert names and not any("ACME" in n for n in names)


def test_wrong_master_key_names_the_key_it_needs(tmp_path: Path, master_key: MasterKey):
    EncryptedStore(tmp_path, KeyRing.of(master_key)).put("o", b"secret" * 100, kind="recording",
                                                         subject="a")
    other = EncryptedStore(tmp_path, KeyRing.of(MasterKey.generate()))
    with pytest.raises(WrongKeyError, match=master_key.key_id_hex):
        other.get("o")


@pytest.mark.parametrize("where", ["payload", "last_byte", "wrapped_key", "prefix"])
def test_a_flipped_byte_is_a_clear_tamper_error(store: EncryptedStore, where: str):
    store.put("o", os.urandom(200_000), kind="recording", subject="a")
    path = _object_file(store, "o")
    raw = bytearray(path.read_bytes())
    offset = {"payload": envelope.HEADER_BYTES + 70_000, "last_byte": len(raw) - 1,
              "wrapped_key": envelope.HEADER_BYTES - 5, "prefix": 20}[where]
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(TamperedObjectError) as info:
        store.get("o")
    assert isinstance(info.value, VerificationError) and str(info.value)


def test_edited_key_id_is_reported_as_unknown_key(store: EncryptedStore):
    store.put("o", b"abc" * 1000, kind="recording", subject="a")
    path = _object_file(store, "o")
    raw = bytearray(path.read_bytes())
    raw[6] ^= 0xFF  # inside the key id
    path.write_bytes(bytes(raw))
    with pytest.raises(WrongKeyError):
        store.get("o")


def test_truncation_at_a_chunk_boundary_is_detected(tmp_path: Path, master_key: MasterKey):
    store = EncryptedStore(tmp_path, KeyRing.of(master_key), chunk_bytes=1024)
    store.put("o", os.urandom(4096), kind="recording", subject="a")
    path = _object_file(store, "o")
    raw = path.read_bytes()
    path.write_bytes(raw[:envelope.HEADER_BYTES + 2 * (1024 + envelope.TAG_BYTES)])
    with pytest.raises(TamperedObjectError):
        store.get("o")


def test_an_object_copied_over_another_does_not_decrypt(store: EncryptedStore):
    store.put("alice/photo", b"A" * 5000, kind="id_photo", subject="alice")
    store.put("bob/photo", b"B" * 5000, kind="id_photo", subject="bob")
    _object_file(store, "bob/photo").write_bytes(_object_file(store, "alice/photo").read_bytes())
    with pytest.raises(TamperedObjectError):
        store.get("bob/photo")


def test_not_an_encrypted_file(store: EncryptedStore):
    store.put("o", b"hello", kind="recording", subject="a")
    _object_file(store, "o").write_bytes(b"\xff\xd8\xff\xe0 plaintext jpeg")
    with pytest.raises(TamperedObjectError, match="not an encrypted object"):
        store.get("o")


def test_invalid_object_id_and_missing_subject_are_input_errors(store: EncryptedStore):
    with pytest.raises(VerificationError):
        store.put("", b"x", kind="recording", subject="a")
    with pytest.raises(VerificationError):
        store.put("o", b"x", kind="recording", subject="")
    with pytest.raises(VerificationError, match="passport_scan"):
        store.put("o", b"x", kind="passport_scan", subject="a")
