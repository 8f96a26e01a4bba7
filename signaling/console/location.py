"""Where the applicant was: GPS fix, IP location, declared business address, and distances.

Read from what the interview stored: the GPS fix on the session row, the IP location in the
geo stage's ``lbs`` evidence details, the declared address (and its coordinates, when the
loan system sent them) on the session. The page draws these as an inline SVG; no map tiles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from verification.geo.distance import haversine_m, valid_coordinates
from verification.store.schema import EvidenceRow, InterviewSessionRow


def _point(lat: Any, lon: Any) -> tuple[float, float] | None:
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    return (lat, lon) if valid_coordinates(lat, lon) else None


def gps_of(row: InterviewSessionRow) -> dict[str, Any] | None:
    geo = row.geo if isinstance(row.geo, Mapping) else {}
    point = _point(geo.get("latitude"), geo.get("longitude"))
    if point is None:
        return None
    return {"lat": point[0], "lon": point[1], "accuracy_m": geo.get("accuracy_m")}


def ip_of(rows: Iterable[EvidenceRow]) -> dict[str, Any] | None:
    for row in rows:
        if row.check != "lbs":
            continue
        details = (row.payload or {}).get("details") or {}
        point = _point(details.get("ip_lat"), details.get("ip_lon"))
        if point is not None:
            return {"lat": point[0], "lon": point[1], "city": details.get("ip_city"),
                    "accuracy_radius_km": details.get("ip_accuracy_radius_km")}
    return None


def declared_of(row: InterviewSessionRow) -> dict[str, Any] | None:
    declared = row.declared_business if isinstance(row.declared_business, Mapping) else None
    if not declared:
        return None
    coords = declared.get("coordinates") if isinstance(declared.get("coordinates"),
                                                       Mapping) else {}
    point = _point(coords.get("lat"), coords.get("lon"))
    return {"lat": point[0] if point else None, "lon": point[1] if point else None,
            "address": declared.get("address")}


def _distance(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> float | None:
    if not a or not b or a.get("lat") is None or b.get("lat") is None:
        return None
    return round(haversine_m(a["lat"], a["lon"], b["lat"], b["lon"]), 1)


def location(row: InterviewSessionRow, rows: Iterable[EvidenceRow]) -> dict[str, Any]:
    gps, ip, declared = gps_of(row), ip_of(rows), declared_of(row)
    return {"gps": gps, "ip": ip, "declared": declared,
            "distances_m": {"gps_declared": _distance(gps, declared),
                            "ip_declared": _distance(ip, declared),
                            "gps_ip": _distance(gps, ip)}}
