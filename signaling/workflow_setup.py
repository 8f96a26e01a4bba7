"""Build and run the interview workflow inside ``verification serve``.

At start: migrate the database (Alembic, to head), load and validate the loan products and
their scripts, open the durable interview store, and start the webhook delivery worker (which
first sends whatever was left pending by a previous run — a kill -9 included). A housekeeping
task concludes interviews orphaned by a restart once their resume window has passed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine

from signaling.settings import ServerSettings
from verification.protect.media import MediaVault
from verification.runtime import ModelRegistry
from verification.store.migrate import upgrade_database
from verification.workflow.delivery import Backoff, DeliveryWorker, HttpxTransport
from verification.workflow.intake import RegistryFaceCounter
from verification.workflow.loan import LoanWorkflow
from verification.workflow.products import ProductCatalog
from verification.workflow.recovery import Recovery
from verification.workflow.sql_store import SqlInterviewStore

log = logging.getLogger(__name__)

SWEEP_S = 5.0


@dataclass
class WorkflowParts:
    catalog: ProductCatalog
    workflow: LoanWorkflow
    store: SqlInterviewStore
    recovery: Recovery
    delivery: DeliveryWorker | None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def wake_delivery(self) -> None:
        if self.delivery is not None:
            self.delivery.wake()

    async def start(self, is_live) -> None:  # noqa: ANN001 - Callable[[str], bool]
        await asyncio.to_thread(self.recovery.after_restart)
        if self.delivery is not None:
            self.delivery.start()
        self._tasks.append(asyncio.create_task(self._sweep(is_live), name="workflow-sweep"))

    async def _sweep(self, is_live) -> None:  # noqa: ANN001
        while True:
            await asyncio.sleep(SWEEP_S)
            try:
                await asyncio.to_thread(self.recovery.sweep, is_live)
            except Exception:
                log.exception("workflow sweep failed")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.delivery is not None:
            await self.delivery.stop()


def join_base_url(settings: ServerSettings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return f"http://{settings.host}:{settings.port}"


def build_workflow(settings: ServerSettings, engine: Engine, registry: ModelRegistry,
                   media: MediaVault | None = None) -> WorkflowParts:
    revision = upgrade_database(engine)
    log.info("database schema at revision %s", revision)
    catalog = ProductCatalog.load(settings.workflow_dir)
    parts: WorkflowParts | None = None

    def wake() -> None:
        if parts is not None:
            parts.wake_delivery()

    default = "default" if "default" in catalog.names() else catalog.names()[0]
    store = SqlInterviewStore(engine, default_product=default, on_event=wake)
    workflow = LoanWorkflow(engine, catalog, settings.data_dir, RegistryFaceCounter(registry),
                            join_base_url(settings), settings.join_ttl_s, time.time, wake,
                            media=media)
    delivery = None
    if settings.webhook_secret:
        delivery = DeliveryWorker(engine, settings.webhook_secret,
                                  HttpxTransport(settings.webhook_timeout_s), backoff=Backoff(),
                                  lease_s=settings.delivery_lease_s)
    else:
        log.warning("VERIFICATION_WEBHOOK_SECRET is not set: webhook events are kept in the "
                    "outbox and not delivered (GET /v1/verdicts still serves them)")
    recovery = Recovery(workflow, settings.reconnect_grace_s)
    parts = WorkflowParts(catalog, workflow, store, recovery, delivery)
    return parts
