"""One running app per test module (the lifespan loads models once), with an API key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from signaling.app import create_app
from signaling.settings import ServerSettings

API_KEY = "test-api-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
DATA = Path(__file__).resolve().parents[1] / "data"
PHOTO = DATA / "faces" / "london_001_neutral.jpg"


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[TestClient]:  # noqa: ANN001
    data_dir = tmp_path_factory.mktemp("api") / "data"
    app = create_app(ServerSettings(data_dir=data_dir, provider="cpu", api_key=API_KEY,
                                    webhook_secret="whsec-api-tests"))
    with TestClient(app) as client:
        yield client


def form(**overrides: str) -> dict[str, str]:
    fields = {
        "application_id": "APP-2026-0001", "applicant_name": "张伟",
        "loan_product": "default",
        "declared_business": json.dumps({"type": "noodle restaurant",
                                         "address": "上海市浦东新区金桥路 8 号",
                                         "coordinates": {"lat": 31.25, "lon": 121.61}}),
        "callback_url": "https://loans.example.com/hooks/verification",
        "locale": "zh-CN",
        "loan_terms": json.dumps({"amount": 80000, "currency": "CNY", "annual_rate_pct": 6.5,
                                  "term_months": 24, "fees": 200}),
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def photo(path: Path = PHOTO) -> dict:
    return {"id_photo": (path.name, path.read_bytes(), "image/jpeg")}
