"""Accounts (argon2id hashes), the role -> action matrix and the four-eyes rule."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type

from verification.errors import VerificationError
from verification.protect.accounts import AccountStore
from verification.protect.errors import AccountError, PermissionDeniedError
from verification.protect.roles import (
    PERMISSIONS,
    Action,
    Role,
    authorize,
    authorize_decision,
    is_allowed,
)

PASSWORD = "correct horse battery staple"


@pytest.fixture()
def accounts(tmp_path: Path) -> AccountStore:
    """argon2id with small parameters: the logic under test, without 64 MiB per hash."""
    fast = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1, type=Type.ID)
    return AccountStore.for_data_dir(tmp_path, hasher=fast)


def test_default_hasher_is_argon2id_at_rfc9106_strength(tmp_path: Path):
    hasher = AccountStore.for_data_dir(tmp_path).hasher
    assert hasher.type is Type.ID
    assert hasher.memory_cost >= 64 * 1024 and hasher.time_cost >= 2


def test_stronger_parameters_upgrade_a_hash_at_login(tmp_path: Path):
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    AccountStore.for_data_dir(tmp_path, hasher=weak).add("erin", PASSWORD, "reviewer")
    stronger = PasswordHasher(time_cost=2, memory_cost=8 * 1024, parallelism=1)
    store = AccountStore.for_data_dir(tmp_path, hasher=stronger)
    assert store.authenticate("erin", PASSWORD) is not None
    digest = sqlite3.connect(store.path).execute("SELECT password_hash FROM accounts").fetchone()[0]
    assert not stronger.check_needs_rehash(digest)


def test_password_is_stored_as_an_argon2id_hash_and_authenticates(accounts: AccountStore):
    account = accounts.add("Alice", PASSWORD, "reviewer")
    assert (account.username, account.role) == ("alice", Role.REVIEWER)
    raw = accounts.path.read_bytes() + b"".join(
        p.read_bytes() for p in accounts.path.parent.glob("accounts.sqlite3*"))
    assert PASSWORD.encode() not in raw
    assert b"$argon2id$" in raw
    assert accounts.authenticate("alice", PASSWORD).role is Role.REVIEWER
    assert accounts.authenticate("ALICE ", PASSWORD) is not None  # usernames are normalised
    assert accounts.authenticate("alice", PASSWORD + "x") is None
    assert accounts.authenticate("nobody", PASSWORD) is None
    assert accounts.authenticate("", "") is None


def test_disabled_accounts_cannot_log_in(accounts: AccountStore):
    accounts.add("bob", PASSWORD, "supervisor")
    accounts.set_disabled("bob", True)
    assert accounts.authenticate("bob", PASSWORD) is None
    accounts.set_disabled("bob", False)
    assert accounts.authenticate("bob", PASSWORD).role is Role.SUPERVISOR


@pytest.mark.parametrize("username, password, role, words", [
    ("carol", "short", "reviewer", "too short"),
    ("carol", "aaaaaaaaaaaaaaaa", "reviewer", "distinct"),
    ("carol", PASSWORD, "superuser", "unknown role"),
    ("no spaces allowed", PASSWORD, "reviewer", "invalid username"),
    ("", PASSWORD, "reviewer", "invalid username"),
])
def test_bad_accounts_are_refused_clearly(accounts, username, password, role, words):
    with pytest.raises(AccountError, match=words):
        accounts.add(username, password, role)


def test_duplicate_usernames_are_refused(accounts: AccountStore):
    accounts.add("dave", PASSWORD, "admin")
    with pytest.raises(AccountError, match="already exists"):
        accounts.add("Dave", PASSWORD, "reviewer")
    assert [a.username for a in accounts.list_accounts()] == ["dave"]


def test_role_matrix():
    reviewer, supervisor, admin = (PERMISSIONS[r] for r in Role)
    assert reviewer < supervisor  # a supervisor can do everything a reviewer can, and more
    assert Action.OVERTURN_REJECT in supervisor - reviewer
    assert Action.USERS_MANAGE in admin and Action.USERS_MANAGE not in supervisor
    assert Action.DECIDE not in admin  # separation of duties: admins do not decide loans
    assert is_allowed("reviewer", "recording.play")
    assert not is_allowed("reviewer", "users.manage")
    assert not is_allowed("applicant", "queue.view")  # unknown roles get nothing
    assert not is_allowed("admin", "no.such.action")
    authorize("admin", Action.SUBJECT_DELETE)
    with pytest.raises(PermissionDeniedError) as info:
        authorize("reviewer", Action.EXPORT)
    assert isinstance(info.value, VerificationError) and info.value.code == "forbidden"


@pytest.mark.parametrize("role, automatic, decision, allowed", [
    ("reviewer", "review", "pass", True),
    ("reviewer", "review", "reject", True),
    ("reviewer", "reject", "reject", True),
    ("reviewer", "reject", "pass", False),      # four eyes: needs a supervisor
    ("reviewer", "reject", "review", False),
    ("supervisor", "reject", "pass", True),
    ("admin", "review", "pass", False),
    ("admin", "reject", "pass", False),
])
def test_four_eyes_rule(role, automatic, decision, allowed):
    if allowed:
        action = authorize_decision(role, automatic, decision)
        assert action in (Action.DECIDE, Action.OVERTURN_REJECT)
    else:
        with pytest.raises(PermissionDeniedError):
            authorize_decision(role, automatic, decision)


def test_overturn_message_names_the_rule():
    with pytest.raises(PermissionDeniedError, match="supervisor"):
        authorize_decision("reviewer", "reject", "pass")
    with pytest.raises(PermissionDeniedError):
        authorize_decision("supervisor", "reject", "maybe")
