"""A reviewer's decision: approve or reject with a note, sent to the loan workflow.

Goes through :meth:`LoanWorkflow.override` (``conclude.record_override``): a new verdict row and
a signed ``verdict.updated`` outbox event in one transaction. The four-eyes rule is
:func:`verification.protect.roles.authorize_decision`: turning an automatic ``reject`` into a
pass needs a supervisor. A session claimed by another reviewer cannot be decided by this one.
"""

from __future__ import annotations

from dataclasses import dataclass

from signaling.console.auth import ConsoleUser
from signaling.console.errors import (
    ClaimedError,
    DecidedMeanwhileError,
    ForbiddenRoleError,
    FourEyesError,
    NoVerdictError,
)
from signaling.console.services import ConsoleServices
from signaling.console.worklist import claims, release
from verification.protect.errors import PermissionDeniedError
from verification.protect.roles import Action, authorize_decision, required_action
from verification.workflow import repository as repo
from verification.workflow.conclude import StaleDecisionError
from verification.workflow.loan import SessionNotFoundError

CONSOLE_DECISIONS = {"approve": "pass", "reject": "reject"}


@dataclass(frozen=True)
class DecisionResult:
    decision: str  # "approve" | "reject"
    event_id: str
    action: Action


def decide(svc: ConsoleServices, user: ConsoleUser, session_id: str, decision: str,
           note: str, decided_on: int | None = None) -> DecisionResult:
    """``decided_on``: the verdict id the reviewer's page showed as current (None: the latest
    one read here). Another decision recorded since then makes this one 409
    ``decided_meanwhile``."""
    verdict = CONSOLE_DECISIONS[decision]
    with svc.sessions() as db:
        if repo.get_session(db, session_id) is None:
            raise SessionNotFoundError(f"no session {session_id!r}")
        automatic = repo.automatic_verdict(db, session_id)
        latest = repo.latest_verdict(db, session_id)
        holder = claims(db, [session_id]).get(session_id)
    if automatic is None:
        raise NoVerdictError("the session has no automatic verdict yet")
    if holder is not None and holder != user.username:
        raise ClaimedError(f"session {session_id} is claimed by {holder}")
    try:
        action = authorize_decision(user.role, automatic.decision, verdict)
    except PermissionDeniedError as err:
        if required_action(automatic.decision, verdict) is Action.OVERTURN_REJECT:
            raise FourEyesError(str(err)) from None
        raise ForbiddenRoleError(str(err)) from None
    basis = decided_on if decided_on is not None else (latest.id if latest else None)
    try:
        result = svc.core.workflow.override(session_id, verdict, user.username, note,
                                            decided_on=basis)
    except StaleDecisionError:
        raise DecidedMeanwhileError(
            f"session {session_id} was decided meanwhile (by someone else or in another "
            "window): reload it to see that decision") from None
    release(svc.sessions, session_id, user.username, force=True)
    svc.record(user.username, user.role.value, action.value, f"session:{session_id}",
               decision=verdict, automatic=automatic.decision, event_id=result.event_id)
    return DecisionResult(decision, result.event_id, action)
