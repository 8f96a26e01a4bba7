"""Local reviewer accounts: usernames, roles and argon2id password hashes in SQLite.

argon2id (RFC 9106) is memory-hard, so an attacker who copies the accounts file pays the same
per-guess memory cost as the server. Parameters live inside each hash string, so raising them
later upgrades every account at its next successful login (``check_needs_rehash``).
Authentication spends the same hashing work for unknown usernames, so response time does not
tell which usernames exist.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from verification.protect.errors import AccountError
from verification.protect.roles import Role
from verification.protect.sqlite_util import connect, write_transaction

ACCOUNTS_FILENAME = "accounts.sqlite3"
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    username      TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True)
class Account:
    username: str
    role: Role
    created_at: datetime
    disabled: bool


def normalize_username(username: str) -> str:
    name = unicodedata.normalize("NFKC", username or "").strip().lower()
    if not _USERNAME.match(name):
        raise AccountError(f"invalid username {username!r}: 1-64 characters a-z, 0-9, '.', "
                           "'_', '-', starting with a letter or digit")
    return name


def check_password_policy(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"password too short: at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError(f"password too long: at most {MAX_PASSWORD_CHARS} characters")
    if password.strip() != password or len(set(password)) < 4:
        raise AccountError("password rejected: no leading/trailing spaces, and more than a "
                           "few distinct characters")


class AccountStore:
    def __init__(self, path: Path, *, hasher: PasswordHasher | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.path = Path(path)
        self.hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self.clock = clock
        self._dummy_hash: str | None = None  # made on first use: most commands never need it
        with connect(self.path) as conn:
            conn.executescript(_SCHEMA)

    @classmethod
    def for_data_dir(cls, data_dir: Path, **kwargs: object) -> AccountStore:
        return cls(Path(data_dir) / ACCOUNTS_FILENAME, **kwargs)

    def add(self, username: str, password: str, role: Role | str) -> Account:
        name = normalize_username(username)
        try:
            role = Role(role)
        except ValueError:
            raise AccountError(f"unknown role {role!r}; choose one of "
                               f"{', '.join(r.value for r in Role)}") from None
        check_password_policy(password)
        account = Account(name, role, self.clock(), False)
        if self._exists(name):  # cheap refusal before the deliberately slow hash
            raise AccountError(f"user {name!r} already exists")
        digest = self.hasher.hash(password)
        with connect(self.path) as conn, write_transaction(conn):
            if conn.execute("SELECT 1 FROM accounts WHERE username = ?", (name,)).fetchone():
                raise AccountError(f"user {name!r} already exists")
            conn.execute("INSERT INTO accounts VALUES (?, ?, ?, ?, 0)",
                         (name, role.value, digest, account.created_at.isoformat()))
        return account

    def _exists(self, name: str) -> bool:
        with connect(self.path) as conn:
            return conn.execute("SELECT 1 FROM accounts WHERE username = ?",
                                (name,)).fetchone() is not None

    def get(self, username: str) -> Account | None:
        with connect(self.path) as conn:
            row = conn.execute("SELECT * FROM accounts WHERE username = ?",
                               (normalize_username(username),)).fetchone()
        return _account(row) if row else None

    def list_accounts(self) -> list[Account]:
        with connect(self.path) as conn:
            rows = conn.execute("SELECT * FROM accounts ORDER BY username").fetchall()
        return [_account(row) for row in rows]

    def set_disabled(self, username: str, disabled: bool) -> None:
        self._update(username, "disabled = ?", (1 if disabled else 0,))

    def set_role(self, username: str, role: Role | str) -> None:
        self._update(username, "role = ?", (Role(role).value,))

    def set_password(self, username: str, password: str) -> None:
        check_password_policy(password)
        self._update(username, "password_hash = ?", (self.hasher.hash(password),))

    def _update(self, username: str, assignment: str, params: tuple[object, ...]) -> None:
        name = normalize_username(username)
        with connect(self.path) as conn, write_transaction(conn):
            if conn.execute(f"UPDATE accounts SET {assignment} WHERE username = ?",
                            (*params, name)).rowcount == 0:
                raise AccountError(f"no user {name!r}")

    def authenticate(self, username: str, password: str) -> Account | None:
        """The account when the password is right and the account enabled; else ``None``."""
        try:
            name = normalize_username(username)
        except AccountError:
            name = None
        row = None
        if name is not None:
            with connect(self.path) as conn:
                row = conn.execute("SELECT * FROM accounts WHERE username = ?",
                                   (name,)).fetchone()
        if row is None and self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash("timing-equaliser-not-a-password")
        stored = row["password_hash"] if row else self._dummy_hash
        try:
            self.hasher.verify(stored, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None or row["disabled"]:
            return None
        if self.hasher.check_needs_rehash(stored):
            with connect(self.path) as conn:
                conn.execute("UPDATE accounts SET password_hash = ? WHERE username = ?",
                             (self.hasher.hash(password), name))
        return _account(row)


def _account(row: object) -> Account:
    return Account(row["username"], Role(row["role"]), datetime.fromisoformat(row["created_at"]),
                   bool(row["disabled"]))
