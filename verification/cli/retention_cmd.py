"""``verification retention purge|delete-subject``: run retention, and serve deletion requests.

``purge`` is what a scheduler runs (cron, a systemd timer, or the server's own daily job): it
deletes raw media and biometric templates whose product's retention period has ended, and
appends one audit entry. ``--dry-run`` lists what would go; ``--as-of`` asks about another day.
``delete-subject`` removes every stored object of one data subject (an applicant / session
reference) and records the request in the audit log even when nothing was left.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from verification.cli._data_dir import add_data_dir_argument, resolve_data_dir
from verification.cli.users_cmd import _operator
from verification.errors import InvalidInputError
from verification.protect.audit import AuditLog
from verification.protect.retention import RetentionPolicy, delete_subject, expired, purge
from verification.protect.roles import Role
from verification.protect.store import EncryptedStore


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("retention", help="purge expired media; delete a data subject")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    run_purge = actions.add_parser("purge", help="delete media and templates past retention")
    run_purge.add_argument("--policy", type=Path, default=None,
                           help="retention policy (YAML or JSON: default / products -> "
                                "media_days, template_days); default: each loan product's "
                                "`retention` in products.yaml (as the server's hourly purge)")
    run_purge.add_argument("--as-of", default=None, metavar="ISO8601",
                           help="evaluate at this time instead of now")
    run_purge.add_argument("--dry-run", action="store_true", help="list, do not delete")
    forget = actions.add_parser("delete-subject",
                                help="delete all media and templates of one data subject")
    forget.add_argument("subject", help="the subject reference objects were stored under")
    forget.add_argument("--reason", required=True, help="e.g. the request's ticket number")
    for p in (run_purge, forget):
        p.add_argument("--json", action="store_true")
        add_data_dir_argument(p)
    parser.set_defaults(handler=run)


def load_policy(path: Path | None) -> RetentionPolicy:
    if path is None:
        from verification.workflow.products import ProductCatalog

        extra = os.environ.get("VERIFICATION_WORKFLOW_DIR")
        return ProductCatalog.load(Path(extra) if extra else None).retention_policy()
    import yaml  # YAML is a superset of JSON: one loader for both

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InvalidInputError(f"cannot read retention policy {path}: "
                                f"{err.strerror or err}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InvalidInputError(f"retention policy {path} is not valid YAML/JSON: "
                                f"{str(err).splitlines()[0]}") from None
    return RetentionPolicy.from_mapping(data or {})


def _as_of(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"--as-of {text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run(args: argparse.Namespace) -> int:
    data_dir = resolve_data_dir(args)
    policy = load_policy(args.policy) if args.action == "purge" else None
    store = EncryptedStore.for_data_dir(data_dir)
    audit = AuditLog.for_data_dir(data_dir)
    if args.action == "delete-subject":
        report = delete_subject(store, audit, args.subject, actor=_operator(),
                                role=Role.ADMIN.value, reason=args.reason)
        result = {"subject": report.subject, "deleted": list(report.deleted),
                  "by_kind": dict(report.by_kind), "audit_seq": report.audit_seq}
    elif args.dry_run:
        victims = expired(store, policy, _as_of(args.as_of))
        result = {"dry_run": True, "would_delete": [v.object_id for v in victims]}
    else:
        report = purge(store, policy, audit, now=_as_of(args.as_of))
        result = {"deleted": list(report.deleted), "by_kind": dict(report.by_kind),
                  "examined": report.examined}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        listed = result.get("deleted", result.get("would_delete", []))
        verb = "would delete" if result.get("dry_run") else "deleted"
        print(f"{verb} {len(listed)} objects")
        for object_id in listed:
            print(f"  {object_id}")
    return 0
