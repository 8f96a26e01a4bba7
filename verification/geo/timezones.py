"""The time zone (and so the country) at a point, offline.

``timezonefinder`` answers "which IANA zone contains this point" from the timezone-boundary-
builder polygons shipped inside its wheels (``timezonefinder-data``); nothing is fetched. The
zone's country comes from tzdb's own ``zone.tab`` (shipped by the ``tzdata`` package), which
makes "the GPS point is in China" an offline polygon test rather than a guess from distances.

Two zone names agree when their UTC offsets agree at the moment of the session: Asia/Harbin and
Asia/Shanghai are the same clock, and a browser reporting either is consistent with Changchun.
"""

from __future__ import annotations

import importlib.resources
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from timezonefinder import TimezoneFinder

log = logging.getLogger(__name__)

_SYSTEM_ZONE_TAB = Path("/usr/share/zoneinfo/zone.tab")


def _zone_tab_text() -> str:
    try:
        return importlib.resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text()
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        if _SYSTEM_ZONE_TAB.is_file():
            return _SYSTEM_ZONE_TAB.read_text()
    log.warning("no zone.tab found (install tzdata): countries of GPS points are unknown")
    return ""


def _zone_countries() -> dict[str, str]:
    """IANA zone -> ISO country code from ``zone.tab`` (one country per zone)."""
    mapping: dict[str, str] = {}
    for line in _zone_tab_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) >= 3:
            mapping[parts[2]] = parts[0]
    return mapping


@lru_cache(maxsize=4096)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def valid_zone(name: str) -> bool:
    return _zone(name) is not None


def utc_offset_minutes(name: str, when: float) -> int | None:
    """The zone's UTC offset at epoch time ``when``; ``None`` for an unknown zone name."""
    zone = _zone(name)
    if zone is None:
        return None
    offset = datetime.fromtimestamp(when, UTC).astimezone(zone).utcoffset()
    return None if offset is None else int(offset.total_seconds() // 60)


@dataclass(frozen=True)
class PointZone:
    zone: str | None
    country: str | None


class TimeZoneLookup:
    """Built once per process (~0.2 s, ~100 MB of polygons held in memory for speed)."""

    def __init__(self) -> None:
        self._finder = TimezoneFinder(in_memory=True)
        self._countries = _zone_countries()

    def at(self, lat: float, lon: float) -> PointZone:
        zone = self._finder.timezone_at(lat=lat, lng=lon)
        return PointZone(zone, self._countries.get(zone) if zone else None)

    def country_of_zone(self, zone: str | None) -> str | None:
        return self._countries.get(zone) if zone else None
