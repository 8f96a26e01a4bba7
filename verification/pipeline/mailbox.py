"""A size-one mailbox: the analyzer always gets the newest frame, older ones are dropped.

Video must never queue (design idea 3): if inference takes 80 ms and frames arrive every 66 ms,
a queue grows without bound and evidence lags further behind the interview every second. Here a
new frame replaces an unread one and the replacement is counted, so drops are visible in metrics
instead of silently turning into latency.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class MailboxStats:
    offered: int
    delivered: int
    dropped: int


class LatestMailbox(Generic[T]):
    """Single consumer. ``offer`` never blocks; ``get`` waits for the next (newest) item."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._full = False
        self._changed = asyncio.Event()
        self._taken = asyncio.Event()
        self._closed = False
        self._offered = 0
        self._delivered = 0
        self._dropped = 0

    def offer(self, item: T) -> None:
        if self._closed:
            return
        self._offered += 1
        if self._full:
            self._dropped += 1
        self._item = item
        self._full = True
        self._taken.clear()
        self._changed.set()

    def empty(self) -> bool:
        return not self._full

    async def get(self) -> T | None:
        """The newest item, or ``None`` once closed and drained."""
        while not self._full:
            if self._closed:
                return None
            self._changed.clear()
            await self._changed.wait()
        item = self._item
        self._item = None
        self._full = False
        self._taken.set()
        self._delivered += 1
        return item

    async def wait_empty(self) -> None:
        """Offline replay uses this for back-pressure: wait until the consumer took the item."""
        while self._full and not self._closed:
            await self._taken.wait()

    def close(self) -> None:
        """No more items: a waiting ``get`` returns what is left, then ``None``."""
        self._closed = True
        self._changed.set()
        self._taken.set()

    @property
    def stats(self) -> MailboxStats:
        return MailboxStats(self._offered, self._delivered, self._dropped)
