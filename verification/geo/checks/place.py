"""Is the applicant at the business they declared? (POI checks)

* **GPS vs declared point**: the distance against the product's radius, honest about the fix's
  accuracy: inside the radius supports, outside by more than the accuracy contradicts, and in
  between - or with a fix too coarse to place anyone at a door - cannot be decided.
* **Admin division vs declared address** (China): the county of the GPS point (nearest county
  seat, see :mod:`verification.geo.china_admin`) against the province / city / county the
  address names. Independent of the declared coordinates, so it also catches an address whose
  coordinates were copied from somewhere else.
* **Nearby POIs**: the business points within the radius of the fix and whether any has a
  category that fits the declared business type.
"""

from __future__ import annotations

from verification.geo.checks.context import GeoFacts, rounded
from verification.geo.china_admin import LEVELS, AdminPath
from verification.geo.config import ENV_POI_FILE
from verification.geo.distance import haversine_m
from verification.geo.poi import normalise_category
from verification.types import Check, Evidence, Outcome

_ADMIN_MODEL = "cn-admin-nearest-seat"


def check_declared_distance(facts: GeoFacts) -> list[Evidence]:
    inp, rules = facts.inp, facts.rules
    declared = inp.declared
    problem = inp.problem("declared")
    if problem is not None:
        return [facts.evidence(Check.POI, Outcome.INCONCLUSIVE, "declared_invalid",
                               f"declared business location is malformed: {problem.message}")]
    if not declared.has_point:
        return [facts.evidence(Check.POI, Outcome.NOT_CHECKED, "declared_location_missing",
                               "the declared business has no coordinates to compare with")]
    if inp.gps is None:
        return [facts.evidence(Check.POI, Outcome.NOT_CHECKED, "declared_location_unverified",
                               f"presence at the declared business not verified: no usable "
                               f"GPS fix ({inp.gps_status})", gps_status=inp.gps_status)]
    radius = rules.radius_for(declared.product)
    accuracy = inp.gps.accuracy_m or 0.0
    distance = haversine_m(inp.gps.lat, inp.gps.lon, declared.lat, declared.lon)  # type: ignore[arg-type]
    details = dict(distance_m=rounded(distance), radius_m=radius, accuracy_m=inp.gps.accuracy_m,
                   product=declared.product, declared_lat=declared.lat,
                   declared_lon=declared.lon)
    if accuracy > rules.max_useful_accuracy_m:
        return [facts.evidence(Check.POI, Outcome.INCONCLUSIVE, "gps_too_coarse",
                               f"GPS accuracy {accuracy:.0f} m is too coarse to place the "
                               f"applicant at the declared business ({distance:.0f} m away)",
                               **details)]
    if distance <= radius:
        return [facts.evidence(Check.POI, Outcome.SUPPORTS, "at_declared_location",
                               f"GPS fix is {distance:.0f} m from the declared business "
                               f"(radius {radius:.0f} m)", **details)]
    if distance - accuracy <= radius:
        return [facts.evidence(Check.POI, Outcome.INCONCLUSIVE, "declared_location_borderline",
                               f"GPS fix is {distance:.0f} m from the declared business, "
                               f"within its {accuracy:.0f} m accuracy of the {radius:.0f} m radius",
                               **details)]
    return [facts.evidence(Check.POI, Outcome.CONTRADICTS, "far_from_declared_location",
                           f"GPS fix is {distance / 1000:.2f} km from the declared business "
                           f"(radius {radius:.0f} m)", **details)]


def _compare_divisions(facts: GeoFacts, declared: AdminPath) -> Evidence:
    admin = facts.res.admin
    point = facts.admin_point
    fix = facts.inp.gps
    assert point is not None and fix is not None
    accuracy_km = (fix.accuracy_m or 0.0) / 1000.0
    details = dict(method="nearest county seat (Voronoi)", gps_division=point.path.to_json(),
                   gps_seat_distance_km=rounded(point.seat_distance_km, 2),
                   declared_division=declared.to_json())
    matched = []
    for level in LEVELS:
        want = declared.unit(level)
        if want is None:
            continue
        got = point.path.unit(level)
        if got is not None and got.code == want.code:
            matched.append(level)
            continue
        nearest_declared = admin.nearest_within(fix.lat, fix.lon, want)
        details.update(level=level, declared_unit_seat_km=rounded(nearest_declared, 2))
        if nearest_declared is None:  # no seat inside the declared unit: compare coarser only
            break
        limit = point.seat_distance_km * facts.rules.admin_ambiguity_ratio + accuracy_km
        details["borderline_limit_km"] = rounded(limit, 2)
        got_name = got.name if got else "?"
        if nearest_declared <= limit:
            return facts.evidence(Check.POI, Outcome.INCONCLUSIVE, "admin_division_borderline",
                                  f"GPS point is near the {level} border of {want.name} "
                                  f"(nearest seat {got_name} at {point.seat_distance_km:.1f} km, "
                                  f"{want.name} at {nearest_declared:.1f} km)",
                                  model=_ADMIN_MODEL, **details)
        return facts.evidence(Check.POI, Outcome.CONTRADICTS, "admin_division_mismatch",
                              f"GPS point is in {got_name}, not in the declared {level} "
                              f"{want.name} (its nearest seat is {nearest_declared:.1f} km away)",
                              model=_ADMIN_MODEL, **details)
    if not matched:
        return facts.evidence(Check.POI, Outcome.INCONCLUSIVE, "admin_address_unparsed",
                              "the declared address's division has no seat to compare with",
                              model=_ADMIN_MODEL, **details)
    names = "/".join(u.name for lv in matched if (u := declared.unit(lv)))
    details["matched_levels"] = matched
    return facts.evidence(Check.POI, Outcome.SUPPORTS, "admin_division_match",
                          f"GPS point is in the declared {matched[-1]} ({names})",
                          model=_ADMIN_MODEL, **details)


def check_admin_division(facts: GeoFacts) -> list[Evidence]:
    inp = facts.inp
    if inp.gps is None or facts.admin_point is None:
        return []
    address = inp.declared.address
    in_china = facts.gps_in_china
    if address is None:
        if not in_china:
            return []
        return [facts.evidence(Check.POI, Outcome.NOT_CHECKED, "admin_no_address",
                               "no declared address to compare the GPS division with",
                               gps_division=facts.admin_point.path.to_json())]
    parsed = facts.res.admin.parse_address(address)
    if parsed.path is None and not parsed.candidates:
        if not in_china:
            return [facts.evidence(Check.POI, Outcome.NOT_CHECKED, "admin_not_applicable",
                                   "Chinese division check not applicable: neither the address "
                                   "nor the GPS point is in China")]
        return [facts.evidence(Check.POI, Outcome.INCONCLUSIVE, "admin_address_unparsed",
                               f"the declared address names no Chinese division: {address!r}",
                               gps_division=facts.admin_point.path.to_json())]
    if not in_china:
        named = parsed.path or parsed.candidates[0]
        gps_country = facts.gps_zone.country if facts.gps_zone else None
        return [facts.evidence(Check.POI, Outcome.CONTRADICTS, "admin_division_mismatch",
                               f"the declared address is in China "
                               f"({'/'.join(u.name for lv in LEVELS if (u := named.unit(lv)))}) "
                               f"but the GPS point is not ({gps_country or 'unknown country'})",
                               model=_ADMIN_MODEL, level="country", gps_country=gps_country,
                               declared_division=named.to_json())]
    if parsed.path is None or parsed.candidates:
        # Ambiguous address (a county name found in several provinces): fine if the GPS point
        # lies in one of its readings, otherwise it cannot be decided.
        point_code = facts.admin_point.path.county or facts.admin_point.path.city
        for candidate in parsed.candidates:
            deepest = candidate.deepest
            unit = candidate.unit(deepest) if deepest else None
            if unit is not None and point_code is not None and point_code.code == unit.code:
                return [_compare_divisions(facts, candidate)]
        if parsed.path is None:
            return [facts.evidence(Check.POI, Outcome.INCONCLUSIVE, "admin_address_ambiguous",
                                   f"the declared address is ambiguous ({len(parsed.candidates)} "
                                   "divisions share its names) and none contains the GPS point",
                                   model=_ADMIN_MODEL,
                                   candidates=[c.to_json() for c in parsed.candidates],
                                   gps_division=facts.admin_point.path.to_json())]
    return [_compare_divisions(facts, parsed.path)]


def check_poi_category(facts: GeoFacts) -> list[Evidence]:
    inp, rules, index = facts.inp, facts.rules, facts.res.poi
    if inp.gps is None:
        return []
    if index is None:
        return [facts.evidence(Check.POI, Outcome.NOT_CHECKED, "poi_not_checked",
                               f"nearby POIs not checked: no POI file configured ({ENV_POI_FILE})")]
    business = normalise_category(inp.declared.type) if inp.declared.type else None
    radius = rules.radius_for(inp.declared.product)
    nearby = index.within(inp.gps.lat, inp.gps.lon, radius)
    fitting = set(rules.business_poi_categories.get(business, ())) | {business} \
        if business else set()
    listed = [{"name": n.poi.name, "category": n.poi.category,
               "distance_m": rounded(n.distance_m), "fits": n.poi.category in fitting}
              for n in nearby[:rules.poi_list_limit]]
    fits = [n for n in nearby if n.poi.category in fitting]
    details = dict(business_type=business, radius_m=radius, pois_within_radius=len(nearby),
                   nearest=listed, fitting_within_radius=len(fits),
                   nearest_fitting=({"name": fits[0].poi.name, "category": fits[0].poi.category,
                                     "distance_m": rounded(fits[0].distance_m)} if fits else None),
                   poi_source=index.source)
    if business is None:
        return [facts.evidence(Check.POI, Outcome.NOT_CHECKED, "poi_no_business_type",
                               f"{len(nearby)} POI(s) within {radius:.0f} m; no declared business "
                               "type to compare with", **details)]
    if fits:
        nearest = fits[0]
        return [facts.evidence(Check.POI, Outcome.SUPPORTS, "poi_category_fits",
                               f"{nearest.poi.name or nearest.poi.category} "
                               f"({nearest.poi.category}) {nearest.distance_m:.0f} m away fits "
                               f"the declared {business}", **details)]
    if not nearby:
        return [facts.evidence(Check.POI, Outcome.INCONCLUSIVE, "poi_none_nearby",
                               f"no POI within {radius:.0f} m of the GPS fix", **details)]
    if business not in rules.business_poi_categories:
        return [facts.evidence(Check.POI, Outcome.INCONCLUSIVE, "poi_type_unmapped",
                               f"declared business type {business!r} has no POI category mapping "
                               f"(VERIFICATION_GEO_RULES); {len(nearby)} POI(s) nearby",
                               **details)]
    categories = ", ".join(sorted({n.poi.category for n in nearby[:rules.poi_list_limit]}))
    return [facts.evidence(Check.POI, Outcome.CONTRADICTS, "poi_category_mismatch",
                           f"none of the {len(nearby)} POI(s) within {radius:.0f} m fits the "
                           f"declared {business} (nearest: {categories})", **details)]
