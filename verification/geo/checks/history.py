"""Checks against earlier sessions: impossible travel and location clusters.

**Impossible travel.** For each earlier session of the same applicant or device, the distance
between the two fixes (less both fixes' accuracy radii) divided by the time between them is the
speed the person must have travelled; faster than an airliner means one of the fixes is false.
Short hops are ignored (``min_travel_excess_km``) so one bad fix cannot trigger it.

**Location clusters.** Fraud rings interview many "applicants" from one room. Fixes are indexed
by H3 cell (resolution 9, ~200 m edges); a query reads the cell and enough rings of neighbours to
cover the cluster radius, filters by exact distance and by the time window, and counts distinct
*other* applicants (by applicant id, else device id, else session id). Enough of them is a
review reason listing their sessions.
"""

from __future__ import annotations

import math
from functools import lru_cache

import h3

from verification.geo.checks.context import GeoFacts, rounded
from verification.geo.distance import EARTH_RADIUS_M, haversine_m
from verification.geo.store import StoredSession
from verification.types import Check, Evidence, Outcome

_DAY_S = 86_400.0
# H3 edge lengths vary about 1.4x across the globe at one resolution; the ring count below
# covers the radius even where cells are smallest.
_H3_EDGE_SPREAD = 1.4


@lru_cache(maxsize=32)
def rings_for(resolution: int, radius_m: float) -> int:
    spacing = math.sqrt(3) * h3.average_hexagon_edge_length(resolution, "m") / _H3_EDGE_SPREAD
    return int(math.ceil(radius_m / spacing)) + 1


def cell_of(lat: float, lon: float, resolution: int) -> str:
    return h3.latlng_to_cell(lat, lon, resolution)


def _identity(applicant_id: str | None, device_id: str | None, session_id: str) -> str:
    if applicant_id:
        return f"applicant:{applicant_id}"
    if device_id:
        return f"device:{device_id}"
    return f"session:{session_id}"


def check_travel(facts: GeoFacts) -> list[Evidence]:
    inp, rules, store = facts.inp, facts.rules, facts.res.store
    fix = inp.gps
    if fix is None:
        return []
    if store is None:
        return [facts.evidence(Check.LBS, Outcome.NOT_CHECKED, "travel_not_checked",
                               "impossible travel not checked: no data dir for the geo history")]
    if inp.applicant_id is None and inp.device_id is None:
        return [facts.evidence(Check.LBS, Outcome.NOT_CHECKED, "travel_no_identity",
                               "impossible travel not checked: no applicant_id or device_id")]
    earlier = store.same_person(inp.session_id, inp.applicant_id, inp.device_id,
                                since=inp.time - rules.history_window_days * _DAY_S)
    if not earlier:
        return [facts.evidence(Check.LBS, Outcome.NOT_CHECKED, "travel_no_history",
                               "no earlier session of this applicant or device to compare with")]
    worst: tuple[float, StoredSession, float, float] | None = None
    for row in earlier:
        distance_km = haversine_m(fix.lat, fix.lon, row.lat, row.lon) / 1000.0
        excess_km = max(0.0, distance_km - ((fix.accuracy_m or 0.0) + (row.accuracy_m or 0.0))
                        / 1000.0)
        hours = abs(inp.time - row.t) / 3600.0
        if excess_km < rules.min_travel_excess_km:
            speed = 0.0
        else:
            speed = excess_km / hours if hours > 0 else math.inf
        if worst is None or speed > worst[0]:
            worst = (speed, row, distance_km, hours)
    assert worst is not None
    speed, row, distance_km, hours = worst
    details = dict(compared_sessions=len(earlier), other_session=row.session_id,
                   other_time=row.t, distance_km=rounded(distance_km),
                   hours_apart=rounded(hours, 3),
                   speed_kmh=None if math.isinf(speed) else rounded(speed),
                   max_speed_kmh=rules.max_travel_speed_kmh)
    if speed > rules.max_travel_speed_kmh:
        return [facts.evidence(Check.LBS, Outcome.CONTRADICTS, "impossible_travel",
                               f"impossible travel: {distance_km:.0f} km from session "
                               f"{row.session_id} in {hours:.2f} h "
                               f"({'instantly' if math.isinf(speed) else f'{speed:.0f} km/h'})",
                               **details)]
    return [facts.evidence(Check.LBS, Outcome.SUPPORTS, "travel_plausible",
                           f"travel since {len(earlier)} earlier session(s) is plausible "
                           f"(fastest {speed:.0f} km/h)", **details)]


def check_cluster(facts: GeoFacts) -> list[Evidence]:
    inp, rules, store = facts.inp, facts.rules, facts.res.store
    fix = inp.gps
    if fix is None:
        return []
    if store is None:
        return [facts.evidence(Check.LBS, Outcome.NOT_CHECKED, "cluster_not_checked",
                               "location clusters not checked: no data dir for the geo history")]
    cell = cell_of(fix.lat, fix.lon, rules.cluster_h3_resolution)
    cells = list(h3.grid_disk(cell, rings_for(rules.cluster_h3_resolution,
                                              rules.cluster_radius_m)))
    window_s = rules.cluster_window_days * _DAY_S
    me = _identity(inp.applicant_id, inp.device_id, inp.session_id)
    others: list[tuple[float, StoredSession]] = []
    dlat = math.degrees(rules.cluster_radius_m / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(fix.lat)), 1e-6)
    box = (fix.lat - dlat, fix.lat + dlat, fix.lon - dlon, fix.lon + dlon)
    for row in store.in_cells(cells, inp.time - window_s, inp.time + window_s, inp.session_id,
                              box):
        if _identity(row.applicant_id, row.device_id, row.session_id) == me:
            continue
        distance = haversine_m(fix.lat, fix.lon, row.lat, row.lon)
        if distance <= rules.cluster_radius_m:
            others.append((distance, row))
    others.sort(key=lambda item: -item[1].t)
    applicants = {_identity(r.applicant_id, r.device_id, r.session_id) for _, r in others}
    listed = [{**r.to_json(), "distance_m": rounded(d)}
              for d, r in others[:rules.cluster_list_limit]]
    details = dict(cell=cell, h3_resolution=rules.cluster_h3_resolution,
                   radius_m=rules.cluster_radius_m, window_days=rules.cluster_window_days,
                   other_applicants=len(applicants), other_sessions=listed,
                   min_other_applicants=rules.cluster_min_other_applicants)
    if len(applicants) >= rules.cluster_min_other_applicants:
        ids = ", ".join(item["session_id"] for item in listed[:5])  # type: ignore[misc]
        more = f" and {len(others) - 5} more" if len(others) > 5 else ""
        return [facts.evidence(Check.LBS, Outcome.CONTRADICTS, "location_cluster",
                               f"{len(applicants)} other applicants interviewed within "
                               f"{rules.cluster_radius_m:.0f} m in {rules.cluster_window_days:g} "
                               f"days: sessions {ids}{more}", **details)]
    return [facts.evidence(Check.LBS, Outcome.SUPPORTS, "no_location_cluster",
                           f"{len(applicants)} other applicant(s) within "
                           f"{rules.cluster_radius_m:.0f} m in {rules.cluster_window_days:g} days",
                           **details)]
