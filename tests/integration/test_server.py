"""The HTTP server: health, model status, OpenAPI docs; the real `verification serve` command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from signaling.app import create_app
from signaling.settings import ServerSettings

REPO = Path(__file__).resolve().parents[2]


def test_health_models_and_docs(tmp_path: Path):
    app = create_app(ServerSettings(data_dir=tmp_path / "data", provider="cpu"))
    with TestClient(app) as client:
        health = client.get("/health").json()
        assert health["status"] == "ok" and health["database"] is True
        assert health["models_verified"] == health["models_total"] >= 9
        models = client.get("/v1/models").json()
        assert all(m["verified"] and m["licence"] for m in models)
        assert client.get("/openapi.json").json()["info"]["title"] == "Verification server"
        assert client.get("/docs").status_code == 200
        missing = client.get("/no/such/route")
        assert missing.status_code == 404 and "Traceback" not in missing.text
    assert (tmp_path / "data" / "verification.sqlite3").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_verification_serve_starts_on_embedded_defaults(tmp_path: Path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "verification", "serve", "--port", str(port), "--data-dir",
         str(tmp_path / "data")], cwd=tmp_path, env={**os.environ}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.3)
        assert response.status_code == 200 and response.json()["status"] == "ok"
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=20)
    # Graceful shutdown on SIGTERM (uvicorn re-raises the signal once it has shut down).
    assert proc.returncode in (0, -15)
    assert "Traceback" not in output
