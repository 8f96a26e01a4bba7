"""Is there a usable GPS fix, and does it look measured rather than typed in or replayed?

Spoofing cues, each rare in real fixes:

* ``accuracy_implausible`` - a reported accuracy of 0 or under a metre (phones report >= ~3 m;
  mock-location apps report 0 or 1);
* ``rounded_coordinates`` - both coordinates with <= 3 decimals while claiming GPS-grade
  accuracy (a measured fix lands on such a value by chance about once in a million);
* ``frozen_fixes`` - several fixes over tens of seconds, bit-identical in coordinates and
  accuracy (a live receiver always jitters);
* ``fix_reused`` - bit-identical to the fix of another applicant's session (Wi-Fi positioning
  can repeat a point, so alone this is only a review cue).

One cue is a review reason. A "never seen in a real fix" cue (accuracy or rounding) together
with any other cue is the mock-location signature: ``gps_spoofed``, a hard gate.
"""

from __future__ import annotations

from verification.geo.checks.context import GeoFacts, rounded
from verification.geo.inputs import GpsFix
from verification.types import Check, Evidence, Outcome

_STATUS_TEXT = {
    "missing": "no GPS fix was provided",
    "permission_denied": "the applicant denied location permission",
    "position_unavailable": "the device could not determine its position",
    "timeout": "the device timed out determining its position",
}


def check_presence(facts: GeoFacts) -> list[Evidence]:
    """Evidence only when the fix is missing or malformed (a good fix speaks for itself)."""
    inp = facts.inp
    if inp.gps_status == "ok":
        return []
    if inp.gps_status == "invalid":
        problem = inp.problem("gps")
        return [facts.evidence(Check.LBS, Outcome.INCONCLUSIVE, "gps_invalid",
                               f"the GPS fix is malformed: {problem.message if problem else '?'}",
                               status=inp.gps_status)]
    return [facts.evidence(Check.LBS, Outcome.NOT_CHECKED, "gps_missing",
                           f"no location: {_STATUS_TEXT.get(inp.gps_status, inp.gps_status)}",
                           status=inp.gps_status)]


def _decimals(value: float) -> int:
    text = repr(value)
    if "e" in text or "E" in text:
        return 17
    return len(text.split(".", 1)[1].rstrip("0")) if "." in text else 0


def _frozen(fixes: tuple[GpsFix, ...], facts: GeoFacts) -> tuple[bool, int, float | None]:
    """(frozen?, identical fixes, their time span) for the fixes equal to the latest one."""
    rules = facts.rules
    latest = facts.inp.gps
    if latest is None:
        return False, 0, None
    same = [f for f in fixes if (f.reported_lat, f.reported_lon, f.accuracy_m)
            == (latest.reported_lat, latest.reported_lon, latest.accuracy_m)]
    times = [f.time for f in same if f.time is not None]
    span = (max(times) - min(times)) if len(times) == len(same) and times else None
    gps_grade = latest.accuracy_m is None or latest.accuracy_m < rules.frozen_check_below_accuracy_m
    long_enough = span is None or span >= rules.frozen_min_span_s
    frozen = (len(same) >= rules.frozen_min_fixes and len(same) == len(fixes)
              and long_enough and gps_grade)
    return frozen, len(same), span


def check_plausibility(facts: GeoFacts) -> list[Evidence]:
    fix = facts.inp.gps
    if fix is None:
        return []
    rules = facts.rules
    cues: list[str] = []
    accuracy = fix.accuracy_m
    if accuracy is not None and accuracy < rules.min_plausible_accuracy_m:
        cues.append("accuracy_implausible")
    decimals = max(_decimals(fix.reported_lat), _decimals(fix.reported_lon))
    if decimals <= rules.rounded_max_decimals and (
            accuracy is None or accuracy < rules.rounded_check_below_accuracy_m):
        cues.append("rounded_coordinates")
    frozen, identical, span = _frozen(facts.inp.fixes, facts)
    if frozen:
        cues.append("frozen_fixes")
    reused = []
    if facts.res.store is not None:
        me = facts.inp.applicant_id or facts.inp.device_id
        reused = [r for r in facts.res.store.same_point(fix.lat, fix.lon, facts.inp.session_id)
                  if me is None or (r.applicant_id or r.device_id) != me]
        if reused:
            cues.append("fix_reused")

    details = dict(accuracy_m=accuracy, coordinate_decimals=decimals,
                   fixes=len(facts.inp.fixes), identical_fixes=identical,
                   identical_span_s=rounded(span), cues=cues,
                   reused_by_sessions=[r.session_id for r in reused[:rules.cluster_list_limit]])
    if not cues:
        return [facts.evidence(Check.LBS, Outcome.SUPPORTS, "gps_plausible",
                               f"GPS fix looks measured (accuracy {accuracy} m, "
                               f"{len(facts.inp.fixes)} fix(es))", **details)]
    strong = {"accuracy_implausible", "rounded_coordinates"} & set(cues)
    spoofed = bool(strong) and len(cues) >= 2
    text = ", ".join(c.replace("_", " ") for c in cues)
    if spoofed:
        return [facts.evidence(Check.LBS, Outcome.CONTRADICTS, "gps_spoofed",
                               f"GPS fix has the mock-location signature: {text}", **details)]
    return [facts.evidence(Check.LBS, Outcome.CONTRADICTS, "gps_implausible",
                           f"GPS fix looks implausible: {text}", **details)]
