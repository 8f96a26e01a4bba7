"""What the console needs for one app, opened once: accounts, audit log, database, throttle.

Opened lazily on the first console request (and kept on ``app.state``) so the console adds
nothing to the start of a server that never serves it, and needs no change to ``build_state``.
Accounts are the ``accounts.sqlite3`` that ``verification users add`` writes; the audit log is
the data dir's hash-chained ``audit.sqlite3``.

Repeated reads are logged once a minute: a queue page refreshes itself every few seconds and a
video player sends a Range request for every buffer it fills, so logging each of them would bury
the entries a compliance reader looks for (who opened which session, who decided) under
thousands of identical rows. :meth:`ConsoleServices.record_read` writes the first read of a kind
(same reviewer, action, target and what was read) and then nothing more of it for
:data:`READ_COALESCE_S`; opening a session, claims, notes and decisions are always logged.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from signaling.console.limiter import LoginThrottle
from signaling.settings import ServerSettings
from verification.protect.accounts import AccountStore
from verification.protect.audit import AuditLog
from verification.workflow import repository as repo

_LOCK = threading.Lock()
READ_COALESCE_S = 60.0
_RECENT_READS_MAX = 4096  # remembered (reviewer, read) pairs; the oldest are forgotten first


@dataclass
class ConsoleServices:
    settings: ServerSettings
    accounts: AccountStore
    audit: AuditLog
    sessions: sessionmaker[Session]
    throttle: LoginThrottle
    clock: Callable[[], float]
    core: Any  # signaling.app.AppState (workflow, hub, engine)
    _recent_reads: OrderedDict[Hashable, float] = field(default_factory=OrderedDict, repr=False)
    _reads_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

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

    def record_read(self, actor: str, role: str, action: str, target: str, what: Hashable,
                    **details: Any) -> bool:
        """Append a read entry unless the same reviewer read the same ``what`` of ``target``
        within :data:`READ_COALESCE_S` (see the module notes); True when it was written."""
        key = (actor, action, target, what)
        now = self.clock()
        with self._reads_lock:
            last = self._recent_reads.get(key)
            if last is not None and 0.0 <= now - last < READ_COALESCE_S:
                return False
            self._recent_reads[key] = now
            self._recent_reads.move_to_end(key)
            while len(self._recent_reads) > _RECENT_READS_MAX:
                self._recent_reads.popitem(last=False)
        self.record(actor, role, action, target, **details)
        return True


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
