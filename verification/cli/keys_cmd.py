"""``verification keys generate|rewrap``: master keys for encryption at rest.

Rotation without re-encrypting recordings: generate a new key, configure it as
``VERIFICATION_MASTER_KEY`` with the old one in ``VERIFICATION_PREVIOUS_MASTER_KEYS``, run
``verification keys rewrap``; once it reports every object current, drop the old key.
"""

from __future__ import annotations

import argparse

from verification.cli._data_dir import add_data_dir_argument, resolve_data_dir
from verification.protect.audit import SYSTEM_ACTOR, AuditLog
from verification.protect.keys import MasterKey, keyring_for_data_dir
from verification.protect.store import EncryptedStore


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("keys", help="generate master keys; re-wrap objects after rotation")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("generate", help="print a new random master key (base64) and its id")
    rewrap = actions.add_parser("rewrap", help="re-wrap every object's data key under the "
                                               "configured primary master key")
    add_data_dir_argument(rewrap)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "generate":
        key = MasterKey.generate()
        print(key.to_base64())
        print(f"# key id {key.key_id_hex}")
        return 0
    data_dir = resolve_data_dir(args)
    ring = keyring_for_data_dir(data_dir)
    store = EncryptedStore.for_data_dir(data_dir, ring)
    report = store.rewrap_all(ring.primary)
    AuditLog.for_data_dir(data_dir).append(
        actor=SYSTEM_ACTOR, role="admin", action="keys.rewrap", target="store",
        details={"new_key_id": report.new_key_id, "rewrapped": report.rewrapped,
                 "already_current": report.already_current})
    print(f"re-wrapped {report.rewrapped} objects under key {report.new_key_id} "
          f"({report.already_current} already current)")
    return 0
