"""``verification serve`` killed with SIGKILL while a webhook is in flight: after a restart the
receiver gets the event again and, deduplicating by event id, applies it exactly once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from verification.store.db import default_database_url, make_engine
from verification.workflow.loan import LoanWorkflow
from verification.workflow.products import ProductCatalog

from .conftest import PHOTO, form
from .webhook_receiver import WebhookReceiver

SECRET = "whsec-kill9"
KEY = "kill9-key"
REPO = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "VERIFICATION_WEBHOOK_SECRET": SECRET, "VERIFICATION_API_KEY": KEY,
           "VERIFICATION_DELIVERY_LEASE_S": "3", "VERIFICATION_PROVIDER": "cpu"}
    proc = subprocess.Popen([sys.executable, "-m", "verification", "serve", "--port", str(port),
                             "--data-dir", str(data_dir)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        assert proc.poll() is None, "server exited during start"
        time.sleep(0.3)
    proc.kill()
    raise AssertionError("server did not start")


@pytest.mark.slow
def test_kill_9_during_delivery_then_restart_delivers_exactly_one_effective_event(tmp_path):
    data_dir = tmp_path / "data"
    port = _port()
    auth = {"Authorization": f"Bearer {KEY}"}
    with WebhookReceiver(SECRET) as receiver:
        receiver.hold_first.set()
        server = _serve(data_dir, port)
        try:
            created = httpx.post(f"http://127.0.0.1:{port}/v1/sessions",
                                 data=form(callback_url=receiver.url),
                                 files={"id_photo": ("id.jpg", PHOTO.read_bytes(), "image/jpeg")},
                                 headers=auth, timeout=30)
            assert created.status_code == 201, created.text
            session_id = created.json()["session_id"]
            # The interview ends (here: concluded by a second process on the same database,
            # as a reviewer tool or a second server would); the running server's worker
            # picks the outbox row up and POSTs it.
            engine = make_engine(default_database_url(data_dir))
            workflow = LoanWorkflow(engine, ProductCatalog.load(), data_dir, None,  # type: ignore[arg-type]
                                    "http://unused")
            event_id = workflow.conclude(session_id, "completed").event_id
            assert receiver.first_arrived.wait(30), "no delivery attempt reached the receiver"
            server.send_signal(signal.SIGKILL)  # mid-request: the POST never gets its answer
            server.wait(10)
        finally:
            if server.poll() is None:
                server.kill()
        receiver.release.set()
        restarted = _serve(data_dir, port)
        try:
            deadline = time.monotonic() + 30
            while event_id not in receiver.effective and time.monotonic() < deadline:
                time.sleep(0.2)
            # The receiver applies the event before it answers 200; the server records
            # "delivered" only once that answer arrives, so poll for it.
            deadline = time.monotonic() + 15
            while True:
                view = httpx.get(f"http://127.0.0.1:{port}/v1/sessions/{session_id}",
                                 headers=auth, timeout=10).json()
                deliveries = view.get("deliveries") or [{}]
                if deliveries[0].get("status") == "delivered" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            time.sleep(1.5)  # nothing else arrives afterwards
        finally:
            restarted.send_signal(signal.SIGTERM)
            restarted.wait(30)
        engine.dispose()
    assert list(receiver.effective) == [event_id]
    assert len(receiver.requests) >= 2 and all(r["valid"] for r in receiver.requests)
    assert {r["event_id"] for r in receiver.requests} == {event_id}
    assert len({r["body"] for r in receiver.requests}) == 1  # the same bytes every time
    body = receiver.effective[event_id]
    assert body["type"] == "verdict.created" and body["data"]["session_id"] == session_id
    assert view["verdict"]["event_id"] == event_id
    delivery = view["deliveries"][0]
    assert delivery["status"] == "delivered" and delivery["attempts"] >= 1
    assert json.loads(json.dumps(view))["state"] == "finished"
