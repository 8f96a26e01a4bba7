"""Benchmark: how fast a verdict reaches the loan system after the interview's last step, and
how long a cooperative applicant's interview takes under each product's script.

1. Delivery latency (target: p95 <= 1 s). For each of N sessions: an interview's worth of
   evidence is already in the timeline (``--evidence`` rows, as a live interview flushes them),
   then the last step happens: the engine's finishing transition is persisted, the verdict is
   fused from the stored evidence with the product's policy and committed with its outbox
   event, the delivery worker is woken and POSTs the signed event over loopback HTTP to a
   receiver that verifies the signature. Measured: last step -> receiver has the event.
   Runs on SQLite (default) or any database URL (``--database-url``).
2. Interview length (target: <= 90 s): the engine driven by a simulated cooperative applicant
   (slow-side reaction times, see ``verification/workflow/simulation.py``), per product.

    python -m benchmarks.bench_delivery [--sessions 50] [--evidence 150] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from verification.store.db import make_engine
from verification.store.migrate import upgrade_database
from verification.types import Check, Evidence, Outcome, TimeWindow
from verification.workflow import repository as repo
from verification.workflow.delivery import DeliveryWorker, HttpxTransport
from verification.workflow.engine import InterviewEngine, Transition
from verification.workflow.intake import SessionRequest, Upload
from verification.workflow.loan import LoanWorkflow
from verification.workflow.persist import save_transition
from verification.workflow.products import ProductCatalog
from verification.workflow.simulation import Simulator
from verification.workflow.webhooks import SIGNATURE_HEADER, verify_signature

SECRET = "bench-secret"
PHOTO = Path(__file__).resolve().parents[1] / "tests" / "data" / "faces" / "london_001_neutral.jpg"


class _AnyFace:
    def count_faces(self, image) -> int:  # noqa: ANN001 - the photo is a real face; not timed
        return 1


class Receiver:
    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.valid = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.time()
                if verify_signature(SECRET, self.headers.get(SIGNATURE_HEADER, ""), body, now):
                    receiver.valid += 1
                    receiver.arrived.setdefault(json.loads(body)["data"]["session_id"], now)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:  # noqa: ANN002
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _evidence(n: int, rng: random.Random) -> list[Evidence]:
    checks = [Check.FACE_PRESENCE, Check.FACE_MATCH, Check.FACE_LIVENESS, Check.VOICEPRINT,
              Check.LIP_SYNC, Check.SPEECH_PRESENCE, Check.BACKGROUND, Check.LBS, Check.POI]
    out = []
    for i in range(n):
        t = i * 0.5
        out.append(Evidence(checks[i % len(checks)], Outcome.SUPPORTS, TimeWindow(t, t + 0.5),
                            "bench observation", score=rng.random(), code="bench",
                            details={"i": i}))
    return out


async def _delivery(database_url: str | None, sessions: int, evidence: int) -> list[float]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-delivery-"))
    engine = make_engine(database_url or f"sqlite:///{tmp / 'bench.sqlite3'}")
    upgrade_database(engine)
    catalog = ProductCatalog.load()
    workflow = LoanWorkflow(engine, catalog, tmp, _AnyFace(), "http://bench")
    worker = DeliveryWorker(engine, SECRET, HttpxTransport(5.0), poll_s=1.0)
    workflow.on_event = worker.wake
    worker.start()
    receiver = Receiver()
    rng = random.Random(0)
    script = catalog.get("default").script
    latencies = []
    for i in range(sessions):
        created = workflow.create_session(SessionRequest(
            application_id=f"bench-{i}", applicant_name="Bench", loan_product="default",
            declared_business=json.dumps({"type": "shop", "address": "1 Bench Rd"}),
            callback_url=receiver.url, loan_terms=json.dumps(
                {"amount": 1000, "annual_rate_pct": 5, "term_months": 6}),
            id_photo=Upload("id.jpg", "image/jpeg", PHOTO.read_bytes())))
        with workflow.sessions.begin() as db:
            repo.append_evidence(db, created.session_id, _evidence(evidence, rng), time.time())
        # The whole interview in simulated time; its last transition is the "last step".
        run = Simulator(InterviewEngine(script, rng=random.Random(i))).run()
        assert run.finished is not None
        last = tuple(e for at, e in run.effects if at == run.finished.at)
        transition = Transition(run.state, last)
        t0 = time.time()

        def finish(tr=transition, sid=created.session_id) -> None:  # noqa: ANN001
            with workflow.sessions.begin() as db:
                save_transition(db, sid, tr, time.time(), [s.id for s in script.steps])
            workflow.conclude(sid, "completed")

        await asyncio.to_thread(finish)
        while created.session_id not in receiver.arrived:  # noqa: ASYNC110 - set by a thread
            await asyncio.sleep(0.002)
        latencies.append(receiver.arrived[created.session_id] - t0)
    await worker.stop()
    receiver.server.shutdown()
    engine.dispose()
    assert receiver.valid >= sessions
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--evidence", type=int, default=150,
                        help="evidence rows per interview already in the timeline")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    latencies = asyncio.run(_delivery(args.database_url, args.sessions, args.evidence))
    ms = np.array(latencies) * 1000.0
    print(f"verdict delivery after the last step ({args.sessions} sessions, "
          f"{args.evidence} evidence rows each, {args.database_url or 'SQLite'}):")
    print(f"  p50 {np.percentile(ms, 50):.1f} ms   p95 {np.percentile(ms, 95):.1f} ms   "
          f"max {ms.max():.1f} ms   (target p95 <= 1000 ms)")

    catalog = ProductCatalog.load()
    for name in catalog.names():
        durations = []
        for seed in range(100):
            run = Simulator(InterviewEngine(catalog.get(name).script, rng=random.Random(seed))
                            ).run()
            assert run.finished is not None and run.finished.reason == "completed"
            durations.append(run.duration_s)
        print(f"cooperative applicant, product {name!r} ({catalog.get(name).script.label}): "
              f"median {statistics.median(durations):.1f} s, p95 "
              f"{np.percentile(durations, 95):.1f} s, max {max(durations):.1f} s "
              f"(target <= 90 s)")


if __name__ == "__main__":
    main()
