"""Access-control matrix: every route of the app, every kind of caller, 401/403 where due.

The expected access of each route is declared here explicitly; a route the app serves that
is not declared fails the test (a new route must state who may call it), and so does a
declared route the app no longer serves. Callers: nobody, an applicant's join token (as a
bearer header: the interview's own pages send it in request bodies, never as credentials), the
loan system's API key, an operator with the admin token, and console users of each role.

Rules the matrix documents:
- the loan-system API (``/v1/sessions``, ``/v1/verdicts``) takes the API key only;
- operator routes (``/v1/admin/*``, ``/v1/metrics``) take ``VERIFICATION_ADMIN_TOKEN``; with no
  admin token configured they accept loopback clients only (see the last test);
- signaling (``/v1/rtc/*``) is authorised by the join token *in the body*: no header opens it;
- console JSON routes take the console cookie only, and each role only its actions;
- pages, static files, ``/health``, ``/v1/models`` (licences) and the API docs are public.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from .conftest import ADMIN_TOKEN, API_KEY, browser, create_session

try:  # FastAPI >= 0.120 keeps included routers unflattened in app.routes
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI: app.routes is already flat
    def iter_route_contexts(routes):  # noqa: ANN001, ANN201
        return routes

ROLES = ("reviewer", "supervisor", "admin")
CALLERS = ("nobody", "applicant", "api_key", "operator", *ROLES)
PUBLIC = "public"
LOAN_API = "loan_api"
OPERATOR = "operator"
JOIN_BODY = "join_token_in_body"
SIGNED_IN = "signed_in"
REVIEWERS = frozenset({"reviewer", "supervisor"})
SUPERVISORS = frozenset({"supervisor"})

EXPECTED: dict[tuple[str, str], str | frozenset[str]] = {
    # operations and documentation
    ("GET", "/health"): PUBLIC,
    ("GET", "/v1/models"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/static"): PUBLIC,  # mount: the applicant page's and console's scripts
    # the loan-system API
    ("POST", "/v1/sessions"): LOAN_API,
    ("GET", "/v1/sessions/{session_id}"): LOAN_API,
    ("GET", "/v1/sessions/{session_id}/events"): LOAN_API,
    ("POST", "/v1/sessions/{session_id}/cancel"): LOAN_API,
    ("DELETE", "/v1/sessions/{session_id}/personal-data"): LOAN_API,
    ("GET", "/v1/verdicts"): LOAN_API,
    # the applicant's interview
    ("GET", "/join"): PUBLIC,
    ("POST", "/v1/rtc/session"): JOIN_BODY,
    ("POST", "/v1/rtc/offer"): JOIN_BODY,
    ("PATCH", "/v1/rtc/{peer_id}/candidates"): JOIN_BODY,
    ("POST", "/v1/rtc/{peer_id}/hangup"): JOIN_BODY,
    # operators
    ("POST", "/v1/admin/sessions"): OPERATOR,
    ("GET", "/v1/admin/sessions/{session_id}"): OPERATOR,
    ("POST", "/v1/admin/sessions/{session_id}/finish"): OPERATOR,
    ("GET", "/v1/metrics"): OPERATOR,
    # reviewer console: pages (no data in them) and the JSON API
    ("GET", "/console"): PUBLIC,
    ("GET", "/console/sessions/{session_id}"): PUBLIC,
    ("GET", "/console/live"): PUBLIC,
    ("GET", "/console/live/{session_id}"): PUBLIC,
    ("GET", "/console/static/{path:path}"): PUBLIC,
    ("POST", "/console/api/login"): PUBLIC,
    ("POST", "/console/api/logout"): SIGNED_IN,
    ("GET", "/console/api/me"): SIGNED_IN,
    ("GET", "/console/api/queue"): REVIEWERS,
    ("POST", "/console/api/sessions/{session_id}/claim"): REVIEWERS,
    ("POST", "/console/api/sessions/{session_id}/release"): REVIEWERS,
    ("GET", "/console/api/sessions/{session_id}"): REVIEWERS,
    ("GET", "/console/api/sessions/{session_id}/recording"): REVIEWERS,
    ("GET", "/console/api/sessions/{session_id}/id-photo"): REVIEWERS,
    ("GET", "/console/api/sessions/{session_id}/reference-frame"): REVIEWERS,
    ("GET", "/console/api/sessions/{session_id}/export"): SUPERVISORS,
    ("POST", "/console/api/sessions/{session_id}/notes"): REVIEWERS,
    ("POST", "/console/api/sessions/{session_id}/decision"): REVIEWERS,
    ("GET", "/console/api/live"): REVIEWERS,
    ("GET", "/console/api/live/{interview_id}"): REVIEWERS,
    ("POST", "/console/api/live/{interview_id}/watch"): REVIEWERS,
    ("POST", "/console/api/live/{interview_id}/watch/{watcher_id}/close"): REVIEWERS,
    ("GET", "/console/api/live/{interview_id}/events"): REVIEWERS,
    ("POST", "/console/api/live/{interview_id}/message"): REVIEWERS,
}

UNKNOWN_ID = "0" * 32  # every path parameter names nothing: allowed calls get 4xx, never 2xx
PATH_VALUES = {"session_id": UNKNOWN_ID, "interview_id": UNKNOWN_ID, "peer_id": "p" * 16,
               "watcher_id": "w" * 16, "path": "console.css"}


def app_routes(app: Any) -> set[tuple[str, str]]:
    found = set()
    for route in iter_route_contexts(app.routes):
        methods = getattr(route, "methods", None) or {"GET"}  # a mount serves GET
        for method in methods - {"HEAD"}:
            found.add((method, route.path))
    return found


def concrete(path: str) -> str:
    if path == "/static":
        return "/static/applicant.js"
    for name, value in PATH_VALUES.items():
        path = path.replace(f"{{{name}:path}}", value).replace(f"{{{name}}}", value)
    assert "{" not in path, f"no test value for a parameter of {path}"
    return path


def expected_status(rule: str | frozenset[str], caller: str) -> int | None:
    """401/403 for a caller who must be refused; None when the caller must get through."""
    if rule == PUBLIC or rule == JOIN_BODY:
        return None
    if rule == LOAN_API:
        return None if caller == "api_key" else 401
    if rule == OPERATOR:
        return None if caller == "operator" else 403
    if caller not in ROLES:
        return 401
    if rule == SIGNED_IN:
        return None
    return None if caller in rule else 403


@pytest.fixture(scope="module")
def callers(console) -> dict[str, tuple[TestClient, dict[str, str]]]:  # noqa: ANN001
    _session, join_token = create_session(console, "APP-CONSOLE-MATRIX", "Sun Li")
    out = {"nobody": (TestClient(console.client.app), {}),
           "applicant": (TestClient(console.client.app),
                         {"Authorization": f"Bearer {join_token}"}),
           "api_key": (TestClient(console.client.app), {"Authorization": f"Bearer {API_KEY}"}),
           "operator": (TestClient(console.client.app),
                        {"Authorization": f"Bearer {ADMIN_TOKEN}"})}
    for role, user in zip(ROLES, ("rita", "sam", "ada"), strict=True):
        out[role] = browser(console, user)
    return out


def test_every_route_is_declared(console):
    served = app_routes(console.client.app)
    undeclared = sorted(served - EXPECTED.keys())
    assert not undeclared, f"declare who may call these routes in EXPECTED: {undeclared}"
    stale = sorted(EXPECTED.keys() - served)
    assert not stale, f"EXPECTED names routes the app no longer serves: {stale}"


def test_every_route_refuses_the_callers_it_must(console, callers):
    problems = []
    for (method, path), rule in sorted(EXPECTED.items()):
        for caller in CALLERS:
            client, headers = callers[caller]
            # an empty JSON object: valid for bodies whose fields are all optional, so the
            # check under test (not body validation) answers
            body = {} if method in ("POST", "PATCH", "PUT") else None
            response = client.request(method, concrete(path), headers=headers, json=body)
            want = expected_status(rule, caller)
            got = response.status_code
            if want is not None and got != want:
                problems.append(f"{caller:10} {method} {path}: {got}, expected {want}")
            elif want is None and got in (401, 403):
                problems.append(f"{caller:10} {method} {path}: refused with {got}")
            elif rule == JOIN_BODY and got < 400:
                problems.append(f"{caller:10} {method} {path}: {got} without a join token")
            elif got >= 500:
                problems.append(f"{caller:10} {method} {path}: server error {got}")
            if path == "/console/api/logout" and caller in ROLES and got == 204:
                callers[caller] = browser(console, {"reviewer": "rita", "supervisor": "sam",
                                                    "admin": "ada"}[caller])
    assert not problems, "\n".join(problems)


def test_console_refusals_carry_the_contract_codes(console, callers):
    nobody, _ = callers["nobody"]
    assert nobody.get("/console/api/queue").json()["code"] == "not_authenticated"
    admin, admin_h = callers["admin"]
    assert admin.get("/console/api/queue").json()["code"] == "forbidden"
    reviewer, _ = callers["reviewer"]
    missing = reviewer.post(f"/console/api/sessions/{UNKNOWN_ID}/notes", json={"text": "x"})
    assert missing.status_code == 403 and missing.json()["code"] == "csrf"


def test_the_join_token_reaches_only_its_own_interview(console):
    session_id, token = create_session(console, "APP-CONSOLE-JOIN", "Qian Yu")
    client = TestClient(console.client.app)
    mine = client.post("/v1/rtc/session", json={"token": token})
    assert mine.status_code == 200 and mine.json()["session"] == session_id
    assert client.post("/v1/rtc/session", json={"token": token + "x"}).status_code in (403, 404)
    as_key = client.get(f"/v1/sessions/{session_id}",
                        headers={"Authorization": f"Bearer {token}"})
    assert as_key.status_code == 401


def test_without_an_admin_token_operator_routes_serve_loopback_clients_only(console):
    settings = console.core.settings
    saved = settings.admin_token
    settings.admin_token = None
    try:
        assert TestClient(console.client.app).get("/v1/metrics").status_code == 200
        remote = TestClient(console.client.app, client=("203.0.113.7", 40000))
        refused = remote.get("/v1/metrics")
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    finally:
        settings.admin_token = saved
