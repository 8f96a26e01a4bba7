"""Data-subject deletion of one session: everything personal the server stored as media.

The encrypted objects (ID photo, enrolment audio, recording parts, reference frame, face and
voice templates) go through :meth:`MediaVault.delete_personal_data`, which crypto-shreds each
object's header and records the request in the audit log. Files a server from before
encryption at rest may have left in the clear (``sessions/<id>/``, ``recordings/<id>/*.mkv``)
are removed too, and the spool folder of the session in case an interview was cut short.
Verdicts, decisions and the audit log stay: they are the record of what was decided.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from verification.protect.media import MediaVault
from verification.protect.retention import DeletionReport
from verification.protect.roles import Role

LEGACY_MEDIA_SUFFIXES = (".mkv", ".webm", ".ffconcat")


def forget_session(vault: MediaVault, data_dir: Path, session_id: str, *, actor: str,
                   reason: str) -> DeletionReport:
    """Blocking (file deletions): call from a worker thread."""
    if not session_id or Path(session_id).name != session_id or session_id in (".", ".."):
        raise ValueError(f"not a session id: {session_id!r}")  # never a path outside the dirs
    report = vault.delete_personal_data(session_id, actor=actor, role=Role.ADMIN.value,
                                        reason=reason)
    data_dir = Path(data_dir)
    shutil.rmtree(data_dir / "sessions" / session_id, ignore_errors=True)
    shutil.rmtree(vault.spool / "recordings" / session_id, ignore_errors=True)
    recordings = data_dir / "recordings" / session_id
    if recordings.is_dir():
        for path in recordings.iterdir():
            if path.suffix.lower() in LEGACY_MEDIA_SUFFIXES:
                path.unlink(missing_ok=True)
    return report
