"""Roles, what each may do, and the four-eyes rule for overturning an automatic reject.

Least privilege: a reviewer works the queue; a supervisor also overturns automatic rejects,
exports evidence and reads the audit log; an admin manages accounts, retention and data-subject
deletion but does not decide interviews (the person who can create accounts should not also be
able to approve loans with them). Every route of the console maps to one :class:`Action`, and
:func:`authorize` is the single place that answers "may this role do that".
"""

from __future__ import annotations

from enum import StrEnum

from verification.protect.errors import PermissionDeniedError
from verification.types import Decision


class Role(StrEnum):
    REVIEWER = "reviewer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Action(StrEnum):
    QUEUE_VIEW = "queue.view"
    SESSION_VIEW = "session.view"
    SESSION_CLAIM = "session.claim"
    RECORDING_PLAY = "recording.play"
    NOTE_ADD = "note.add"
    DECIDE = "session.decide"
    OVERTURN_REJECT = "session.overturn_reject"
    LIVE_WATCH = "live.watch"
    LIVE_MESSAGE = "live.message"
    EXPORT = "evidence.export"
    AUDIT_VIEW = "audit.view"
    AUDIT_VERIFY = "audit.verify"
    USERS_MANAGE = "users.manage"
    RETENTION_PURGE = "retention.purge"
    SUBJECT_DELETE = "subject.delete"


_REVIEWER = frozenset({Action.QUEUE_VIEW, Action.SESSION_VIEW, Action.SESSION_CLAIM,
                       Action.RECORDING_PLAY, Action.NOTE_ADD, Action.DECIDE,
                       Action.LIVE_WATCH, Action.LIVE_MESSAGE})
_SUPERVISOR = _REVIEWER | {Action.OVERTURN_REJECT, Action.EXPORT, Action.AUDIT_VIEW,
                           Action.AUDIT_VERIFY}
_ADMIN = frozenset({Action.USERS_MANAGE, Action.AUDIT_VIEW, Action.AUDIT_VERIFY,
                    Action.RETENTION_PURGE, Action.SUBJECT_DELETE})

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.REVIEWER: _REVIEWER,
    Role.SUPERVISOR: frozenset(_SUPERVISOR),
    Role.ADMIN: _ADMIN,
}


def is_allowed(role: Role | str, action: Action | str) -> bool:
    try:
        return Action(action) in PERMISSIONS[Role(role)]
    except ValueError:
        return False  # an unknown role or action is never allowed


def authorize(role: Role | str, action: Action | str) -> None:
    """Raise :class:`PermissionDeniedError` (HTTP 403) unless ``role`` may do ``action``."""
    if not is_allowed(role, action):
        raise PermissionDeniedError(f"role {role!s} may not {action!s}")


def required_action(automatic: Decision | str, decision: Decision | str) -> Action:
    """The permission a human decision needs, given the automatic verdict it replaces.

    Four eyes: turning an automatic ``reject`` into anything else is a second opinion against
    the system's hard evidence, so it needs a supervisor; every other decision is a reviewer's.
    """
    automatic, decision = Decision(automatic), Decision(decision)
    if automatic is Decision.REJECT and decision is not Decision.REJECT:
        return Action.OVERTURN_REJECT
    return Action.DECIDE


def authorize_decision(role: Role | str, automatic: Decision | str,
                       decision: Decision | str) -> Action:
    """Check the four-eyes rule; returns the action to record in the audit log."""
    try:
        action = required_action(automatic, decision)
    except ValueError:
        raise PermissionDeniedError(f"unknown decision {decision!s} or verdict {automatic!s}"
                                    ) from None
    if action is Action.OVERTURN_REJECT and not is_allowed(role, action):
        raise PermissionDeniedError("overturning an automatic reject needs a supervisor "
                                    "(four-eyes rule)")
    authorize(role, action)
    return action
