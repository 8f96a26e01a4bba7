"""Webhook delivery: signatures, retries with backoff over simulated hours, nothing lost."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

from verification.workflow import repository as repo
from verification.workflow.delivery import Backoff, DeliveryWorker, TransportError
from verification.workflow.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    signature_header,
    verify_signature,
)

from .conftest import Clock, make_workflow, new_request

SECRET = "whsec-test"


def test_signature_round_trip_and_tampering():
    body = b'{"id":"e1","type":"verdict.created"}'
    header = signature_header(SECRET, 1_800_000_000, body)
    assert header.startswith("t=1800000000,v1=") and len(header.split("v1=")[1]) == 64
    assert verify_signature(SECRET, header, body, now=1_800_000_100)
    assert not verify_signature(SECRET, header, body + b" ", now=1_800_000_100)
    assert not verify_signature("other", header, body, now=1_800_000_100)
    assert not verify_signature(SECRET, header, body, now=1_800_001_000)  # stale: replay
    assert not verify_signature(SECRET, "v1=abc", body, now=1_800_000_000)


class Receiver:
    """The loan system, reachable or not depending on the simulated clock; it deduplicates by
    event id as the README tells receivers to."""

    def __init__(self, clock: Clock, down_until: float) -> None:
        self.clock = clock
        self.down_until = down_until
        self.requests: list[tuple[float, dict, bytes]] = []
        self.applied: dict[str, dict] = {}

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.requests.append((self.clock(), headers, body))
        if self.clock() < self.down_until:
            if len(self.requests) % 2:
                raise TransportError("ConnectError: connection refused")
            return 503
        assert verify_signature(SECRET, headers[SIGNATURE_HEADER], body, self.clock())
        self.applied.setdefault(headers[EVENT_ID_HEADER], json.loads(body))
        return 200

    async def aclose(self) -> None:
        return None


def _run_until_settled(worker: DeliveryWorker, clock: Clock, horizon_s: float) -> None:
    """Advance the simulated clock from one due attempt to the next."""
    async def go() -> None:
        end = clock.t + horizon_s
        while clock.t <= end:
            await worker.deliver_due()
            with worker.sessions() as db:
                due = repo.next_due_time(db)
            if due is None:
                return
            clock.t = max(clock.t, due)
    asyncio.run(go())


def test_receiver_down_for_ten_minutes_gets_the_verdict_exactly_once(db_engine, tmp_path):
    clock = Clock()
    workflow = make_workflow(db_engine, tmp_path, clock)
    sessions = [workflow.create_session(new_request(application_id=f"app-{i}")).session_id
                for i in range(3)]
    events = [workflow.conclude(s, "completed").event_id for s in sessions]
    receiver = Receiver(clock, down_until=clock.t + 600.0)
    worker = DeliveryWorker(db_engine, SECRET, receiver, clock=clock,
                            backoff=Backoff(base_s=1.0, cap_s=3600.0), rng=random.Random(0))
    start = clock.t
    _run_until_settled(worker, clock, 24 * 3600)
    assert set(receiver.applied) == set(events)  # none lost
    for event_id in events:
        sent = [r for r in receiver.requests if r[1][EVENT_ID_HEADER] == event_id]
        assert len({body for _, _, body in sent}) == 1  # every retry: same id, same bytes
        assert sum(1 for t, _, _ in sent if t >= start + 600.0) == 1  # delivered once when up
        view = workflow.session_view(receiver.applied[event_id]["data"]["session_id"])
        delivery = view["deliveries"][0]
        assert delivery["status"] == "delivered" and delivery["attempts"] == len(sent)
        # exponential backoff with jitter: each gap in [0.5, 1] x base * 2^(n-1)
        times = [t for t, _, _ in sent]
        for n, (a, b) in enumerate(zip(times, times[1:], strict=False), start=1):
            assert 0.5 * 2 ** (n - 1) - 1e-6 <= b - a <= 2 ** (n - 1) + 1e-6
        assert times[-1] - start < 1800  # delivered within ~2x the outage
        with workflow.sessions() as db:
            attempts = repo.attempts_of(db, event_id)
        assert [a.number for a in attempts] == list(range(1, len(sent) + 1))
        assert attempts[-1].status_code == 200 and attempts[0].error


def test_retries_stop_after_24_hours_and_the_event_stays_visible(sqlite_engine, tmp_path):
    clock = Clock()
    workflow = make_workflow(sqlite_engine, tmp_path, clock)
    session_id = workflow.create_session(new_request()).session_id
    event_id = workflow.conclude(session_id, "completed").event_id
    receiver = Receiver(clock, down_until=float("inf"))
    worker = DeliveryWorker(sqlite_engine, SECRET, receiver, clock=clock, rng=random.Random(1))
    start = clock.t
    _run_until_settled(worker, clock, 48 * 3600)
    delivery = workflow.session_view(session_id)["deliveries"][0]
    assert delivery["status"] == "failed" and delivery["event_id"] == event_id
    assert receiver.requests[-1][0] - start <= 24 * 3600
    assert 20 <= delivery["attempts"] <= 60
    # polling integrations still get the verdict
    assert workflow.verdicts_since(None)["verdicts"][0]["event_id"] == event_id


def test_sessions_without_a_callback_are_served_by_polling_only(sqlite_engine, tmp_path: Path):
    clock = Clock()
    workflow = make_workflow(sqlite_engine, tmp_path, clock)
    session_id = workflow.create_session(new_request(callback=None)).session_id
    workflow.conclude(session_id, "completed")
    receiver = Receiver(clock, down_until=0.0)
    worker = DeliveryWorker(sqlite_engine, SECRET, receiver, clock=clock)
    asyncio.run(worker.deliver_due())
    assert receiver.requests == []
    assert workflow.session_view(session_id)["deliveries"][0]["status"] == "no_callback"
    assert len(workflow.verdicts_since("0")["verdicts"]) == 1
