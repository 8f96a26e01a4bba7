"""``verification audit verify|tail``: check the tamper-evident audit log of a data dir.

``verify`` exits 0 when every link holds and prints the head hash (worth recording elsewhere;
pass it back with ``--expect-head`` to detect removal of the newest entries); a broken chain
is one ``error:`` line naming the first broken entry, exit status 2.
"""

from __future__ import annotations

import argparse
import json

from verification.cli._data_dir import add_data_dir_argument, resolve_data_dir
from verification.errors import InvalidInputError
from verification.protect.audit import AUDIT_FILENAME, AuditLog
from verification.protect.errors import AuditChainError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("audit", help="verify or read the tamper-evident audit log")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = actions.add_parser("verify", help="check the hash chain; report the first broken link")
    verify.add_argument("--expect-head", default=None, metavar="HASH",
                        help="a head hash recorded earlier; it must still be in the chain")
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    tail = actions.add_parser("tail", help="print the newest entries as JSON lines")
    tail.add_argument("-n", type=int, default=20, help="how many entries (default 20)")
    for p in (verify, tail):
        add_data_dir_argument(p)
    parser.set_defaults(handler=run)


def _open(args: argparse.Namespace) -> AuditLog:
    path = resolve_data_dir(args) / AUDIT_FILENAME
    if not path.is_file():
        raise InvalidInputError(f"no audit log at {path} (wrong --data-dir?)")
    return AuditLog(path)


def run(args: argparse.Namespace) -> int:
    log = _open(args)
    if args.action == "tail":
        if args.n < 1:
            raise InvalidInputError("-n must be at least 1")
        for entry in log.tail(args.n):
            print(json.dumps({"seq": entry.seq, "time": entry.time, "actor": entry.actor,
                              "role": entry.role, "action": entry.action,
                              "target": entry.target, "details": entry.details,
                              "hash": entry.hash}, ensure_ascii=False))
        return 0
    report = log.verify(expect_head=args.expect_head)
    if args.json:
        print(json.dumps({"ok": report.ok, "entries": report.entries,
                          "head_hash": report.head_hash,
                          "first_broken": None if report.ok else {
                              "seq": report.broken.seq, "reason": report.broken.reason}}))
    elif report.ok:
        print(f"audit chain ok: {report.entries} entries, head {report.head_hash}")
    if not report.ok:
        raise AuditChainError(f"audit chain broken at entry {report.broken.seq}: "
                              f"{report.broken.reason}")
    return 0
