"""An interview's status writes, run off the event loop, one after another.

Why: the control loop and the peer callbacks of every interview run on the one event loop that
also carries all interviews' media and signalling. The interview record's status changes
(connected, connection lost, prompt shown, location fix) are database writes: a SQLite commit or
a PostgreSQL round trip, milliseconds when all is well and up to the busy timeout when another
writer holds the lock. Made there, each would stall every interview's RTP and data channel for
that long. Here each write runs in a worker thread (``asyncio.to_thread``) and the loop goes on.

Order is kept: a write starts only after the previous one finished (an interview's
``connected`` must not land after its ``interrupted``). A failing write is logged and the next
one still runs. :meth:`RecordWriter.drain` waits for every submitted write (the interview's
final ``finished`` record is written after it), and :meth:`RecordWriter.close` refuses later
submissions, so nothing lands after the final record. The chain is bounded: the caller coalesces
the one message a page may repeat (location fixes), and past :data:`MAX_PENDING` waiting writes
new ones are dropped with a warning rather than queued without limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

MAX_PENDING = 64


class RecordWriter:
    """Serialises one interview's record writes in worker threads (see the module notes)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._tail: asyncio.Task[None] | None = None
        self._pending = 0
        self._closed = False

    @property
    def pending(self) -> int:
        """Writes submitted and not yet finished."""
        return self._pending

    def submit(self, what: str, write: Callable[[], object]) -> bool:
        """Queue ``write`` (a blocking call) after the writes before it; False when refused
        (closed, or too many waiting)."""
        if self._closed:
            log.warning("%s: %s after the final record, not written", self.label, what)
            return False
        if self._pending >= MAX_PENDING:
            log.warning("%s: %d record writes waiting, %s dropped", self.label, self._pending,
                        what)
            return False
        previous = self._tail
        self._pending += 1
        self._tail = asyncio.get_running_loop().create_task(self._run(previous, what, write))
        return True

    async def _run(self, previous: asyncio.Task[None] | None, what: str,
                   write: Callable[[], object]) -> None:
        try:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            await asyncio.to_thread(write)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: writing %s failed", self.label, what)
        finally:
            self._pending -= 1

    async def drain(self) -> None:
        """Wait until every write submitted so far has finished (failed ones included)."""
        if self._tail is not None:
            await asyncio.gather(self._tail, return_exceptions=True)

    async def close(self) -> None:
        """Drain, then refuse further writes."""
        self._closed = True
        await self.drain()
