"""A loan system's webhook endpoint on loopback, for tests: verifies signatures, deduplicates
by event id (as the README tells receivers to), and can hold a request open on demand."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from verification.workflow.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, verify_signature


class WebhookReceiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.requests: list[dict] = []  # every POST, as received
        self.effective: dict[str, dict] = {}  # event id -> body, applied once
        self.hold_first = threading.Event()  # set: the first request waits for release
        self.release = threading.Event()
        self.first_arrived = threading.Event()
        self.received_at: dict[str, float] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                event_id = self.headers.get(EVENT_ID_HEADER, "")
                valid = verify_signature(receiver.secret,
                                         self.headers.get(SIGNATURE_HEADER, ""), body, time.time())
                with receiver._lock:
                    first = not receiver.requests
                    receiver.requests.append({"event_id": event_id, "valid": valid,
                                              "body": body})
                if first and receiver.hold_first.is_set():
                    receiver.first_arrived.set()
                    receiver.release.wait(60)
                if not valid:
                    self.send_response(401)
                    self.end_headers()
                    return
                with receiver._lock:
                    if event_id not in receiver.effective:  # dedupe: apply once
                        receiver.effective[event_id] = json.loads(body)
                        receiver.received_at[event_id] = time.time()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:  # noqa: ANN002
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/verification"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
