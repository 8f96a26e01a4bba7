"""Tamper-evident audit log: append-only, every entry chained to the previous by SHA-256.

Every reviewer view, playback, decision, export, deletion and admin action is appended here.
Each entry's ``hash`` is SHA-256 over a canonical JSON encoding of its own fields *and* the
previous entry's hash, so editing, inserting or removing any entry breaks every later link;
:func:`verify_chain` walks the chain and reports the first broken one.

Two guards with different jobs: SQLite triggers refuse ``UPDATE`` and ``DELETE`` (no code path
of the product can rewrite history by mistake), and the hash chain detects anyone who goes
around the triggers with direct file access. What a chain alone cannot show is the silent
removal of the newest entries; ``verification audit verify`` prints the head hash so operators
can anchor it elsewhere (ticket, WORM storage) and pass it back with ``--expect-head``.

The log lives in its own SQLite file (``<data dir>/audit.sqlite3``), apart from the interview
database and its migrations, so it can be shipped and retained on its own schedule.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from verification.errors import InvalidInputError
from verification.protect.sqlite_util import connect, write_transaction

AUDIT_FILENAME = "audit.sqlite3"
GENESIS_HASH = "0" * 64
SYSTEM_ACTOR = "system"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq       INTEGER PRIMARY KEY,
    time      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log (target);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
"""


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    time: str  # ISO 8601, UTC, microseconds
    actor: str
    role: str
    action: str
    target: str
    details: Mapping[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class BrokenLink:
    """The first entry at which the chain stops verifying, and why."""

    seq: int
    reason: str


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head_hash: str
    broken: BrokenLink | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: one byte string per value, on every machine."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def entry_hash(seq: int, time: str, actor: str, role: str, action: str, target: str,
               details: Mapping[str, Any], prev_hash: str) -> str:
    body = {"seq": seq, "time": time, "actor": actor, "role": role, "action": action,
            "target": target, "details": details, "prev_hash": prev_hash}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AuditLog:
    """Append and read the hash-chained log in one SQLite file."""

    def __init__(self, path: Path, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.path = Path(path)
        self.clock = clock
        with connect(self.path) as conn:
            conn.executescript(_SCHEMA)

    @classmethod
    def for_data_dir(cls, data_dir: Path, **kwargs: Any) -> AuditLog:
        return cls(Path(data_dir) / AUDIT_FILENAME, **kwargs)

    def append(self, *, actor: str, role: str, action: str, target: str = "",
               details: Mapping[str, Any] | None = None) -> AuditEntry:
        """Append one entry; the write lock is held from reading the head to the insert."""
        for name, value in (("actor", actor), ("role", role), ("action", action)):
            if not isinstance(value, str) or not value:
                raise InvalidInputError(f"audit entry needs a non-empty {name}")
        details = dict(details or {})
        try:
            canonical_json(details)
        except (TypeError, ValueError) as err:
            raise InvalidInputError(f"audit details must be plain JSON: {err}") from None
        time = self.clock().astimezone(UTC).isoformat(timespec="microseconds")
        with connect(self.path) as conn, write_transaction(conn):
            head = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
                                ).fetchone()
            seq, prev = (head["seq"] + 1, head["hash"]) if head else (1, GENESIS_HASH)
            digest = entry_hash(seq, time, actor, role, action, target, details, prev)
            conn.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (seq, time, actor, role, action, target, canonical_json(details),
                          prev, digest))
        return AuditEntry(seq, time, actor, role, action, target, details, prev, digest)

    def entries(self, *, since_seq: int = 0) -> Iterator[AuditEntry]:
        """Entries in order, read in pages so a long log never sits in memory."""
        last = since_seq
        with connect(self.path) as conn:
            while True:
                rows = conn.execute("SELECT * FROM audit_log WHERE seq > ? ORDER BY seq "
                                    "LIMIT 1000", (last,)).fetchall()
                if not rows:
                    return
                for row in rows:
                    yield _entry(row)
                last = rows[-1]["seq"]

    def entries_about(self, targets: Collection[str]) -> list[AuditEntry]:
        """Entries whose target is one of ``targets``, in order: the trail of one session that
        an evidence export carries (each with its hashes, checkable against the full log)."""
        wanted = sorted(set(targets))
        if not wanted:
            return []
        marks = ", ".join("?" * len(wanted))
        with connect(self.path) as conn:
            rows = conn.execute(f"SELECT * FROM audit_log WHERE target IN ({marks}) "
                                "ORDER BY seq", wanted).fetchall()
        return [_entry(row) for row in rows]

    def tail(self, count: int) -> list[AuditEntry]:
        """The newest ``count`` entries, oldest first."""
        with connect(self.path) as conn:
            rows = conn.execute("SELECT * FROM audit_log ORDER BY seq DESC LIMIT ?",
                                (max(0, count),)).fetchall()
        return [_entry(row) for row in reversed(rows)]

    def verify(self, *, expect_head: str | None = None) -> ChainReport:
        return verify_chain(self.entries(), expect_head=expect_head)


def _entry(row: Any) -> AuditEntry:
    try:
        details = json.loads(row["details"])
    except (TypeError, ValueError):
        details = {"__unparseable__": str(row["details"])}
    return AuditEntry(row["seq"], row["time"], row["actor"], row["role"], row["action"],
                      row["target"], details, row["prev_hash"], row["hash"])


def verify_chain(entries: Iterator[AuditEntry] | list[AuditEntry], *,
                 expect_head: str | None = None) -> ChainReport:
    """Check sequence numbers, links and hashes; stop at the first broken link.

    ``expect_head`` is a hash recorded elsewhere earlier: it must still be in the chain, which
    catches the one edit a chain cannot show by itself, dropping the newest entries.
    """
    expected_prev, expected_seq, count = GENESIS_HASH, 1, 0
    anchor = expect_head.lower() if expect_head else None
    anchor_seen = anchor is None
    for entry in entries:
        count += 1
        if entry.seq != expected_seq:
            return ChainReport(count, expected_prev, BrokenLink(
                entry.seq, f"expected entry {expected_seq} but found {entry.seq} "
                           "(entries removed or inserted)"))
        if entry.prev_hash != expected_prev:
            return ChainReport(count, expected_prev, BrokenLink(
                entry.seq, "prev_hash does not match the previous entry's hash "
                           "(the previous entry was removed or rewritten)"))
        recomputed = entry_hash(entry.seq, entry.time, entry.actor, entry.role, entry.action,
                                entry.target, entry.details, entry.prev_hash)
        if recomputed != entry.hash:
            return ChainReport(count, expected_prev, BrokenLink(
                entry.seq, "content does not match its hash (the entry was edited)"))
        expected_prev, expected_seq = entry.hash, entry.seq + 1
        anchor_seen = anchor_seen or entry.hash == anchor
    if not anchor_seen:
        return ChainReport(count, expected_prev, BrokenLink(
            expected_seq, f"the anchored head {expect_head} is not in the chain "
                          "(newest entries removed, or the anchor is from another log)"))
    return ChainReport(count, expected_prev, None)
