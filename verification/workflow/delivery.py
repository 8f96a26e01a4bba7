"""Outbox delivery: POST every pending event to its callback URL until it is acknowledged.

Why an outbox and a worker rather than posting from the request that made the verdict: the
verdict and its event are committed together, so once the verdict exists the event exists,
and a crash (kill -9 included) at any instant leaves either both or neither. The worker reads
the table, so whatever was pending before a restart is sent after it.

Rules:
* an attempt leases its event (``lease_until``) with a conditional UPDATE: two workers never
  send the same attempt; a worker killed mid-POST leaves a lease that simply runs out;
* 2xx = delivered; anything else (status, timeout, refused connection) = retry after an
  exponential backoff with jitter (``base * 2**(n-1)`` capped at ``cap``, times a random factor
  in [0.5, 1]), until ``max_age_s`` (24 h) after the event was created, then ``failed``;
* the receiver may see an event more than once (a POST that succeeded just before a crash is
  sent again): it deduplicates by ``X-Verification-Event-Id``, which never changes;
* every attempt is a row in ``delivery_attempts``; the API shows the event's state.

The worker is woken the moment an event is committed (:meth:`DeliveryWorker.wake`), so a
verdict reaches the receiver well under a second after the last step; a poll of the table
every ``poll_s`` catches events written by other processes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine

from verification import __version__
from verification.workflow import repository as repo
from verification.workflow.webhooks import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)

log = logging.getLogger(__name__)

MAX_AGE_S = 24 * 3600.0


@dataclass(frozen=True)
class Backoff:
    base_s: float = 1.0
    cap_s: float = 3600.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Delay after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.cap_s, self.base_s * 2 ** min(attempt - 1, 40))
        return ceiling * rng.uniform(0.5, 1.0)


class TransportError(Exception):
    """The request did not get an HTTP response (refused, timed out, reset)."""


class Transport(Protocol):
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int: ...

    async def aclose(self) -> None: ...


class HttpxTransport:
    def __init__(self, timeout_s: float = 10.0) -> None:
        import httpx

        self._httpx = httpx
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except self._httpx.HTTPError as err:
            raise TransportError(f"{type(err).__name__}: {err}") from None
        return response.status_code

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass(frozen=True)
class AttemptResult:
    event_id: str
    delivered: bool
    status_code: int | None
    error: str | None


class DeliveryWorker:
    def __init__(self, engine: Engine, secret: str, transport: Transport | None = None,
                 clock: Callable[[], float] = time.time, backoff: Backoff = Backoff(),
                 lease_s: float = 30.0, poll_s: float = 1.0, max_age_s: float = MAX_AGE_S,
                 batch: int = 8, rng: random.Random | None = None) -> None:
        if not secret:
            raise ValueError("a webhook secret is required to sign deliveries")
        self.engine = engine
        self.sessions = repo.session_factory(engine)
        self.secret = secret
        self.transport = transport or HttpxTransport()
        self.clock = clock
        self.backoff = backoff
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.max_age_s = max_age_s
        self.batch = batch
        self.rng = rng or random.SystemRandom()
        self.owner = secrets.token_hex(8)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="webhook-delivery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.transport.aclose()

    def wake(self) -> None:
        """Call from any thread after committing an outbox event."""
        if self._loop is not None and self._wake is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()  # before the pass: a wake during it is not lost
            try:
                await self.deliver_due()
                wait = self.poll_s
                due = await asyncio.to_thread(self._next_due)
                if due is not None:
                    wait = max(0.0, min(wait, due - self.clock()))
            except Exception:
                log.exception("webhook delivery pass failed")
                wait = self.poll_s
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except TimeoutError:
                pass

    def _next_due(self) -> float | None:
        with self.sessions() as db:
            return repo.next_due_time(db)

    # -- one pass ------------------------------------------------------------------------------
    async def deliver_due(self) -> list[AttemptResult]:
        """Attempt every event that is due now (bounded batches); returns what happened."""
        results: list[AttemptResult] = []
        while True:
            claimed = await asyncio.to_thread(self._claim)
            if not claimed:
                return results
            results += await asyncio.gather(*(self._attempt(e) for e in claimed))

    def _claim(self) -> list[tuple[str, str, str, int, float, str]]:
        now = self.clock()
        out = []
        with self.sessions.begin() as db:
            for event_id in repo.due_event_ids(db, now, self.batch):
                if repo.claim_event(db, event_id, now, self.lease_s, self.owner):
                    row = repo.outbox_event(db, event_id)
                    assert row is not None
                    out.append((row.event_id, row.type, row.callback_url or "", row.attempts,
                                row.created_at, row.body))
        return out

    async def _attempt(self, claimed: tuple[str, str, str, int, float, str]) -> AttemptResult:
        event_id, event_type, url, attempts, _created, body_text = claimed
        body = body_text.encode("utf-8")
        started = self.clock()
        headers = {"Content-Type": "application/json", EVENT_ID_HEADER: event_id,
                   EVENT_TYPE_HEADER: event_type,
                   SIGNATURE_HEADER: signature_header(self.secret, int(started), body),
                   "User-Agent": f"verification-server/{__version__}"}
        t0 = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            status = await self.transport.post(url, body, headers)
        except TransportError as err:
            error = str(err)[:500]
        except Exception as err:  # never let one bad URL stop the worker
            error = f"{type(err).__name__}: {err}"[:500]
        duration_ms = (time.perf_counter() - t0) * 1000.0
        delivered = status is not None and 200 <= status < 300
        if status is not None and not delivered:
            error = f"HTTP {status}"
        await asyncio.to_thread(self._record, event_id, attempts + 1, started, duration_ms,
                                status, error, delivered)
        if delivered:
            log.info("webhook %s delivered (attempt %d, HTTP %d)", event_id, attempts + 1,
                     status)
        else:
            log.warning("webhook %s attempt %d failed: %s", event_id, attempts + 1, error)
        return AttemptResult(event_id, delivered, status, error)

    def _record(self, event_id: str, number: int, started: float, duration_ms: float,
                status: int | None, error: str | None, delivered: bool) -> None:
        now = self.clock()
        with self.sessions.begin() as db:
            row = repo.outbox_event(db, event_id)
            if row is None:
                return
            repo.add_attempt(db, event_id, number, started, duration_ms, status, error)
            row.attempts = number
            row.last_attempt_at = started
            row.last_status_code = status
            row.last_error = None if delivered else error
            row.lease_until = None
            row.lease_owner = None
            if delivered:
                row.status = "delivered"
                row.delivered_at = now
                row.next_attempt_at = None
                return
            retry_at = now + self.backoff.delay(number, self.rng)
            if retry_at > row.created_at + self.max_age_s:
                row.status = "failed"
                row.next_attempt_at = None
                log.error("webhook %s given up after %d attempts: %s", event_id, number, error)
            else:
                row.next_attempt_at = retry_at
