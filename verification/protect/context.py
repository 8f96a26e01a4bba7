"""Everything data protection needs for one data dir, opened together.

The server, the console and the CLI each need the same three stores for the same data dir;
opening them through one call keeps the file layout (``vault/``, ``audit.sqlite3``,
``accounts.sqlite3``) in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from verification.protect.accounts import AccountStore
from verification.protect.audit import AuditLog
from verification.protect.keys import KeyRing
from verification.protect.store import EncryptedStore


@dataclass(frozen=True)
class DataProtection:
    store: EncryptedStore
    audit: AuditLog
    accounts: AccountStore

    @classmethod
    def for_data_dir(cls, data_dir: Path, keyring: KeyRing | None = None, *,
                     clock: Callable[[], datetime] = lambda: datetime.now(UTC)
                     ) -> DataProtection:
        """Open (creating when absent) the stores; the key ring defaults to the environment."""
        data_dir = Path(data_dir)
        return cls(EncryptedStore.for_data_dir(data_dir, keyring, clock=clock),
                   AuditLog.for_data_dir(data_dir, clock=clock),
                   AccountStore.for_data_dir(data_dir, clock=clock))
