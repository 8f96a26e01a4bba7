"""What the console needs for one app, opened once: accounts, audit log, database, throttle.

Opened lazily on the first console request (and kept on ``app.state``) so the console adds
nothing to the start of a server that never serves it, and needs no change to ``build_state``.
Accounts are the ``accounts.sqlite3`` that ``verification users add`` writes; the audit log is
the data dir's hash-chained ``audit.sqlite3``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from signaling.console.limiter import LoginThrottle
from signaling.settings import ServerSettings
from verification.protect.accounts import AccountStore
from verification.protect.audit import AuditLog
from verification.workflow import repository as repo

_LOCK = threading.Lock()


@dataclass
class ConsoleServices:
    settings: ServerSettings
    accounts: AccountStore
    audit: AuditLog
    sessions: sessionmaker[Session]
    throttle: LoginThrottle
    clock: Callable[[], float]
    core: Any  # signaling.app.AppState (workflow, hub, engine)

    @classmethod
    def for_core(cls, core: Any, clock: Callable[[], float] = time.time) -> ConsoleServices:
        data_dir = core.settings.data_dir
        return cls(core.settings, AccountStore.for_data_dir(data_dir),
                   AuditLog.for_data_dir(data_dir), repo.session_factory(core.engine),
                   LoginThrottle(clock), clock, core)

    def record(self, actor: str, role: str, action: str, target: str = "",
               **details: Any) -> None:
        """Append one audit entry (every view, playback, decision, note, claim, login)."""
        self.audit.append(actor=actor, role=role, action=action, target=target,
                          details=details)


def services(request: Request) -> ConsoleServices:
    state = request.app.state
    found = getattr(state, "console", None)
    if found is None:
        with _LOCK:
            found = getattr(state, "console", None)
            if found is None:
                found = ConsoleServices.for_core(state.core)
                state.console = found
    return found
