"""The hash-chained audit log: appends verify; edits, removals and truncation are caught."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from verification.errors import VerificationError
from verification.protect.audit import GENESIS_HASH, AuditLog, canonical_json, entry_hash


def _fill(audit: AuditLog, n: int = 5) -> None:
    for i in range(1, n + 1):
        audit.append(actor=f"user{i}", role="reviewer", action="session.view",
                     target=f"session-{i}", details={"i": i, "note": "überprüft"})


def _raw(audit: AuditLog, sql: str, *params) -> None:
    """Tamper as someone with file access would: drop the guard triggers, then edit."""
    conn = sqlite3.connect(audit.path)
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def test_entries_chain_from_genesis_and_verify(audit: AuditLog):
    _fill(audit)
    entries = list(audit.entries())
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS_HASH
    for before, after in zip(entries, entries[1:], strict=False):
        assert after.prev_hash == before.hash
    first = entries[0]
    assert first.hash == entry_hash(1, first.time, "user1", "reviewer", "session.view",
                                    "session-1", {"i": 1, "note": "überprüft"}, GENESIS_HASH)
    assert first.time == "2026-01-01T09:00:00.000000+00:00"
    report = audit.verify()
    assert report.ok and report.entries == 5 and report.head_hash == entries[-1].hash


def test_canonical_json_is_order_independent():
    assert canonical_json({"b": 1, "a": [1, "ü"]}) == canonical_json({"a": [1, "ü"], "b": 1})
    assert canonical_json({"a": 1}) == '{"a":1}'


def test_the_database_refuses_updates_and_deletes(audit: AuditLog):
    _fill(audit, 2)
    conn = sqlite3.connect(audit.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE seq = 2")
    conn.close()


def test_an_edited_entry_is_the_first_broken_link(audit: AuditLog):
    _fill(audit)
    _raw(audit, "UPDATE audit_log SET details = ? WHERE seq = 3", '{"i":3,"note":"nothing"}')
    report = audit.verify()
    assert not report.ok and report.broken.seq == 3 and "edited" in report.broken.reason


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(audit: AuditLog):
    _fill(audit)
    entry = list(audit.entries())[2]
    forged = entry_hash(3, entry.time, "mallory", entry.role, entry.action, entry.target,
                        entry.details, entry.prev_hash)
    _raw(audit, "UPDATE audit_log SET actor = 'mallory', hash = ? WHERE seq = 3", forged)
    report = audit.verify()
    assert report.broken.seq == 4 and "prev_hash" in report.broken.reason


def test_a_deleted_entry_is_reported_at_the_gap(audit: AuditLog):
    _fill(audit)
    _raw(audit, "DELETE FROM audit_log WHERE seq = 2")
    report = audit.verify()
    assert not report.ok and report.broken.seq == 3 and "expected entry 2" in report.broken.reason


def test_removing_the_newest_entries_is_caught_by_an_anchored_head(audit: AuditLog):
    _fill(audit, 4)
    anchor = audit.verify().head_hash
    _fill(audit, 1)
    assert audit.verify(expect_head=anchor).ok  # the log may grow past the anchor
    _raw(audit, "DELETE FROM audit_log WHERE seq >= 4")
    assert audit.verify().ok  # a chain alone cannot see a cut tail ...
    report = audit.verify(expect_head=anchor)
    assert not report.ok and "not in the chain" in report.broken.reason  # ... an anchor can


def test_concurrent_appends_keep_one_valid_chain(tmp_path: Path):
    path = tmp_path / "audit.sqlite3"
    AuditLog(path)

    def worker(name: str) -> None:
        log = AuditLog(path)
        for i in range(10):
            log.append(actor=name, role="reviewer", action="queue.view", details={"i": i})

    threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = AuditLog(path).verify()
    assert report.ok and report.entries == 40


def test_bad_entries_are_input_errors(audit: AuditLog):
    with pytest.raises(VerificationError):
        audit.append(actor="", role="reviewer", action="x")
    with pytest.raises(VerificationError):
        audit.append(actor="a", role="reviewer", action="x", details={"blob": b"raw"})
    assert audit.verify().entries == 0
