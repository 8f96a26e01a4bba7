"""Databases for the workflow tests: SQLite always; PostgreSQL when CI started one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import text

from verification.store.db import make_engine
from verification.store.migrate import upgrade_database
from verification.workflow.intake import SessionRequest, Upload
from verification.workflow.loan import LoanWorkflow
from verification.workflow.products import ProductCatalog

POSTGRES_URL = os.environ.get("VERIFICATION_TEST_POSTGRES_URL")
PHOTO = Path(__file__).resolve().parents[1] / "data" / "faces" / "london_001_neutral.jpg"


def _postgres_engine():  # noqa: ANN202
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as conn:  # a clean schema for every test
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def db_engine(request, tmp_path: Path):  # noqa: ANN201
    if request.param == "postgresql":
        if not POSTGRES_URL:
            pytest.skip("VERIFICATION_TEST_POSTGRES_URL is not set (.ci/run starts a "
                        "PostgreSQL server as root; without one these tests skip)")
        engine = _postgres_engine()
    else:
        engine = make_engine(f"sqlite:///{tmp_path / 'wf.sqlite3'}")
    upgrade_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture()
def sqlite_engine(tmp_path: Path):  # noqa: ANN201
    engine = make_engine(f"sqlite:///{tmp_path / 'wf.sqlite3'}")
    upgrade_database(engine)
    yield engine
    engine.dispose()


class OneFace:
    """The ID-photo face counter for tests that are not about the photo (the real counter is
    exercised by the API tests with real images)."""

    def count_faces(self, image) -> int:  # noqa: ANN001
        return 1


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make_workflow(engine, tmp_path: Path, clock=None, on_event=None) -> LoanWorkflow:  # noqa: ANN001
    return LoanWorkflow(engine, ProductCatalog.load(), tmp_path / "data", OneFace(),
                        "http://127.0.0.1:8000", clock=clock or Clock(),
                        on_event=on_event)


def new_request(callback: str | None = "http://127.0.0.1:9/hook", product: str = "default",
                application_id: str = "app-1") -> SessionRequest:
    return SessionRequest(
        application_id=application_id, applicant_name="Wang Fang", loan_product=product,
        declared_business=json.dumps({"type": "grocery", "address": "8 Jinqiao Rd, Shanghai"}),
        callback_url=callback, locale="zh-CN",
        loan_terms=json.dumps({"amount": 80000, "annual_rate_pct": 6.5, "term_months": 24}),
        id_photo=Upload("id.jpg", "image/jpeg", PHOTO.read_bytes()))
