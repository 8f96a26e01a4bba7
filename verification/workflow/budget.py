"""The failure budget at the door: no new attempt while an applicant or a device has spent it.

Why at the door too: the engine counts failed challenge attempts (persisted per applicant and
per device, :func:`verification.workflow.repository.record_failures`) and ends an interview
that exhausts the budget, but without this check the same applicant — or a script on the same
device — could simply open another session and try again at once. AWS's advice for face
liveness is at most 5 failures per device in 3 minutes; each product's script sets its own
(``failure_budget``). The count lives in the database, so it survives restarts.

Keys: ``applicant:<application id>`` and ``device:<hash of IP and user agent>``
(:func:`verification.workflow.persist.device_key`, the same key the live interview records).
A failure seen under both keys counts once. Refusals are HTTP 429 with ``Retry-After``: the
seconds until enough failures leave the window for one more attempt.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from verification.errors import RetryLaterError
from verification.workflow import repository as repo
from verification.workflow.persist import device_key, failure_subjects
from verification.workflow.script import FailureBudgetSpec

if TYPE_CHECKING:
    from verification.workflow.loan import LoanWorkflow


class FailureBudgetSpentError(RetryLaterError):
    code = "failure_budget_spent"
    http_status = 429


@dataclass(frozen=True)
class BudgetStatus:
    failures: int  # counted failures inside the window
    max_failures: int
    window_s: float
    retry_after_s: int  # 0 while attempts are left

    @property
    def spent(self) -> bool:
        return self.failures >= self.max_failures


def budget_status(failure_times: Sequence[float], spec: FailureBudgetSpec,
                  now: float) -> BudgetStatus:
    """Pure: how many failures fall inside the window, and when one more attempt is allowed
    (once the oldest failures that keep the count at the limit have left the window)."""
    recent = sorted(t for t in failure_times if now - t < spec.window_s)
    retry = 0
    if len(recent) >= spec.max_failures:
        oldest_to_leave = recent[len(recent) - spec.max_failures]
        retry = max(1, math.ceil(oldest_to_leave + spec.window_s - now))
    return BudgetStatus(len(recent), spec.max_failures, spec.window_s, retry)


def _status(workflow: LoanWorkflow, subjects: list[str], spec: FailureBudgetSpec,
            now: float) -> BudgetStatus:
    if not subjects:
        return BudgetStatus(0, spec.max_failures, spec.window_s, 0)
    with workflow.sessions() as db:
        times = repo.failure_times(db, subjects, now - spec.window_s)
    return budget_status(times, spec, now)


def _refuse(status: BudgetStatus, who: str) -> FailureBudgetSpentError:
    return FailureBudgetSpentError(
        f"{status.failures} failed attempts for this {who} within "
        f"{status.window_s:.0f} s (at most {status.max_failures}); try again in "
        f"{status.retry_after_s} s", status.retry_after_s)


def check_join(workflow: LoanWorkflow, session_id: str, peer_ip: str | None,
               user_agent: str | None) -> BudgetStatus:
    """Raise :class:`FailureBudgetSpentError` when the applicant of this session or this device
    has spent the budget of the session's script. Sessions made outside the loan-system API
    (no script) have no budget."""
    with workflow.sessions() as db:
        row = repo.get_session(db, session_id)
        if row is None or not row.script_version:
            return BudgetStatus(0, 0, 0.0, 0)
        application_id, product = row.application_id, row.loan_product
    spec = workflow.catalog.get(product).script.budget
    subjects = failure_subjects(application_id, device_key(peer_ip, user_agent))
    status = _status(workflow, subjects, spec, workflow.clock())
    if status.spent:
        raise _refuse(status, "applicant or device")
    return status


def check_applicant(workflow: LoanWorkflow, application_id: str,
                    spec: FailureBudgetSpec) -> BudgetStatus:
    """Raise :class:`FailureBudgetSpentError` when this application's applicant has spent the
    budget (a new session would only be another attempt)."""
    status = _status(workflow, failure_subjects(application_id, None), spec, workflow.clock())
    if status.spent:
        raise _refuse(status, "applicant")
    return status
