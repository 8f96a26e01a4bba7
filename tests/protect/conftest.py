"""Fixtures for the data-protection tests: a key ring, a data dir, a controllable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from verification.protect.audit import AuditLog
from verification.protect.keys import KeyRing, MasterKey
from verification.protect.store import EncryptedStore


class FakeClock:
    """A clock tests move by hand: retention is about days, and tests must not wait."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 1, 9, 0, tzinfo=UTC))


@pytest.fixture()
def master_key() -> MasterKey:
    return MasterKey.generate()


@pytest.fixture()
def store(tmp_path: Path, master_key: MasterKey, clock: FakeClock) -> EncryptedStore:
    return EncryptedStore.for_data_dir(tmp_path, KeyRing.of(master_key), clock=clock)


@pytest.fixture()
def audit(tmp_path: Path, clock: FakeClock) -> AuditLog:
    return AuditLog.for_data_dir(tmp_path, clock=clock)
