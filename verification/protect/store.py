"""EncryptedStore: sensitive objects in the data dir, encrypted at rest, addressed by object id.

ID photos, recordings, reference frames and face / voice templates go through this store and
nowhere else, so "nothing sensitive is readable on disk" is a property of one module. File names
are SHA-256 digests of the object id (an id such as ``sessions/<id>/id_photo`` would otherwise
leak on disk); a small SQLite index next to the objects keeps what retention and data-subject
deletion need (kind, subject, product, creation time) and nothing sensitive.

Writes go to a temporary file in the same folder and are renamed into place, so a crash never
leaves a half-written object under a real name, and plaintext never touches the disk.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from verification.errors import InvalidInputError
from verification.protect import envelope
from verification.protect.errors import ObjectNotFoundError
from verification.protect.keys import KeyRing, MasterKey, keyring_for_data_dir
from verification.protect.sqlite_util import connect, write_transaction

VAULT_SUBDIR = "vault"
INDEX_FILENAME = "index.sqlite3"
SUFFIX = ".venc"
MAX_OBJECT_ID_CHARS = 512

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    object_id  TEXT PRIMARY KEY,
    digest     TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    product    TEXT,
    created_at TEXT NOT NULL,
    size       INTEGER NOT NULL,
    key_id     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS objects_subject ON objects (subject);
CREATE INDEX IF NOT EXISTS objects_created ON objects (created_at);
"""


class ObjectKind(StrEnum):
    """What an object is: retention treats raw media and biometric templates differently."""

    ID_PHOTO = "id_photo"
    RECORDING = "recording"
    REFERENCE_FRAME = "reference_frame"
    FACE_TEMPLATE = "face_template"
    VOICE_TEMPLATE = "voice_template"
    VOICE_ENROLMENT = "voice_enrolment"  # the enrolment audio the loan system uploaded

    @property
    def is_template(self) -> bool:
        return self in (ObjectKind.FACE_TEMPLATE, ObjectKind.VOICE_TEMPLATE)

    @property
    def is_raw_media(self) -> bool:
        return not self.is_template


@dataclass(frozen=True)
class StoredObject:
    object_id: str
    kind: ObjectKind
    subject: str  # the data subject: the applicant / session reference deletion goes by
    product: str | None
    created_at: datetime
    size: int  # plaintext bytes
    key_id: str  # master key that wraps the data key (hex)


@dataclass(frozen=True)
class RewrapReport:
    rewrapped: int
    already_current: int
    new_key_id: str


def utc_now() -> datetime:
    return datetime.now(UTC)


def _check_object_id(object_id: str) -> str:
    if (not isinstance(object_id, str) or not object_id or len(object_id) > MAX_OBJECT_ID_CHARS
            or not object_id.isprintable()):
        raise InvalidInputError(f"invalid object id {object_id!r}: 1-{MAX_OBJECT_ID_CHARS} "
                                "printable characters")
    return object_id


def _check_kind(kind: ObjectKind | str) -> ObjectKind:
    try:
        return ObjectKind(kind)
    except ValueError:
        raise InvalidInputError(f"unknown object kind {kind!r}; one of "
                                f"{', '.join(k.value for k in ObjectKind)}") from None


def _as_stream(data: bytes | bytearray | memoryview | BinaryIO | Path) -> tuple[BinaryIO, bool]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(data)), True
    if isinstance(data, Path):
        try:
            return data.open("rb"), True
        except OSError as err:
            raise InvalidInputError(f"cannot read {data}: {err.strerror or err}") from None
    return data, False


class EncryptedStore:
    """put / get / delete of encrypted objects under ``<data dir>/vault``."""

    def __init__(self, root: Path, keyring: KeyRing, *,
                 clock: Callable[[], datetime] = utc_now,
                 chunk_bytes: int = envelope.DEFAULT_CHUNK_BYTES) -> None:
        self.root = Path(root)
        self.keyring = keyring
        self.clock = clock
        self.chunk_bytes = chunk_bytes
        self._index = self.root / INDEX_FILENAME
        (self.root / "objects").mkdir(parents=True, exist_ok=True)
        with connect(self._index) as conn:
            conn.executescript(_SCHEMA)

    @classmethod
    def for_data_dir(cls, data_dir: Path, keyring: KeyRing | None = None,
                     **kwargs: object) -> EncryptedStore:
        """The store of a data dir; the key ring defaults to the ``VERIFICATION_*`` config, or
        else the data dir's own ``master.key`` (see :func:`keyring_for_data_dir`)."""
        return cls(Path(data_dir) / VAULT_SUBDIR, keyring or keyring_for_data_dir(data_dir),
                   **kwargs)

    # -- paths ----------------------------------------------------------------------------------
    @staticmethod
    def _digest(object_id: str) -> str:
        return hashlib.sha256(object_id.encode("utf-8")).hexdigest()

    def _path(self, digest: str) -> Path:
        return self.root / "objects" / digest[:2] / f"{digest}{SUFFIX}"

    @staticmethod
    def _context(object_id: str) -> bytes:
        return b"verification/object/" + object_id.encode("utf-8")

    # -- write ----------------------------------------------------------------------------------
    def put(self, object_id: str, data: bytes | bytearray | memoryview | BinaryIO | Path, *,
            kind: ObjectKind | str, subject: str, product: str | None = None) -> StoredObject:
        """Encrypt ``data`` (bytes, a binary stream or a file path) under ``object_id``.

        Streams are read one chunk at a time, so a long recording never sits in memory. An
        existing object with the same id is replaced.
        """
        object_id = _check_object_id(object_id)
        kind = _check_kind(kind)
        if not subject:
            raise InvalidInputError("every stored object needs a data subject reference")
        digest = self._digest(object_id)
        final = self._path(digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.with_name(f".{digest}.{secrets.token_hex(6)}.tmp")
        source, owned = _as_stream(data)
        try:
            with temp.open("wb") as sink:
                size = envelope.encrypt_stream(source, sink, self.keyring.primary,
                                               self._context(object_id), self.chunk_bytes)
                sink.flush()
                os.fsync(sink.fileno())
            record = StoredObject(object_id, kind, subject, product, self.clock(), size,
                                  self.keyring.primary.key_id_hex)
            with connect(self._index) as conn, write_transaction(conn):
                conn.execute(
                    "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (object_id, digest, kind.value, subject, product,
                     record.created_at.astimezone(UTC).isoformat(), size, record.key_id))
                os.replace(temp, final)
        finally:
            if owned:
                source.close()
            temp.unlink(missing_ok=True)
        return record

    # -- read -----------------------------------------------------------------------------------
    def info(self, object_id: str) -> StoredObject:
        with connect(self._index) as conn:
            row = conn.execute("SELECT * FROM objects WHERE object_id = ?",
                               (_check_object_id(object_id),)).fetchone()
        if row is None:
            raise ObjectNotFoundError(f"no stored object {object_id!r}")
        return _record(row)

    def exists(self, object_id: str) -> bool:
        try:
            self.info(object_id)
        except ObjectNotFoundError:
            return False
        return True

    def _open(self, object_id: str) -> BinaryIO:
        self.info(object_id)
        try:
            return self._path(self._digest(object_id)).open("rb")
        except FileNotFoundError:
            raise ObjectNotFoundError(f"stored object {object_id!r} is indexed but its file "
                                      "is missing") from None

    def stream(self, object_id: str) -> Iterator[bytes]:
        """Plaintext chunks; the last chunk's authentication is checked before it is yielded."""
        with self._open(object_id) as source:
            yield from envelope.decrypt_stream(source, self.keyring, self._context(object_id))

    def get(self, object_id: str) -> bytes:
        return b"".join(self.stream(object_id))

    def read_range(self, object_id: str, start: int, stop: int) -> bytes:
        """Plaintext bytes ``[start, stop)`` (clipped to the object) for HTTP range requests."""
        with self._open(object_id) as source:
            stored = os.fstat(source.fileno()).st_size
            return b"".join(envelope.read_range(source, stored, self.keyring,
                                                self._context(object_id), start, stop))

    def list_objects(self, *, subject: str | None = None,
                     kind: ObjectKind | str | None = None) -> list[StoredObject]:
        clauses, params = [], []
        if subject is not None:
            clauses.append("subject = ?")
            params.append(subject)
        if kind is not None:
            clauses.append("kind = ?")
            params.append(_check_kind(kind).value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with connect(self._index) as conn:
            rows = conn.execute(f"SELECT * FROM objects{where} ORDER BY created_at, object_id",
                                params).fetchall()
        return [_record(row) for row in rows]

    # -- delete ---------------------------------------------------------------------------------
    def delete(self, object_id: str) -> bool:
        """Remove an object; returns False when there was none.

        The header (with the only wrapped copy of the data key) is overwritten before unlinking:
        even if the filesystem keeps the old blocks, the payload can no longer be decrypted.
        """
        object_id = _check_object_id(object_id)
        path = self._path(self._digest(object_id))
        with connect(self._index) as conn, write_transaction(conn):
            gone = conn.execute("DELETE FROM objects WHERE object_id = ?", (object_id,)).rowcount
            if path.exists():
                _shred_header(path)
                path.unlink()
                gone = 1
        return bool(gone)

    # -- key rotation ---------------------------------------------------------------------------
    def rewrap_all(self, new_key: MasterKey) -> RewrapReport:
        """Re-wrap every data key under ``new_key``; payloads are copied, never re-encrypted.

        The current key ring must still hold the old keys. Afterwards ``new_key`` is primary and
        the old keys stay readable until the operator removes them from the configuration.
        """
        ring = KeyRing.of(new_key, (self.keyring.primary, *self.keyring.previous))
        done = current = 0
        for record in self.list_objects():
            if record.key_id == new_key.key_id_hex:
                current += 1
                continue
            self._rewrap_one(record.object_id, ring, new_key)
            done += 1
        self.keyring = ring
        return RewrapReport(done, current, new_key.key_id_hex)

    def _rewrap_one(self, object_id: str, ring: KeyRing, new_key: MasterKey) -> None:
        digest = self._digest(object_id)
        path = self._path(digest)
        temp = path.with_name(f".{digest}.{secrets.token_hex(6)}.tmp")
        try:
            with path.open("rb") as source, temp.open("wb") as sink:
                header = source.read(envelope.HEADER_BYTES)
                sink.write(envelope.rewrap(header, ring, new_key, self._context(object_id)))
                while block := source.read(1024 * 1024):
                    sink.write(block)
                sink.flush()
                os.fsync(sink.fileno())
            with connect(self._index) as conn, write_transaction(conn):
                conn.execute("UPDATE objects SET key_id = ? WHERE object_id = ?",
                             (new_key.key_id_hex, object_id))
                os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)


def _shred_header(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.write(secrets.token_bytes(envelope.HEADER_BYTES))
        handle.flush()
        os.fsync(handle.fileno())


def _record(row: object) -> StoredObject:
    return StoredObject(row["object_id"], ObjectKind(row["kind"]), row["subject"],
                        row["product"], datetime.fromisoformat(row["created_at"]), row["size"],
                        row["key_id"])
