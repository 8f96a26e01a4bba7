"""What every geo check may read: the parsed input, the rules, the loaded data sets and the facts
computed once per call (the zone at the GPS point, the IP lookup, the nearest county seat)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verification.geo.china_admin import ChinaAdminIndex, PointDivision
from verification.geo.config import GeoRules
from verification.geo.inputs import GeoInput
from verification.geo.ipdb import IpDatabases, IpLookup
from verification.geo.poi import PoiIndex
from verification.geo.store import GeoHistoryStore
from verification.geo.timezones import PointZone, TimeZoneLookup
from verification.types import Check, Evidence, Outcome, TimeWindow

CHINA_COUNTRIES = frozenset({"CN", "HK", "MO", "TW"})


@dataclass(frozen=True)
class GeoResources:
    """Loaded once per process and shared by every session."""

    rules: GeoRules
    timezones: TimeZoneLookup
    ip: IpDatabases
    admin: ChinaAdminIndex
    poi: PoiIndex | None
    store: GeoHistoryStore | None


@dataclass(frozen=True)
class GeoFacts:
    inp: GeoInput
    res: GeoResources
    window: TimeWindow
    gps_zone: PointZone | None
    declared_zone: PointZone | None
    ip: IpLookup
    admin_point: PointDivision | None

    @property
    def rules(self) -> GeoRules:
        return self.res.rules

    @property
    def gps_in_china(self) -> bool:
        if self.admin_point is None or self.gps_zone is None:
            return False
        if self.admin_point.seat_distance_km > self.rules.admin_max_seat_distance_km:
            return False
        return self.gps_zone.country is None or self.gps_zone.country in CHINA_COUNTRIES

    def evidence(self, check: Check, outcome: Outcome, code: str, summary: str, *,
                 model: str | None = None, score: float | None = None,
                 **details: Any) -> Evidence:
        return Evidence(check, outcome, self.window, summary, score=score, model=model,
                        code=code, details=details)


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)
