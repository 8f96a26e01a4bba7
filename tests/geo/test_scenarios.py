"""Every hand-made scenario (tests/data/geo/scenarios.json) is decided as designed: at the shop
vs at home, a VPN exit abroad, a time zone mismatch, spoofed perfect fixes, a cluster of
applicants, impossible travel, denied permission, malformed input, and more."""

from __future__ import annotations

import pytest

from tests.geo.helpers import SCENARIOS


@pytest.mark.parametrize("case", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_scenario_is_decided_as_designed(case, make_checker):
    overrides = {}
    if not case["config"].get("ip_databases", True):
        overrides = dict(city_db=None, asn_db=None, anon_db=None)
    checker = make_checker(**overrides)
    for earlier in case["history"]:
        checker.check(earlier)
    report = checker.check(case["geo"])
    expect = case["expect"]
    assert report.outcome.value == expect["outcome"], [r.to_json() for r in report.reasons]
    assert set(expect["codes"]) <= report.codes(), report.codes()
    assert not set(expect["absent_codes"]) & report.codes()
    # every decision names its reasons; a pass has none
    if report.outcome.value == "pass":
        assert report.reasons == ()
    else:
        assert report.reasons and all(r.message for r in report.reasons)


def test_at_home_reports_the_distance_and_the_other_district(make_checker):
    case = next(s for s in SCENARIOS if s["name"] == "at_home")
    report = make_checker().check(case["geo"])
    far = report.by_code("far_from_declared_location")
    assert far is not None and far.details["distance_m"] > 10_000
    assert far.details["radius_m"] == 300.0  # the restaurant product's radius
    admin = report.by_code("admin_division_mismatch")
    assert admin.details["gps_division"]["county"]["name"] == "宽城区"
    assert admin.details["declared_division"]["county"]["name"] == "朝阳区"


def test_vpn_exit_lists_the_anonymizer_flags_and_the_countries(make_checker):
    case = next(s for s in SCENARIOS if s["name"] == "vpn_exit_abroad")
    report = make_checker().check(case["geo"])
    flags = report.by_code("ip_anonymizer").details["flags"]
    assert {"vpn", "tor", "hosting", "public_proxy"} <= set(flags)
    mismatch = report.by_code("ip_country_mismatch").details
    assert (mismatch["ip_country"], mismatch["reference_country"]) == ("GB", "CN")
    assert mismatch["distance_km"] > 7000
