"""Browser time zone vs the time zone at the GPS point.

A phone's clock zone follows the network it is on; a browser reporting America/Los_Angeles
while the GPS fix is in Changchun means the fix, the device or the browser is not where it
says. Zones are compared by their UTC offset at the session's time (two names for one clock
agree). Without a GPS fix the IP location's zone, then the declared point's, is the reference.
The browser locale is reported alongside but never decides: many people run English browsers.
"""

from __future__ import annotations

from verification.geo.checks.context import GeoFacts
from verification.geo.timezones import utc_offset_minutes, valid_zone
from verification.types import Check, Evidence, Outcome

_WHERE = {"gps": "GPS fix", "ip": "IP location", "declared": "declared business"}


def _reference(facts: GeoFacts) -> tuple[str, str] | None:
    if facts.gps_zone is not None and facts.gps_zone.zone:
        return "gps", facts.gps_zone.zone
    if facts.ip.location is not None and facts.ip.location.time_zone:
        return "ip", facts.ip.location.time_zone
    if facts.declared_zone is not None and facts.declared_zone.zone:
        return "declared", facts.declared_zone.zone
    return None


def _locale_region(locale: str | None) -> str | None:
    if not locale:
        return None
    parts = locale.replace("_", "-").split("-")
    region = next((p for p in parts[1:] if len(p) == 2 and p.isalpha()), None)
    return region.upper() if region else None


def check_timezone(facts: GeoFacts) -> list[Evidence]:
    inp = facts.inp
    browser = inp.timezone
    locale = dict(locale=inp.locale, locale_region=_locale_region(inp.locale),
                  gps_country=facts.gps_zone.country if facts.gps_zone else None)
    if browser is None:
        return [facts.evidence(Check.LBS, Outcome.NOT_CHECKED, "timezone_missing",
                               "the browser time zone was not reported", **locale)]
    if not valid_zone(browser):
        return [facts.evidence(Check.LBS, Outcome.INCONCLUSIVE, "timezone_invalid",
                               f"browser time zone {browser!r} is not an IANA zone name",
                               browser_timezone=browser, **locale)]
    ref = _reference(facts)
    if ref is None:
        return [facts.evidence(Check.LBS, Outcome.NOT_CHECKED, "timezone_no_reference",
                               f"browser time zone {browser}: no GPS, IP or declared point "
                               "to compare with", browser_timezone=browser, **locale)]
    reference, zone = ref
    browser_offset = utc_offset_minutes(browser, inp.time)
    zone_offset = utc_offset_minutes(zone, inp.time)
    details = dict(browser_timezone=browser, browser_offset_min=browser_offset,
                   reference=reference, reference_timezone=zone, reference_offset_min=zone_offset,
                   **locale)
    if zone_offset is None:
        return [facts.evidence(Check.LBS, Outcome.INCONCLUSIVE, "timezone_no_reference",
                               f"the {_WHERE[reference]}'s zone {zone} is unknown to this "
                               "tz database",
                               model="timezonefinder", **details)]
    if browser_offset == zone_offset:
        same = "" if browser == zone else " (same clock)"
        return [facts.evidence(Check.LBS, Outcome.SUPPORTS, "timezone_consistent",
                               f"browser time zone {browser} matches {zone} at the "
                               f"{_WHERE[reference]}{same}", model="timezonefinder",
                               **details)]
    hours = ((browser_offset or 0) - zone_offset) / 60
    return [facts.evidence(Check.LBS, Outcome.CONTRADICTS, "timezone_mismatch",
                           f"browser time zone {browser} is {hours:+g} h from {zone} at the "
                           f"{_WHERE[reference]}", model="timezonefinder", **details)]
