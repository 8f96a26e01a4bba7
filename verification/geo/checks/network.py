"""Where the IP address says the device is, and whether it hides behind an anonymizer.

GPS vs IP compares countries first (the GPS country from the time-zone polygon at the point, the
IP country from the City database): a different country is a contradiction. Within a country,
the distance is compared with the IP location's own accuracy radius plus a slack for carrier
gateways; a far but same-country IP is reported (inconclusive), not held against the applicant,
because mobile networks routinely egress hundreds of kilometres away.

Without GPS the declared business point is the reference, so "the IP is abroad" is still seen.
"""

from __future__ import annotations

from verification.geo.checks.context import GeoFacts, rounded
from verification.geo.config import ENV_ANON_DB, ENV_CITY_DB
from verification.geo.distance import haversine_m
from verification.types import Check, Evidence, Outcome

_MODEL_CITY = "maxmind-city"
_MODEL_ANON = "maxmind-anonymous-ip"
_REFERENCE_TEXT = {"gps": "GPS fix", "declared": "declared business"}


def _reference(facts: GeoFacts) -> tuple[str, float, float, str | None] | None:
    inp = facts.inp
    if inp.gps is not None:
        return "gps", inp.gps.lat, inp.gps.lon, facts.gps_zone.country if facts.gps_zone else None
    if inp.declared.has_point:
        country = facts.declared_zone.country if facts.declared_zone else None
        return "declared", inp.declared.lat, inp.declared.lon, country  # type: ignore[return-value]
    return None


def _unusable_ip(facts: GeoFacts, check: Check, code_prefix: str) -> Evidence | None:
    ip = facts.ip
    if ip.status == "missing":
        return facts.evidence(check, Outcome.NOT_CHECKED, f"{code_prefix}_missing",
                              "no client IP address was given", ip=None)
    if ip.status == "invalid":
        return facts.evidence(check, Outcome.INCONCLUSIVE, f"{code_prefix}_invalid",
                              f"client IP {ip.ip!r} is not an IP address", ip=ip.ip)
    if ip.status == "private":
        return facts.evidence(check, Outcome.INCONCLUSIVE, f"{code_prefix}_private",
                              f"client IP {ip.ip} is private/reserved: a proxy in front of the "
                              "server is not configured as trusted (VERIFICATION_TRUSTED_PROXIES)",
                              ip=ip.ip)
    return None


def check_ip_location(facts: GeoFacts) -> list[Evidence]:
    ip = facts.ip
    if not ip.city_configured:
        return [facts.evidence(Check.LBS, Outcome.NOT_CHECKED, "ip_not_checked",
                               f"IP location not checked: no City database configured "
                               f"({ENV_CITY_DB})", ip=ip.ip)]
    unusable = _unusable_ip(facts, Check.LBS, "ip")
    if unusable is not None:
        return [unusable]
    loc = ip.location
    base = dict(ip=ip.ip, asn=ip.asn, asn_org=ip.asn_org)
    if loc is None or (loc.country is None and loc.lat is None):
        return [facts.evidence(Check.LBS, Outcome.INCONCLUSIVE, "ip_unknown",
                               f"IP {ip.ip} is not in the City database", model=_MODEL_CITY,
                               **base)]
    base.update(ip_country=loc.country, ip_city=loc.city, ip_city_local=loc.city_local,
                ip_subdivision=loc.subdivision, ip_lat=loc.lat, ip_lon=loc.lon,
                ip_accuracy_radius_km=loc.accuracy_radius_km, ip_time_zone=loc.time_zone)
    ref = _reference(facts)
    if ref is None:
        return [facts.evidence(Check.LBS, Outcome.NOT_CHECKED, "ip_location_no_reference",
                               f"IP {ip.ip} is in {loc.city or '?'}, {loc.country or '?'}; no GPS "
                               "fix or declared point to compare with", model=_MODEL_CITY, **base)]
    reference, lat, lon, ref_country = ref
    distance_km = (haversine_m(lat, lon, loc.lat, loc.lon) / 1000.0
                   if loc.lat is not None and loc.lon is not None else None)
    allowed_km = (loc.accuracy_radius_km or 0.0) + facts.rules.ip_city_slack_km
    base.update(reference=reference, reference_country=ref_country,
                distance_km=rounded(distance_km), allowed_km=rounded(allowed_km))
    where = f"{loc.city + ', ' if loc.city else ''}{loc.country or '?'}"
    ref_text = _REFERENCE_TEXT[reference]
    if ref_country is not None and loc.country is not None and ref_country != loc.country:
        return [facts.evidence(Check.LBS, Outcome.CONTRADICTS, "ip_country_mismatch",
                               f"IP {ip.ip} is in {where} but the {ref_text} is in "
                               f"{ref_country}" + (f" ({distance_km:.0f} km apart)"
                                                   if distance_km is not None else ""),
                               model=_MODEL_CITY, **base)]
    if distance_km is None:
        return [facts.evidence(Check.LBS, Outcome.SUPPORTS, "ip_location_consistent",
                               f"IP {ip.ip} is in {where}, the {ref_text}'s country",
                               model=_MODEL_CITY, **base)]
    if distance_km <= allowed_km:
        return [facts.evidence(Check.LBS, Outcome.SUPPORTS, "ip_location_consistent",
                               f"IP {ip.ip} is in {where}, {distance_km:.0f} km from the "
                               f"{ref_text} (within {allowed_km:.0f} km)",
                               model=_MODEL_CITY, **base)]
    return [facts.evidence(Check.LBS, Outcome.INCONCLUSIVE, "ip_location_far",
                           f"IP {ip.ip} is in {where}, {distance_km:.0f} km from the {ref_text} "
                           f"(more than {allowed_km:.0f} km; same country)",
                           model=_MODEL_CITY, **base)]


def check_ip_anonymizer(facts: GeoFacts) -> list[Evidence]:
    ip = facts.ip
    if not ip.anon_configured:
        return [facts.evidence(Check.LBS, Outcome.NOT_CHECKED, "ip_anonymizer_not_checked",
                               f"VPN/proxy/Tor not checked: no Anonymous-IP database configured "
                               f"({ENV_ANON_DB})", ip=ip.ip)]
    unusable = _unusable_ip(facts, Check.LBS, "ip_anonymizer")
    if unusable is not None:
        return [unusable]
    flags = list(ip.anonymizer or ())
    details = dict(ip=ip.ip, flags=flags, asn=ip.asn, asn_org=ip.asn_org)
    if flags:
        return [facts.evidence(Check.LBS, Outcome.CONTRADICTS, "ip_anonymizer",
                               f"IP {ip.ip} is an anonymizer exit: {', '.join(flags)}",
                               model=_MODEL_ANON, **details)]
    return [facts.evidence(Check.LBS, Outcome.SUPPORTS, "ip_not_anonymous",
                           f"IP {ip.ip} is not a known VPN, proxy, Tor or hosting address",
                           model=_MODEL_ANON, **details)]
