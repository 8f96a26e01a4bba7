"""The server's scheduled retention purge (per-product rules from ``products.yaml``).

Runs once shortly after start and then every ``retention_interval_s`` (default hourly) in a
worker thread, so deleting many objects never blocks the event loop. Each run that deletes
something appends one ``retention.purge`` entry to the audit log (``verification.protect``).
An operator who prefers cron sets ``VERIFICATION_RETENTION_INTERVAL_S=0`` and runs
``verification retention purge``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from verification.protect.media import MediaVault
from verification.protect.retention import PurgeReport, RetentionPolicy

log = logging.getLogger(__name__)

FIRST_RUN_DELAY_S = 5.0


class RetentionScheduler:
    def __init__(self, vault: MediaVault, policy: RetentionPolicy, interval_s: float,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.vault = vault
        self.policy = policy
        self.interval_s = interval_s
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    def run_once(self) -> PurgeReport:
        """One purge at the scheduler's clock (blocking; tests call it directly)."""
        report = self.vault.purge(self.policy, now=self.clock())
        if report.deleted:
            log.info("retention purge deleted %d of %d stored objects %s",
                     len(report.deleted), report.examined, dict(report.by_kind))
        return report

    def start(self) -> None:
        if self.interval_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="retention-purge")

    async def _loop(self) -> None:
        delay = min(FIRST_RUN_DELAY_S, self.interval_s)
        while True:
            await asyncio.sleep(delay)
            delay = self.interval_s
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("retention purge failed (will retry at the next interval)")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
