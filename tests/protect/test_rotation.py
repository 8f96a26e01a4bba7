"""Key rotation: a new master key re-wraps data keys; payloads are not re-encrypted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from verification.errors import VerificationError
from verification.protect import envelope
from verification.protect.errors import KeyConfigError, WrongKeyError
from verification.protect.keys import ENV_KEY, ENV_KEY_FILE, ENV_PREVIOUS_KEYS, KeyRing, MasterKey
from verification.protect.store import EncryptedStore


def test_rewrap_moves_every_object_to_the_new_key_without_touching_payloads(tmp_path: Path):
    old, new = MasterKey.generate(), MasterKey.generate()
    store = EncryptedStore(tmp_path, KeyRing.of(old), chunk_bytes=4096)
    payloads = {f"o{i}": os.urandom(10_000 + i) for i in range(4)}
    for object_id, data in payloads.items():
        store.put(object_id, data, kind="recording", subject="s")
    bodies = {oid: store._path(store._digest(oid)).read_bytes()[envelope.HEADER_BYTES:]
              for oid in payloads}

    report = store.rewrap_all(new)
    assert (report.rewrapped, report.already_current) == (4, 0)
    assert report.new_key_id == new.key_id_hex

    only_new = EncryptedStore(tmp_path, KeyRing.of(new))
    for object_id, data in payloads.items():
        assert only_new.get(object_id) == data
        assert only_new.info(object_id).key_id == new.key_id_hex
        body = only_new._path(only_new._digest(object_id)).read_bytes()[envelope.HEADER_BYTES:]
        assert body == bodies[object_id]  # ciphertext unchanged: only the header moved
    with pytest.raises(WrongKeyError):
        EncryptedStore(tmp_path, KeyRing.of(old)).get("o0")
    # Running it again is a no-op.
    assert only_new.rewrap_all(new).already_current == 4


def test_key_ring_from_environment_and_file(tmp_path: Path):
    primary, previous = MasterKey.generate(), MasterKey.generate()
    ring = KeyRing.from_env({ENV_KEY: primary.to_base64(),
                             ENV_PREVIOUS_KEYS: f" {previous.to_base64()} ,"})
    assert ring.primary == primary and ring.previous == (previous,)
    key_file = tmp_path / "master.key"
    key_file.write_text(primary.to_base64() + "\n")
    assert KeyRing.from_env({ENV_KEY_FILE: str(key_file)}).primary == primary
    assert primary.to_base64() not in repr(ring) and str(primary.secret) not in repr(ring)


@pytest.mark.parametrize("env, words", [
    ({}, "no master key"),
    ({ENV_KEY: "not base64!!"}, "base64"),
    ({ENV_KEY: "c2hvcnQ="}, "32 bytes"),
    ({ENV_KEY_FILE: "/nonexistent/master.key"}, "does not exist"),
])
def test_bad_key_configuration_is_a_clear_error(env, words):
    with pytest.raises(KeyConfigError, match=words) as info:
        KeyRing.from_env(env)
    assert isinstance(info.value, VerificationError)


def test_data_protection_opens_all_stores_of_a_data_dir(tmp_path: Path, monkeypatch):
    from verification.protect.context import DataProtection

    key = MasterKey.generate()
    monkeypatch.setenv(ENV_KEY, key.to_base64())
    protection = DataProtection.for_data_dir(tmp_path)
    protection.store.put("o", b"x" * 10, kind="id_photo", subject="s")
    protection.audit.append(actor="a", role="reviewer", action="session.view", target="s")
    assert protection.store.keyring.primary == key
    assert {p.name for p in tmp_path.iterdir()} >= {"vault", "audit.sqlite3", "accounts.sqlite3"}
