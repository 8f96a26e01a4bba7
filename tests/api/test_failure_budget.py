"""The failure budget at the door: an applicant or a device that failed too often recently is
refused (429, ``Retry-After``, code ``failure_budget_spent``) when joining and when the loan
system creates a new session, the count survives a restart, and the door opens again once the
failures leave the window (the workflow's clock is injected)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from signaling.app import create_app
from signaling.settings import ServerSettings
from verification.workflow import repository as repo
from verification.workflow.budget import budget_status
from verification.workflow.persist import device_key
from verification.workflow.script import FailureBudgetSpec

from .conftest import API_KEY, AUTH, form, photo

T0 = 1_900_000_000.0
UA = {"User-Agent": "Mozilla/5.0 (Linux; Android 14) budget-test"}


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _client(data_dir: Path, clock: Clock) -> TestClient:
    app = create_app(ServerSettings(data_dir=data_dir, provider="cpu", api_key=API_KEY,
                                    webhook_secret="whsec-budget-tests"))
    client = TestClient(app)
    client.__enter__()
    app.state.core.workflow.clock = clock
    return client


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:  # noqa: ANN001
    return tmp_path_factory.mktemp("budget") / "data"


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture(scope="module")
def server(data_dir: Path, clock: Clock) -> Iterator[TestClient]:
    client = _client(data_dir, clock)
    yield client
    client.__exit__(None, None, None)


def _create(client: TestClient, application_id: str):  # noqa: ANN202
    return client.post("/v1/sessions", data=form(application_id=application_id),
                       files=photo(), headers=AUTH)


def _fail(client: TestClient, subjects: list[str], times: list[float]) -> None:
    """Failed challenge attempts as the engine records them (FailureCounted -> the table)."""
    workflow = client.app.state.core.workflow
    with workflow.sessions.begin() as db:
        for i, at in enumerate(times):
            repo.record_failures(db, subjects, "earlier-session", f"liveness-{i}",
                                 "challenge_not_performed", at)


def test_a_spent_budget_refuses_join_and_new_sessions_until_the_window_passes(
        server, data_dir, clock):
    created = _create(server, "APP-BUDGET-1")
    assert created.status_code == 201, created.text
    token = created.json()["join_url"].split("#", 1)[1]
    assert server.post("/v1/rtc/session", json={"token": token}, headers=UA).status_code == 200

    # five failed attempts of this applicant in the last minute (the default: 5 in 180 s)
    _fail(server, ["applicant:APP-BUDGET-1"], [T0 - 60 + i for i in range(5)])
    refused = server.post("/v1/rtc/session", json={"token": token}, headers=UA)
    assert refused.status_code == 429 and refused.json()["code"] == "failure_budget_spent"
    # one more attempt once the oldest failure (T0 - 60) has left the 180 s window
    assert refused.headers["Retry-After"] == "120"
    offer = server.post("/v1/rtc/offer", json={"token": token, "sdp": "v=0\r\n"}, headers=UA)
    assert offer.status_code == 429 and offer.headers["Retry-After"] == "120"
    again = _create(server, "APP-BUDGET-1")  # another session would be another attempt
    assert again.status_code == 429 and again.json()["code"] == "failure_budget_spent"
    assert int(again.headers["Retry-After"]) == 120
    assert _create(server, "APP-OTHER").status_code == 201  # other applicants are not held up

    # persisted: a restarted server refuses the same applicant
    server.__exit__(None, None, None)
    restarted = _client(data_dir, clock)
    try:
        still = restarted.post("/v1/rtc/session", json={"token": token}, headers=UA)
        assert still.status_code == 429 and still.headers["Retry-After"] == "120"
        clock.t = T0 + 119.0
        assert restarted.post("/v1/rtc/session", json={"token": token},
                              headers=UA).headers["Retry-After"] == "1"
        clock.t = T0 + 120.0  # the oldest failure is out of the window: allowed again
        assert restarted.post("/v1/rtc/session", json={"token": token},
                              headers=UA).status_code == 200
        assert _create(restarted, "APP-BUDGET-1").status_code == 201
    finally:
        restarted.__exit__(None, None, None)
        server.__enter__()  # the module fixture closes it
        server.app.state.core.workflow.clock = clock


def test_the_same_device_is_refused_for_another_applicant(server, clock):
    created = _create(server, "APP-BUDGET-2")
    token = created.json()["join_url"].split("#", 1)[1]
    # the test client's address and this user agent: the key the live interview records
    device = device_key("testclient", UA["User-Agent"])
    _fail(server, [f"device:{device}"], [clock.t - 10 - i for i in range(5)])
    refused = server.post("/v1/rtc/session", json={"token": token}, headers=UA)
    assert refused.status_code == 429 and refused.json()["code"] == "failure_budget_spent"
    assert int(refused.headers["Retry-After"]) == 180 - 14
    other_device = {"User-Agent": "Mozilla/5.0 (iPhone) another device"}
    assert server.post("/v1/rtc/session", json={"token": token},
                       headers=other_device).status_code == 200


def test_budget_arithmetic():
    spec = FailureBudgetSpec(max_failures=5, window_s=180.0)
    assert not budget_status([], spec, 1000.0).spent
    four = budget_status([900.0, 910.0, 920.0, 930.0], spec, 1000.0)
    assert four.failures == 4 and not four.spent and four.retry_after_s == 0
    six = budget_status([700.0, 900.0, 910.0, 920.0, 930.0, 940.0], spec, 1000.0)
    # 700 is outside the window; five inside: the oldest of them (900) must leave first
    assert six.failures == 5 and six.spent and six.retry_after_s == 80
    seven = budget_status([900.0, 905.0, 910.0, 920.0, 930.0, 940.0], spec, 1000.0)
    assert seven.retry_after_s == 85  # six inside: two must leave, the second at 905 + 180
