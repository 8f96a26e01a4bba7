"""The geo inputs of one session, parsed from JSON into typed values without ever raising.

A location check must survive whatever a browser or an integrator sends: a denied permission,
``"lat": "abc"``, a latitude of 123, an IPv6 address with a port. Parsing therefore never
fails on content; every problem becomes an :class:`InputProblem` that the checks turn into
evidence ("the GPS fix is malformed: latitude 123.0 is outside [-90, 90]"), so a reviewer sees
exactly what was wrong and nothing is lost.

Accepted JSON (everything but the keys of the CLI contract is optional)::

    {"gps": {"lat": 43.83, "lon": 125.29, "accuracy_m": 18, "time": 1718000000000,
             "datum": "wgs84"},            # or {"error": "permission_denied"}
     "fixes": [{"lat": ..., "lon": ..., "accuracy_m": ..., "time": ...}, ...],
     "ip": "175.16.199.1",                 # or "peer_ip" + "forwarded_for"
     "timezone": "Asia/Shanghai", "locale": "zh-CN",
     "declared": {"address": "...", "lat": ..., "lon": ..., "type": "restaurant",
                  "product": "shop", "datum": "gcj02"},
     "session_id": "...", "applicant_id": "...", "device_id": "...", "time": "2024-06-10T08:00Z"}

Times are epoch seconds, epoch milliseconds (what the browser's ``Position.timestamp`` is) or
ISO-8601 strings.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from verification.geo.client_ip import IpNetwork, resolve_client_ip
from verification.geo.datum import Datum, to_wgs84
from verification.geo.distance import valid_coordinates

# W3C GeolocationPositionError codes and the names integrators use for them.
_GPS_ERRORS = {1: "permission_denied", 2: "position_unavailable", 3: "timeout",
               "permission_denied": "permission_denied", "denied": "permission_denied",
               "position_unavailable": "position_unavailable", "unavailable":
               "position_unavailable", "timeout": "timeout"}
_MAX_FIXES = 1000  # a session reporting more fixes than this is truncated (newest kept)


@dataclass(frozen=True)
class InputProblem:
    """Something wrong with one input field; ``code`` is the evidence code it becomes."""

    field: str
    code: str
    message: str


@dataclass(frozen=True)
class GpsFix:
    """One fix in WGS-84. ``reported_*`` are the values as sent (before any datum shift),
    kept because their decimal precision is itself a spoofing cue."""

    lat: float
    lon: float
    accuracy_m: float | None
    time: float | None  # epoch seconds
    reported_lat: float
    reported_lon: float
    datum: Datum = Datum.WGS84


@dataclass(frozen=True)
class DeclaredBusiness:
    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    type: str | None = None
    product: str | None = None

    @property
    def has_point(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True)
class GeoInput:
    session_id: str
    time: float  # epoch seconds of this session update
    gps: GpsFix | None
    gps_status: str  # ok | missing | permission_denied | position_unavailable | timeout | invalid
    fixes: tuple[GpsFix, ...]  # every valid fix of the session, oldest first (gps included)
    ip: str | None
    timezone: str | None
    locale: str | None
    declared: DeclaredBusiness
    applicant_id: str | None
    device_id: str | None
    problems: tuple[InputProblem, ...]

    def problem(self, field_prefix: str) -> InputProblem | None:
        return next((p for p in self.problems if p.field.startswith(field_prefix)), None)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def parse_time(value: Any) -> float | None:
    """Epoch seconds, epoch milliseconds or ISO-8601 -> epoch seconds; ``None`` if unusable."""
    number = _number(value)
    if number is not None:
        if not math.isfinite(number) or number < 0:
            return None
        return number / 1000.0 if number > 1e11 else number
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _datum(value: Any, field: str, problems: list[InputProblem]) -> Datum:
    if value is None:
        return Datum.WGS84
    try:
        return Datum(str(value).strip().lower().replace("-", ""))
    except ValueError:
        problems.append(InputProblem(field, f"{field.split('.')[0]}_invalid",
                                     f"{field}: unknown datum {value!r} "
                                     f"(use wgs84, gcj02 or bd09); read as wgs84"))
        return Datum.WGS84


def _fix(raw: Any, field: str, code: str, problems: list[InputProblem]) -> GpsFix | None:
    """One fix, or ``None`` with a problem saying why it cannot be used."""
    if not isinstance(raw, Mapping):
        problems.append(InputProblem(field, code, f"{field} must be an object with lat, lon and "
                                     f"accuracy_m, got {type(raw).__name__}"))
        return None
    lat = _number(raw.get("lat", raw.get("latitude")))
    lon = _number(raw.get("lon", raw.get("lng", raw.get("longitude"))))
    if lat is None or lon is None:
        missing = [name for name, v in (("lat", lat), ("lon", lon)) if v is None]
        problems.append(InputProblem(field, code, f"{field}: {' and '.join(missing)} missing or "
                                     "not a number"))
        return None
    if not valid_coordinates(lat, lon):
        problems.append(InputProblem(field, code, f"{field}: ({lat}, {lon}) is outside "
                                     "latitude [-90, 90] / longitude [-180, 180]"))
        return None
    if lat == 0.0 and lon == 0.0:
        problems.append(InputProblem(field, code, f"{field}: (0, 0) is the placeholder of a "
                                     "missing fix, not a location"))
        return None
    accuracy = _number(raw.get("accuracy_m", raw.get("accuracy")))
    if accuracy is not None and (not math.isfinite(accuracy) or accuracy < 0):
        problems.append(InputProblem(field, code, f"{field}: accuracy_m {accuracy} is not a "
                                     "non-negative number"))
        return None
    raw_time = raw.get("time", raw.get("timestamp"))
    time = parse_time(raw_time)
    if raw_time is not None and time is None:
        problems.append(InputProblem(f"{field}.time", "gps_time_invalid",
                                     f"{field}.time {raw_time!r} is not a time; ignored"))
    datum = _datum(raw.get("datum"), field, problems)
    wlat, wlon = to_wgs84(lat, lon, datum)
    return GpsFix(wlat, wlon, accuracy, time, lat, lon, datum)


def _gps(raw: Mapping[str, Any], problems: list[InputProblem]) -> tuple[GpsFix | None, str]:
    value = raw.get("gps")
    error = raw.get("gps_error")
    if isinstance(value, Mapping) and "error" in value:
        error = value.get("error")
    if error is not None:
        key = error.strip().lower() if isinstance(error, str) else error
        status = _GPS_ERRORS.get(key if isinstance(key, int | str) else "", "position_unavailable")
        return None, status
    if value is None:
        return None, "missing"
    fix = _fix(value, "gps", "gps_invalid", problems)
    return fix, "ok" if fix is not None else "invalid"


def _declared(raw: Any, problems: list[InputProblem]) -> DeclaredBusiness:
    if raw is None:
        return DeclaredBusiness()
    if not isinstance(raw, Mapping):
        problems.append(InputProblem("declared", "declared_invalid",
                                     f"declared must be an object, got {type(raw).__name__}"))
        return DeclaredBusiness()
    lat = lon = None
    if raw.get("lat") is not None or raw.get("lon") is not None:
        fix = _fix({"lat": raw.get("lat"), "lon": raw.get("lon"), "datum": raw.get("datum")},
                   "declared", "declared_invalid", problems)
        if fix is not None:
            lat, lon = fix.lat, fix.lon
    return DeclaredBusiness(address=_text(raw.get("address")), lat=lat, lon=lon,
                            type=_text(raw.get("type")), product=_text(raw.get("product")))


def _ip(raw: Mapping[str, Any], trusted: Sequence[IpNetwork]) -> str | None:
    ip = _text(raw.get("ip"))
    if ip is not None:
        return ip
    peer = _text(raw.get("peer_ip"))
    if peer is None:
        return None
    forwarded = raw.get("forwarded_for")
    return resolve_client_ip(peer, forwarded if isinstance(forwarded, str) else None, trusted)


def content_session_id(raw: Mapping[str, Any]) -> str:
    """A stable id for a geo document without one: re-checking the same file is the same
    session (so it never forms a "cluster" with itself)."""
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=True, default=str)
    return "geo-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def parse_geo_input(raw: Mapping[str, Any], *, session_id: str | None = None,
                    now: float | None = None,
                    trusted_proxies: Sequence[IpNetwork] = ()) -> GeoInput:
    """Parse a geo document; content problems are recorded, never raised."""
    problems: list[InputProblem] = []
    now = datetime.now(UTC).timestamp() if now is None else now
    gps, status = _gps(raw, problems)

    fixes: list[GpsFix] = []
    extra = raw.get("fixes")
    if extra is not None and not isinstance(extra, list):
        problems.append(InputProblem("fixes", "gps_fixes_invalid",
                                     "fixes must be a list of fixes; ignored"))
        extra = None
    for i, item in enumerate((extra or [])[-_MAX_FIXES:]):
        fix = _fix(item, f"fixes[{i}]", "gps_fixes_invalid", problems)
        if fix is not None:
            fixes.append(fix)
    if gps is not None and gps not in fixes:
        fixes.append(gps)
    fixes.sort(key=lambda f: (f.time is None, f.time or 0.0))

    raw_time = raw.get("time")
    time = parse_time(raw_time)
    if raw_time is not None and time is None:
        problems.append(InputProblem("time", "time_invalid",
                                     f"time {raw_time!r} is not a time; using the clock"))
    if time is None:
        time = gps.time if gps is not None and gps.time is not None else now

    sid = session_id or _text(raw.get("session_id")) or content_session_id(raw)
    return GeoInput(
        session_id=sid,
        time=time,
        gps=gps,
        gps_status=status,
        fixes=tuple(fixes),
        ip=_ip(raw, trusted_proxies),
        timezone=_text(raw.get("timezone")),
        locale=_text(raw.get("locale")),
        declared=_declared(raw.get("declared"), problems),
        applicant_id=_text(raw.get("applicant_id")),
        device_id=_text(raw.get("device_id")),
        problems=tuple(problems),
    )
