"""What a restarted server owes the interviews that were under way when it stopped.

* An interview that was ``live`` lost its connection with the process: it becomes
  ``interrupted`` now, so its resume window starts now and the applicant's page (which
  reconnects by itself) continues at the same step.
* An interview whose engine had finished but whose verdict was not yet written (a crash
  between the two) is concluded.
* An interrupted interview nobody resumed within the window is concluded as ``abandoned`` —
  with the evidence it has, so the loan system still gets a verdict (``review``: incomplete).
* Links never used before they expired become ``expired``, with an event.

All of this also runs periodically (:meth:`Recovery.sweep`) for sessions that no live
interview in this process owns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from verification.workflow import repository as repo
from verification.workflow.engine import FINISHED, PAUSED, RUNNING, EngineState, InterviewEngine
from verification.workflow.events import Disconnected, FlowEntry, Tick
from verification.workflow.loan import LoanWorkflow
from verification.workflow.persist import save_transition

log = logging.getLogger(__name__)


class Recovery:
    def __init__(self, workflow: LoanWorkflow, resume_window_s: float) -> None:
        self.workflow = workflow
        self.resume_window_s = resume_window_s

    def _engine(self, product: str) -> InterviewEngine | None:
        if product not in self.workflow.catalog.names():
            return None
        return InterviewEngine(self.workflow.catalog.get(product).script,
                               resume_window_s=self.resume_window_s)

    def after_restart(self) -> None:
        now = self.workflow.clock()
        with self.workflow.sessions.begin() as db:
            for row in repo.sessions_in_state(db, ("live",)):
                engine = self._engine(row.loan_product)
                state = EngineState.from_json(row.engine_state)
                if engine is not None and state.status == RUNNING:
                    transition = engine.handle(state, Disconnected(now))
                    steps = [s.id for s in engine.script.steps]
                    save_transition(db, row.id, transition, now, steps)
                    repo.append_flow(db, row.id, [FlowEntry(
                        "server_restarted", "the server restarted; waiting for the applicant "
                        "to reconnect", row.step_id)], now)
                row.state = "interrupted"
                row.disconnected_at = row.disconnected_at or now
        self.sweep(lambda _id: False)

    def sweep(self, is_live: Callable[[str], bool]) -> None:
        """Conclude orphaned interviews whose time is up; expire unused links."""
        self.workflow.expire_links()
        now = self.workflow.clock()
        to_conclude: list[tuple[str, str]] = []
        with self.workflow.sessions.begin() as db:
            for row in repo.sessions_in_state(db, ("live", "interrupted")):
                if is_live(row.id):
                    continue
                state = EngineState.from_json(row.engine_state)
                if state.status == FINISHED:
                    to_conclude.append((row.id, state.finish_reason or "completed"))
                    continue
                since = row.disconnected_at or state.disconnected_at
                if since is None:
                    row.disconnected_at = now  # owned by no process: its window starts now
                    continue
                if now - since <= self.resume_window_s:
                    continue
                engine = self._engine(row.loan_product)
                if engine is not None and state.status == PAUSED:
                    transition = engine.handle(state, Tick(now))
                    save_transition(db, row.id, transition, now,
                                    [s.id for s in engine.script.steps])
                to_conclude.append((row.id, "abandoned"))
        for session_id, reason in to_conclude:
            try:
                self.workflow.conclude(session_id, reason)
                log.info("session %s concluded after the resume window (%s)", session_id,
                         reason)
            except Exception:
                log.exception("could not conclude session %s", session_id)
