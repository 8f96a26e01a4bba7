"""Data-subject deletion API, the session-creation rate limit, and security headers on HTML,
JSON and static responses (one app for the module: the lifespan loads models once)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from signaling.app import create_app
from signaling.rate_limit import TokenBucketLimiter
from signaling.settings import ServerSettings
from verification.protect.audit import AuditLog
from verification.protect.media import VaultTemplateSealer

DATA = Path(__file__).resolve().parents[1] / "data"
PHOTO = DATA / "faces" / "london_030_neutral.jpg"
VOICE = DATA / "speech" / "1998-15444-0007.flac"
API_KEY = "protect-api-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[TestClient]:
    data_dir = tmp_path_factory.mktemp("protect-api") / "data"
    app = create_app(ServerSettings(data_dir=data_dir, provider="cpu", api_key=API_KEY,
                                    retention_interval_s=0))
    with TestClient(app) as client:
        yield client


def _create(api: TestClient, application_id: str = "APP-DEL-1"):
    return api.post("/v1/sessions", headers=AUTH, files={
        "id_photo": (PHOTO.name, PHOTO.read_bytes(), "image/jpeg"),
        "voiceprint": (VOICE.name, VOICE.read_bytes(), "audio/flac")}, data={
        "application_id": application_id, "applicant_name": "王芳", "loan_product": "express",
        "declared_business": json.dumps({"type": "bakery", "address": "北京市朝阳区 2 号"}),
        "loan_terms": json.dumps({"amount": 5000, "annual_rate_pct": 5, "term_months": 6})})


def test_deletion_api_removes_media_and_templates_and_is_audited(api: TestClient):
    created = _create(api)
    assert created.status_code == 201, created.text
    session_id = created.json()["session_id"]
    vault = api.app.state.core.vault
    VaultTemplateSealer(vault).seal(session_id, np.arange(128, dtype=np.float32).tobytes())
    assert {m.kind.value for m in vault.list_media(session_id)} == {
        "id_photo", "voice_enrolment", "face_template"}

    # the API key is required
    assert api.delete(f"/v1/sessions/{session_id}/personal-data").status_code == 401
    gone = api.delete(f"/v1/sessions/{session_id}/personal-data", headers=AUTH,
                      params={"reason": "GDPR art. 17 request #77"})
    assert gone.status_code == 200, gone.text
    body = gone.json()
    assert body["by_kind"] == {"id_photo": 1, "voice_enrolment": 1, "face_template": 1}
    assert vault.list_media(session_id) == []
    entry = list(AuditLog.for_data_dir(api.app.state.core.settings.data_dir).entries())[-1]
    assert (entry.seq, entry.action, entry.target) == (body["audit_seq"], "subject.delete",
                                                       session_id)
    assert entry.details["reason"] == "GDPR art. 17 request #77"
    assert entry.actor.startswith("api-key:") and API_KEY not in entry.actor
    # the session and its record stay; a repeated request is recorded with nothing deleted
    assert api.get(f"/v1/sessions/{session_id}", headers=AUTH).status_code == 200
    again = api.delete(f"/v1/sessions/{session_id}/personal-data", headers=AUTH).json()
    assert again["deleted"] == [] and again["audit_seq"] == body["audit_seq"] + 1
    missing = api.delete("/v1/sessions/nope/personal-data", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["code"] == "session_not_found"


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_session_creation_is_rate_limited_per_api_key(api: TestClient):
    clock = _Clock()
    api.app.state.core.session_limiter = TokenBucketLimiter(per_minute=6, burst=2, clock=clock)
    assert [_create(api, f"APP-RL-{i}").status_code for i in range(2)] == [201, 201]
    refused = _create(api, "APP-RL-2")
    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "rate_limited"
    assert refused.headers["Retry-After"] == "10"  # 6 per minute: one every 10 s
    clock.now += 10
    assert _create(api, "APP-RL-3").status_code == 201
    # another credential has its own bucket (here: a wrong key, refused by auth, not the limit)
    other = api.post("/v1/sessions", headers={"Authorization": "Bearer other"}, data={})
    assert other.status_code == 401


def test_token_bucket_forgets_old_keys_and_refills():
    clock = _Clock()
    limiter = TokenBucketLimiter(per_minute=60, burst=1, clock=clock, max_keys=2)
    for key in ("a", "b", "c"):
        limiter.acquire(key)
    assert len(limiter._buckets) == 2
    with pytest.raises(Exception) as refused:
        limiter.acquire("c")
    assert refused.value.retry_after_s == 1
    clock.now += 1
    limiter.acquire("c")


EXPECTED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(self), microphone=(self), geolocation=(self)",
}


@pytest.mark.parametrize("path,kind", [("/join", "text/html"), ("/health", "application/json"),
                                       ("/static/applicant.js", "javascript"),
                                       ("/v1/sessions/x", "application/json")])
def test_security_headers_on_html_json_static_and_errors(api: TestClient, path: str, kind: str):
    response = api.get(path)
    assert kind in response.headers["content-type"]
    for name, value in EXPECTED.items():
        assert response.headers[name] == value, name
    csp = response.headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "object-src 'none'",
                      "frame-ancestors 'none'", "base-uri 'none'", "connect-src 'self'",
                      "media-src 'self' blob: mediastream:"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "strict-transport-security" not in response.headers  # plain HTTP


def test_hsts_only_over_https(api: TestClient):
    response = api.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_applicant_page_has_no_inline_script_or_handlers():
    from signaling.routes import STATIC

    html = (STATIC / "join.html").read_text(encoding="utf-8")
    scripts = [chunk.split(">", 1) for chunk in html.split("<script")[1:]]
    assert scripts and all("src=" in attrs and body.startswith("</script")
                           for attrs, body in scripts)
    lowered = html.lower()
    for handler in ("onclick=", "onload=", "onerror=", "onchange=", "javascript:"):
        assert handler not in lowered
