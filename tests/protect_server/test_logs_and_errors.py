"""No personal data in the server's logs, and the security headers on a 500 answer.

- ``verification serve`` (a real subprocess at ``--log-level INFO``): requests from a distinct
  loopback address carrying a join token, a session id, a deletion reason with a name, and a
  token-like path leave no trace of any of them (nor of the client address) in the log, while
  each request still gets its one line with the route template and status.
- The handler of unexpected errors answers outside the middleware stack; its 500 carries the
  same CSP, nosniff, framing, no-store (and HSTS over HTTPS) headers as every other answer,
  and the access line records the 500.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from signaling.access_log import NO_ROUTE, quiet_address_loggers, route_template
from signaling.app import create_app
from signaling.security_headers import CONTENT_SECURITY_POLICY
from signaling.settings import ServerSettings
from tests.integration.browser_support import running_server

CLIENT_ADDRESS = "127.0.0.3"  # a loopback address the server's own start-up lines never show
JOIN_TOKEN = "jt-5ecret-Join-Token-7f3a9c"
SESSION_ID = "5e55" * 8
NAME = "Wang Fang"


def _requests(base: str) -> dict[str, int]:
    transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS)
    with httpx.Client(base_url=base, transport=transport, timeout=10) as client:
        return {
            "join": client.get("/join", params={"token": JOIN_TOKEN}).status_code,
            "rtc": client.post("/v1/rtc/session", json={"token": JOIN_TOKEN}).status_code,
            "console": client.get(f"/console/api/sessions/{SESSION_ID}").status_code,
            "delete": client.delete(f"/v1/sessions/{SESSION_ID}/personal-data",
                                    params={"reason": f"request by {NAME}"}).status_code,
            "no route": client.get(f"/t/{JOIN_TOKEN}").status_code,
            "static": client.get("/static/applicant.js").status_code,
        }


def test_serve_logs_requests_without_addresses_tokens_or_ids(tmp_path: Path):
    with running_server(tmp_path / "data", api_key="logs-test-key") as server:
        statuses = _requests(server.url)
        deadline = time.monotonic() + 20
        while "GET /static/… 200" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.2)  # the last line may still be on its way to the file
        log = server.log()
    assert statuses["join"] == 200 and statuses["console"] == 401
    assert statuses["delete"] == 401 and statuses["no route"] == 404
    for line in ("GET /join 200", f"POST /v1/rtc/session {statuses['rtc']}",
                 "GET /console/api/sessions/{session_id} 401",
                 "DELETE /v1/sessions/{session_id}/personal-data 401",
                 f"GET {NO_ROUTE} 404", "GET /static/… 200"):
        assert line in log, (line, log[-3000:])
    for secret in (CLIENT_ADDRESS, JOIN_TOKEN, SESSION_ID, NAME, "Wang+Fang", "reason="):
        assert secret not in log, secret


@pytest.fixture()
def crashing_app(tmp_path: Path) -> TestClient:
    """The real app (no lifespan: nothing the crash needs) with one route that raises."""
    app = create_app(ServerSettings(data_dir=tmp_path / "data"))

    @app.get("/v1/crash/{session_id}")
    def crash(session_id: str) -> None:
        raise RuntimeError(f"bug while handling {session_id}")

    return TestClient(app, raise_server_exceptions=False)


def test_a_500_carries_the_security_headers(crashing_app: TestClient, caplog):
    with caplog.at_level(logging.INFO, logger="signaling.access"):
        response = crashing_app.get(f"/v1/crash/{SESSION_ID}")
    assert response.status_code == 500
    assert response.json() == {"code": "internal_error", "message": "internal error"}
    headers = response.headers
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in headers
    access = [r.getMessage() for r in caplog.records if r.name == "signaling.access"]
    assert any(m.startswith("GET /v1/crash/{session_id} 500 ") for m in access), access
    assert not any(SESSION_ID in m for m in access)
    over_https = crashing_app.get("/v1/crash/x", headers={"X-Forwarded-Proto": "https"})
    assert over_https.status_code == 500
    assert over_https.headers["strict-transport-security"].startswith("max-age=")


def test_route_template_never_returns_the_concrete_path():
    assert route_template({"path": f"/t/{JOIN_TOKEN}", "root_path": ""}) == NO_ROUTE
    assert route_template({"path": "/static/a.js", "root_path": "/static",
                           "app_root_path": ""}) == "/static/…"


def test_ice_candidate_logging_stays_quiet_below_debug():
    """aioice logs every candidate pair (applicants' IP addresses) at INFO."""
    ice = logging.getLogger("aioice")
    saved = ice.level
    try:
        ice.setLevel(logging.NOTSET)
        quiet_address_loggers("INFO")
        assert ice.getEffectiveLevel() == logging.WARNING
        ice.setLevel(logging.NOTSET)
        quiet_address_loggers("DEBUG")  # the operator asked for everything
        assert ice.level == logging.NOTSET
    finally:
        ice.setLevel(saved)
