"""Helpers for the real-browser tests: `verification serve` as a subprocess, Debian's headless
Chromium driven by Playwright (no browser download: ``executable_path=/usr/bin/chromium``)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("VERIFICATION_CHROMIUM", "/usr/bin/chromium")
CLIP = REPO / "tests" / "data" / "video" / "bbaf2n.mpg"


def chromium_missing_reason() -> str | None:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        return (f"Chromium not installed ({CHROMIUM} missing): `apt-get install -y chromium` "
                "(.ci/run does this when it runs as root)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: pip install -e '.[test]'"
    return None


def chromium_args(y4m: Path, wav: Path) -> list[str]:
    return ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={y4m}",
            f"--use-file-for-fake-audio-capture={wav}"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log_path: Path
    env: dict[str, str]

    def create_session(self, *extra: str) -> dict:
        """Through the CLI, as an operator would."""
        out = subprocess.run([sys.executable, "-m", "verification", "session", "create",
                              "--server", self.url, "--json", *extra], capture_output=True,
                             text=True, timeout=30, env=self.env)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def session(self, session_id: str) -> dict:
        return httpx.get(f"{self.url}/v1/admin/sessions/{session_id}", timeout=10).json()

    def wait_finished(self, session_id: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            record = self.session(session_id)
            if record["state"] in ("finished", "expired") or time.monotonic() > deadline:
                return record
            time.sleep(0.5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextlib.contextmanager
def running_server(data_dir: Path, **settings: object) -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, "VERIFICATION_PROVIDER": "cpu", "VERIFICATION_ICE_LOOPBACK": "true",
           "VERIFICATION_LOOP_LAG_LIMIT_MS": "5000", "VERIFICATION_ADMISSION_INTERVAL_S": "0"}
    env.update({f"VERIFICATION_{k.upper()}": str(v) for k, v in settings.items()})
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "verification", "--log-level", "INFO", "serve", "--port",
             str(port), "--data-dir", str(data_dir)], cwd=REPO, env=env, stdout=log_file,
            stderr=subprocess.STDOUT)
        server = Server(f"http://127.0.0.1:{port}", process, log_path, env)
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, server.log()
                assert time.monotonic() < deadline, "server did not start:\n" + server.log()
                time.sleep(0.3)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
