"""The one way the server stores and reads an applicant's media and biometric templates.

Every writer (loan intake: ID photo and enrolment audio; the interview: recording and reference
face frame; the background index: face descriptors) and every reader (interview driver, admin
API, reviewer console, data-subject deletion) goes through :class:`MediaVault`, so "nothing
sensitive is readable on disk" and "a deletion request removes everything" hold by construction.
Objects are addressed by ``(session_id, kind)`` and live encrypted in the data dir's
:class:`~verification.protect.store.EncryptedStore` (AES-256-GCM, per-object data keys).

For the reviewer console (HTTP Range serving of recordings and photos)::

    vault = request.app.state.core.vault            # a MediaVault
    size = vault.media_size(session_id, "recording")  # plaintext bytes, for Content-Length
    ctype = vault.content_type(session_id, "recording")  # sniffed: video/webm, image/jpeg, ...
    body = vault.read_range(session_id, "recording", start, stop)  # bytes [start, stop)
    photo = vault.read_media(session_id, "id_photo")  # whole object (small objects only)

``read_range`` decrypts only the 64 KiB chunks that hold the range, so seeking in a long
recording is cheap; ``stream_media`` yields the whole object chunk by chunk for a full
download. A missing object raises :class:`~verification.protect.errors.ObjectNotFoundError`
(``code = "object_not_found"``, map it to 404). The vault does not audit reads: the console
records ``recording.play`` / ``session.view`` in the audit log itself, where it knows the user.

Plaintext on disk: decoders that need a file path (FFmpeg for audio, the recording joiner) get
:meth:`MediaVault.plaintext_file`, a 0600 file in ``<data dir>/spool`` that is deleted when the
``with`` block ends; the server empties ``spool/`` at start, so a crash leaves no plaintext
behind after the next start.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from verification.errors import InvalidInputError
from verification.protect.audit import AuditLog
from verification.protect.errors import ObjectNotFoundError
from verification.protect.keys import KeyRing, keyring_for_data_dir
from verification.protect.retention import (
    DeletionReport,
    PurgeReport,
    RetentionPolicy,
    delete_subject,
    purge,
)
from verification.protect.store import EncryptedStore, ObjectKind, StoredObject

log = logging.getLogger(__name__)

SPOOL_SUBDIR = "spool"
VAULT_REF_PREFIX = "vault:"  # how database rows point at a stored object

_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"WEBP", 8, "image/webp"),
    (b"fLaC", 0, "audio/flac"),
    (b"WAVE", 8, "audio/wav"),
    (b"OggS", 0, "audio/ogg"),
)


def object_id(session_id: str, kind: ObjectKind | str, part: str | None = None) -> str:
    """``sessions/<session id>/<kind>[/<part>]``: the store key of one session's object."""
    kind = ObjectKind(kind)
    if not session_id or "/" in session_id or not session_id.isprintable():
        raise InvalidInputError(f"invalid session id {session_id!r}")
    suffix = f"/{part}" if part else ""
    return f"sessions/{session_id}/{kind.value}{suffix}"


def vault_ref(session_id: str, kind: ObjectKind | str) -> str:
    """What a database row stores instead of a file path (``vault:sessions/<id>/<kind>``)."""
    return VAULT_REF_PREFIX + object_id(session_id, kind)


def sniff_content_type(head: bytes) -> str:
    """The media type of an object from its first bytes (no file names are kept)."""
    for magic, offset, media_type in _SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            return media_type
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM when the doctype says so
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    return "application/octet-stream"


@dataclass(frozen=True)
class MediaObject:
    """One stored object of a session, as listed for a console or a deletion report."""

    session_id: str
    kind: ObjectKind
    object_id: str
    size: int
    created_at: datetime
    product: str | None


class MediaVault:
    """Encrypted media and templates of interview sessions in one data dir (thread-safe)."""

    def __init__(self, store: EncryptedStore, audit: AuditLog, spool: Path) -> None:
        self.store = store
        self.audit = audit
        self.spool = Path(spool)

    @classmethod
    def for_data_dir(cls, data_dir: Path, keyring: KeyRing | None = None, *,
                     create_key: bool = False,
                     clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> MediaVault:
        """Open the vault of ``data_dir``; ``create_key`` lets a fresh data dir make its key."""
        data_dir = Path(data_dir)
        keyring = keyring or keyring_for_data_dir(data_dir, create=create_key)
        return cls(EncryptedStore.for_data_dir(data_dir, keyring, clock=clock),
                   AuditLog.for_data_dir(data_dir, clock=clock), data_dir / SPOOL_SUBDIR)

    # -- write ------------------------------------------------------------------------------
    def save_media(self, kind: ObjectKind | str, session_id: str,
                   data: bytes | bytearray | memoryview | BinaryIO | Path, *,
                   product: str | None = None, part: str | None = None) -> StoredObject:
        """Encrypt bytes, a binary stream or a file (read chunk by chunk) for ``session_id``.

        The data subject is the session id, so a deletion request for the session finds it.
        Saving a path does not remove the file: callers that held plaintext delete it
        (:meth:`save_and_remove`).
        """
        return self.store.put(object_id(session_id, kind, part), data, kind=kind,
                              subject=session_id, product=product)

    def save_and_remove(self, kind: ObjectKind | str, session_id: str, path: Path, *,
                        product: str | None = None, part: str | None = None) -> StoredObject:
        """Encrypt a plaintext file into the vault, then delete the file."""
        try:
            return self.save_media(kind, session_id, Path(path), product=product, part=part)
        finally:
            Path(path).unlink(missing_ok=True)

    # -- read -------------------------------------------------------------------------------
    def has_media(self, session_id: str, kind: ObjectKind | str, part: str | None = None) -> bool:
        return self.store.exists(object_id(session_id, kind, part))

    def read_media(self, session_id: str, kind: ObjectKind | str,
                   part: str | None = None) -> bytes:
        """The whole plaintext (ID photos, frames, templates; stream recordings instead)."""
        return self.store.get(object_id(session_id, kind, part))

    def stream_media(self, session_id: str, kind: ObjectKind | str,
                     part: str | None = None) -> Iterator[bytes]:
        """Plaintext in chunks of at most 64 KiB (a full download of a recording)."""
        return self.store.stream(object_id(session_id, kind, part))

    def media_size(self, session_id: str, kind: ObjectKind | str, part: str | None = None) -> int:
        """Plaintext size in bytes (``Content-Length`` / ``Content-Range`` total)."""
        return self.store.info(object_id(session_id, kind, part)).size

    def read_range(self, session_id: str, kind: ObjectKind | str, start: int, stop: int,
                   part: str | None = None) -> bytes:
        """Plaintext bytes ``[start, stop)`` (half-open, clipped to the object).

        An HTTP ``Range: bytes=a-b`` header is inclusive: pass ``start=a, stop=b + 1``.
        """
        return self.store.read_range(object_id(session_id, kind, part), start, stop)

    def read_reference(self, ref: str) -> bytes:
        """The plaintext behind a ``vault:`` reference as stored in a database row (e.g. the
        ``recording`` of ``GET /v1/admin/sessions/{id}``)."""
        key = parse_vault_ref(ref)
        if key is None:
            raise InvalidInputError(f"not a vault reference: {ref!r}")
        return self.store.get(key)

    def content_type(self, session_id: str, kind: ObjectKind | str,
                     part: str | None = None) -> str:
        return sniff_content_type(self.read_range(session_id, kind, 0, 64, part))

    def list_media(self, session_id: str) -> list[MediaObject]:
        return [MediaObject(r.subject, r.kind, r.object_id, r.size, r.created_at, r.product)
                for r in self.store.list_objects(subject=session_id)]

    @contextmanager
    def plaintext_file(self, session_id: str, kind: ObjectKind | str, suffix: str = "",
                       part: str | None = None) -> Iterator[Path]:
        """A decrypted copy for decoders that need a path; deleted when the block ends."""
        with self.plaintext_object(object_id(session_id, kind, part), suffix) as path:
            yield path

    @contextmanager
    def plaintext_object(self, key: str, suffix: str = "") -> Iterator[Path]:
        """:meth:`plaintext_file` by store key (e.g. from a ``vault:`` reference)."""
        path = self.spool_path(f"object{suffix}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as sink:
                for chunk in self.store.stream(key):
                    sink.write(chunk)
            yield path
        finally:
            path.unlink(missing_ok=True)

    def spool_path(self, name: str) -> Path:
        """A fresh, unused path in the spool dir (short-lived plaintext lives only there)."""
        self.spool.mkdir(parents=True, exist_ok=True)
        os.chmod(self.spool, 0o700)
        return self.spool / f"{secrets.token_hex(8)}-{name}"

    def clear_spool(self) -> int:
        """Remove leftovers of a crash (plaintext that was never encrypted); returns a count."""
        if not self.spool.exists():
            return 0
        removed = 0
        for entry in self.spool.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
        return removed

    # -- retention and deletion -----------------------------------------------------------------
    def delete_personal_data(self, session_id: str, *, actor: str, role: str,
                             reason: str) -> DeletionReport:
        """Remove every object of ``session_id`` and record the request in the audit log."""
        return delete_subject(self.store, self.audit, session_id, actor=actor, role=role,
                              reason=reason)

    def purge(self, policy: RetentionPolicy, now: datetime | None = None) -> PurgeReport:
        """Delete what ``policy`` says has expired (audited when anything was deleted)."""
        return purge(self.store, policy, self.audit, now=now)


def parse_vault_ref(value: str | None) -> str | None:
    """The object id inside a ``vault:`` reference, or None for anything else."""
    if value and value.startswith(VAULT_REF_PREFIX):
        return value[len(VAULT_REF_PREFIX):]
    return None


class VaultTemplateSealer:
    """Face descriptors of the background index (``verification.scene.index``) in the vault.

    The index row keeps ``vault:<object id>``; the descriptor itself is a ``face_template``
    object of the session, so retention, key rotation and deletion requests cover it like any
    other template. A descriptor already deleted reads back as ``None`` (the index then treats
    the row as "face unknown").
    """

    def __init__(self, vault: MediaVault) -> None:
        self.vault = vault

    def seal(self, session_id: str, raw: bytes) -> bytes:
        part = f"scene-{secrets.token_hex(6)}"
        stored = self.vault.save_media(ObjectKind.FACE_TEMPLATE, session_id, raw, part=part,
                                       product=self._product(session_id))
        return (VAULT_REF_PREFIX + stored.object_id).encode("utf-8")

    def unseal(self, stored: bytes) -> bytes | None:
        key = parse_vault_ref(stored.decode("utf-8", "replace"))
        if key is None:
            return stored  # a row written before the index was sealed
        try:
            return self.vault.store.get(key)
        except ObjectNotFoundError:
            return None

    def _product(self, session_id: str) -> str | None:
        return next((m.product for m in self.vault.list_media(session_id) if m.product), None)
