"""Where an interview's recording and reference face frame go when the interview ends.

Plaintext window: the passthrough muxer (``signaling.recording``) must write a seekable
Matroska file, and joining segments needs FFmpeg on real files, so the recording exists in the
clear *while the interview runs*. It is written under ``<data dir>/spool/recordings/<id>/``
(mode 0700), never under ``recordings/``: when the interview ends the joined file is encrypted
into the vault chunk by chunk and deleted at once (``seal_recording``), so the plaintext lives
for the interview plus the seconds the join and the encryption take. Keeping it in a spool dir
(rather than next to the manifests) is what makes crash recovery simple and safe: at the next
start, ``recover_spool`` encrypts whatever a crashed server left there (segments of an interview
that may still resume) and empties the spool, so no plaintext survives a restart and nothing
recorded is lost.

The recording's manifest (``recordings/<id>/recording.json``: segment times, codecs, sizes) is
not personal data and stays readable for operators.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from signaling.recording import RecordingResult
from verification.protect.media import MediaVault, vault_ref
from verification.protect.store import ObjectKind

log = logging.getLogger(__name__)

SPOOL_RECORDINGS = "recordings"


def spool_dir(vault: MediaVault, interview_id: str) -> Path:
    """The in-progress recording folder of one interview (plaintext only while it runs)."""
    return vault.spool / SPOOL_RECORDINGS / interview_id


def session_product(vault: MediaVault, interview_id: str) -> str | None:
    """The loan product the session's ID photo was stored under (drives retention)."""
    return next((m.product for m in vault.list_media(interview_id) if m.product), None)


def _free_part(vault: MediaVault, interview_id: str, stem: str) -> str | None:
    """None for the first recording of a session, else the next unused part name.

    An interview suspended by a server restart is finalised twice (before and after); the
    second recording must not replace the first.
    """
    if stem == "" and not vault.has_media(interview_id, ObjectKind.RECORDING):
        return None
    index = 1
    while vault.has_media(interview_id, ObjectKind.RECORDING, f"{stem or 'part'}-{index}"):
        index += 1
    return f"{stem or 'part'}-{index}"


def seal_recording(vault: MediaVault, interview_id: str, result: RecordingResult | None,
                   manifest_dir: Path) -> str | None:
    """Encrypt the finished recording, delete the plaintext; returns its ``vault:`` reference.

    Blocking (encryption streams the file): call it from a worker thread.
    """
    folder = spool_dir(vault, interview_id)
    try:
        if result is None or result.path is None:
            return None
        product = session_product(vault, interview_id)
        manifest = folder / "recording.json"
        if manifest.exists():
            manifest_dir.mkdir(parents=True, exist_ok=True)
            shutil.move(str(manifest), manifest_dir / "recording.json")
        if result.joined:
            part = _free_part(vault, interview_id, "")
            vault.save_and_remove(ObjectKind.RECORDING, interview_id, Path(result.path),
                                  product=product, part=part)
            return vault_ref(interview_id, ObjectKind.RECORDING) + (f"/{part}" if part else "")
        # The segments could not be joined (the codec changed between connections): each one
        # is kept as its own part, in order.
        refs = []
        for segment in sorted(folder.glob("segment-*.mkv")):
            part = _free_part(vault, interview_id, segment.stem)
            vault.save_and_remove(ObjectKind.RECORDING, interview_id, segment, product=product,
                                  part=part)
            refs.append(f"{vault_ref(interview_id, ObjectKind.RECORDING)}/{part}")
        return refs[0] if refs else None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def seal_reference_frame(vault: MediaVault, interview_id: str, streams: list[Any]) -> bool:
    """Store the best face frame of the interview (what the console shows beside the ID photo).

    The face analyzer's stream keeps it in memory as ``reference_frame``; it is encoded to JPEG
    here and goes straight into the vault.
    """
    for stream in streams:
        reference = getattr(stream, "reference_frame", None)
        if reference is None or not hasattr(reference, "face_jpeg"):
            continue
        data = reference.face_jpeg()
        if data:
            vault.save_media(ObjectKind.REFERENCE_FRAME, interview_id, data,
                             product=session_product(vault, interview_id))
            return True
    return False


def seal_leftovers(vault: MediaVault, interview_id: str) -> int:
    """Encrypt the non-empty segments left in an interview's spool folder, then remove it.

    For a crash (see :func:`recover_spool`) and for an interview discarded before it got
    going. Each segment becomes a ``recovered-*`` part of the interview's recording (a crash
    can leave a file without its index; FFmpeg still plays what was written).
    """
    folder = spool_dir(vault, interview_id)
    recovered = 0
    for segment in sorted(folder.glob("segment-*.mkv")):
        if segment.stat().st_size == 0:
            continue
        try:
            part = _free_part(vault, interview_id, f"recovered-{segment.stem}")
            vault.save_and_remove(ObjectKind.RECORDING, interview_id, segment,
                                  product=session_product(vault, interview_id), part=part)
            recovered += 1
        except Exception as err:  # a bad leftover must not stop the server
            log.warning("could not keep a spooled recording segment of %s: %s",
                        interview_id, err)
    shutil.rmtree(folder, ignore_errors=True)
    return recovered


def recover_spool(vault: MediaVault) -> int:
    """At start: encrypt recordings a crashed server left in the spool, then empty it."""
    recovered = 0
    root = vault.spool / SPOOL_RECORDINGS
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            recovered += seal_leftovers(vault, folder.name)
    removed = vault.clear_spool()
    if recovered or removed:
        log.warning("recovered %d recording segments left by an unclean stop; spool emptied",
                    recovered)
    return recovered
