"""``verification users add|list|disable|enable``: local reviewer console accounts.

The password comes from an interactive prompt (asked twice) or, for scripts, from standard
input with ``--password-stdin``; it is never a command-line argument, where it would show up in
``ps`` and shell history. Every change is appended to the audit log as an admin action.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from verification.cli._data_dir import add_data_dir_argument, resolve_data_dir
from verification.errors import InvalidInputError
from verification.protect.accounts import AccountStore
from verification.protect.audit import AuditLog
from verification.protect.roles import Role


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("users", help="manage reviewer console accounts")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    listing = actions.add_parser("list", help="list accounts and roles")
    disable = actions.add_parser("disable", help="block an account from logging in")
    disable.add_argument("username")
    enable = actions.add_parser("enable", help="allow a disabled account again")
    enable.add_argument("username")
    for p in (add, listing, disable, enable):
        add_data_dir_argument(p)
    parser.set_defaults(handler=run)


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid{os.getuid()}"


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InvalidInputError("--password-stdin: standard input is empty")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InvalidInputError("no terminal to prompt for the password; use --password-stdin")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise InvalidInputError("the passwords do not match")
    return first


def run(args: argparse.Namespace) -> int:
    data_dir = resolve_data_dir(args)
    accounts = AccountStore.for_data_dir(data_dir)
    if args.action == "list":
        for account in accounts.list_accounts():
            state = " (disabled)" if account.disabled else ""
            print(f"{account.username}\t{account.role.value}{state}")
        return 0
    audit = AuditLog.for_data_dir(data_dir)
    if args.action == "add":
        account = accounts.add(args.username, _read_password(args), args.role)
        audit.append(actor=_operator(), role=Role.ADMIN.value, action="user.create",
                     target=account.username, details={"role": account.role.value})
        print(f"created {account.username} ({account.role.value})")
        return 0
    disabled = args.action == "disable"
    accounts.set_disabled(args.username, disabled)
    audit.append(actor=_operator(), role=Role.ADMIN.value,
                 action="user.disable" if disabled else "user.enable",
                 target=args.username.strip().lower())
    print(f"{args.action}d {args.username}")
    return 0
