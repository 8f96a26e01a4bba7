"""The one place the console reads an interview's media: recording, ID photo, reference frame.

Every route that streams media calls :func:`open_media`. Media lives encrypted in the app's
:class:`verification.protect.media.MediaVault` (``core.vault``): session rows point at it with
``vault:sessions/<id>/<kind>[/<part>]`` references (recording, ID photo) and the reference face
frame is the object ``sessions/<id>/reference_frame``. Reads are ranges, decrypted chunk by
chunk, so seeking in a long recording never decrypts the whole file. Rows written before the
vault existed still name plain files; those are read as files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from verification.protect.errors import ObjectNotFoundError
from verification.protect.media import object_id, parse_vault_ref, sniff_content_type
from verification.store.schema import InterviewSessionRow
from verification.workflow import repository as repo

PLAYABLE_SUFFIXES = (".mkv", ".webm")
# The recordings are Matroska with VP8/H.264 + Opus; browsers play them as WebM.
RECORDING_TYPE = "video/webm"


class MediaKind(StrEnum):
    RECORDING = "recording"
    ID_PHOTO = "id_photo"
    REFERENCE_FRAME = "reference_frame"


@dataclass(frozen=True)
class MediaSource:
    size: int
    read: Callable[[int, int], bytes]  # plaintext bytes [start, stop)
    declared_type: str | None = None  # known from the kind; otherwise sniffed on demand

    @property
    def content_type(self) -> str:
        """Sniffed only when a response needs it: the session view asks whether media exists
        (size from the vault's index) and must not decrypt a chunk of each object for that."""
        return self.declared_type or sniff_content_type(self.read(0, 64))


def _from_file(path: Path, content_type: str | None = None) -> MediaSource | None:
    try:
        if not path.is_file():
            return None
        size = path.stat().st_size
    except OSError:
        return None

    def read(start: int, stop: int) -> bytes:
        with path.open("rb") as handle:
            handle.seek(start)
            return handle.read(max(0, stop - start))

    return MediaSource(size, read, content_type)


def _from_vault(vault: Any, key: str, content_type: str | None = None) -> MediaSource | None:
    store = getattr(vault, "store", None)
    if store is None:
        return None
    try:
        size = store.info(key).size
    except ObjectNotFoundError:
        return None
    return MediaSource(size, lambda start, stop: store.read_range(key, start, stop),
                       content_type)


def _stored(core: Any, reference: str | None, content_type: str | None = None,
            playable_only: bool = False) -> MediaSource | None:
    """A ``vault:`` reference or (older rows) a plain file path."""
    if not reference:
        return None
    key = parse_vault_ref(reference)
    if key is not None:
        return _from_vault(getattr(core, "vault", None), key, content_type)
    if playable_only and Path(reference).suffix.lower() not in PLAYABLE_SUFFIXES:
        return None  # segments that could not be joined (an ffconcat playlist)
    return _from_file(Path(reference), content_type)


def media_of_row(core: Any, row: InterviewSessionRow, kind: MediaKind) -> MediaSource | None:
    if kind is MediaKind.RECORDING:
        return _stored(core, row.recording_path, RECORDING_TYPE, playable_only=True)
    if kind is MediaKind.ID_PHOTO:
        return _stored(core, row.id_photo_path)
    return _from_vault(getattr(core, "vault", None), object_id(row.id, kind.value),
                       "image/jpeg")


def open_media(core: Any, session_id: str, kind: MediaKind | str) -> MediaSource | None:
    """The media of one session, or ``None`` when it does not exist (never recorded, purged)."""
    kind = MediaKind(kind)
    with repo.session_factory(core.engine)() as db:
        row = repo.get_session(db, session_id)
    return None if row is None else media_of_row(core, row, kind)
