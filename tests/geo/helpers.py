"""Geo test data: the MaxMind test databases and sample POIs in tests/data/geo, the hand-made
scenarios, and small helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from verification.geo.config import GeoConfig

GEO_DATA = Path(__file__).resolve().parents[1] / "data" / "geo"
CITY_DB = GEO_DATA / "GeoIP2-City-Test.mmdb"
ASN_DB = GEO_DATA / "GeoLite2-ASN-Test.mmdb"
ANON_DB = GEO_DATA / "GeoIP2-Anonymous-IP-Test.mmdb"
POI_FILE = GEO_DATA / "poi_sample.geojson"
SCENARIOS = json.loads((GEO_DATA / "scenarios.json").read_text(encoding="utf-8"))["scenarios"]

# The declared restaurant of the scenarios (Changchun, Chaoyang district) and a fix 29 m away.
SHOP = (43.8301, 125.2950)
SHOP_GEO: dict[str, Any] = SCENARIOS[0]["geo"]


def scenario(name: str) -> dict[str, Any]:
    return next(s for s in SCENARIOS if s["name"] == name)


def full_config(data_dir: Path | None = None, **overrides: Any) -> GeoConfig:
    values: dict[str, Any] = dict(city_db=CITY_DB, asn_db=ASN_DB, anon_db=ANON_DB,
                                  poi_file=POI_FILE, data_dir=data_dir)
    values.update(overrides)
    return GeoConfig(**values)


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(base))
    copy.update(changes)
    return copy
