"""Individual geo checks on the edges the scenarios do not cover: each cue of a spoofed fix,
time zone aliases, unusable IPs, borderline and ambiguous divisions, POI corner cases, rules
overrides - always evidence with numbers, never an exception."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.geo.helpers import SHOP_GEO, with_
from verification.errors import InvalidInputError
from verification.geo.config import GeoConfig, GeoRules
from verification.geo.outcome import GeoOutcome
from verification.types import Check, Outcome


def _fixes(lat, lon, accuracy, times):
    return [{"lat": lat, "lon": lon, "accuracy_m": accuracy, "time": t} for t in times]


def test_one_spoofing_cue_is_review_two_are_reject(checker):
    zero = with_(SHOP_GEO, gps={"lat": 43.8304123, "lon": 125.2952456, "accuracy_m": 0})
    report = checker.check(zero)
    assert report.by_code("gps_implausible").details["cues"] == ["accuracy_implausible"]
    assert report.outcome is GeoOutcome.REVIEW
    typed = with_(SHOP_GEO, session_id="typed", gps={"lat": 43.83, "lon": 125.295,
                                                     "accuracy_m": 0})
    report = checker.check(typed)
    spoof = report.by_code("gps_spoofed")
    assert set(spoof.details["cues"]) == {"accuracy_implausible", "rounded_coordinates"}
    assert report.outcome is GeoOutcome.REJECT


def test_frozen_fixes_need_gps_grade_accuracy_and_time(checker):
    t = 1717984800
    frozen = with_(SHOP_GEO, session_id="frozen", gps={"lat": 43.8304123, "lon": 125.2952456,
                                                       "accuracy_m": 5, "time": t},
                   fixes=_fixes(43.8304123, 125.2952456, 5, [t - 30, t - 20, t - 10]))
    assert "frozen_fixes" in checker.check(frozen).by_code("gps_implausible").details["cues"]
    # Wi-Fi positioning repeats one point at ~40 m accuracy: not a spoofing cue
    wifi = with_(frozen, session_id="wifi", gps=dict(frozen["gps"], accuracy_m=40),
                 fixes=_fixes(43.8304123, 125.2952456, 40, [t - 30, t - 20, t - 10]))
    assert checker.check(wifi).by_code("gps_plausible") is not None
    # three identical fixes within 2 s are not yet "frozen"
    quick = with_(frozen, session_id="quick",
                  fixes=_fixes(43.8304123, 125.2952456, 5, [t - 2, t - 1]))
    assert checker.check(quick).by_code("gps_plausible") is not None


def test_a_fix_reused_by_another_applicant_is_a_cue(checker):
    checker.check(with_(SHOP_GEO, session_id="first", applicant_id="one"))
    report = checker.check(with_(SHOP_GEO, session_id="second", applicant_id="two"))
    cue = report.by_code("gps_implausible")
    assert cue.details["cues"] == ["fix_reused"]
    assert cue.details["reused_by_sessions"] == ["first"]


def test_time_zone_aliases_agree_and_offsets_are_reported(checker):
    report = checker.check(with_(SHOP_GEO, timezone="Asia/Harbin"))
    item = report.by_code("timezone_consistent")
    assert item.details["browser_offset_min"] == item.details["reference_offset_min"] == 480
    mismatch = checker.check(with_(SHOP_GEO, timezone="Europe/Moscow")).by_code(
        "timezone_mismatch")
    assert mismatch.details["browser_offset_min"] == 180 and "-5 h" in mismatch.summary


@pytest.mark.parametrize("tz,code", [(None, "timezone_missing"),
                                     ("Not/AZone", "timezone_invalid")])
def test_unusable_time_zone_is_a_note(checker, tz, code):
    report = checker.check(with_(SHOP_GEO, timezone=tz))
    assert report.by_code(code) is not None
    assert report.outcome is GeoOutcome.PASS
    assert code in [n.code for n in report.notes]


@pytest.mark.parametrize("ip,code", [("10.0.0.8", "ip_private"), ("nonsense", "ip_invalid"),
                                     ("8.8.8.8", "ip_unknown"), (None, "ip_missing")])
def test_unusable_ip_is_clear_evidence_not_a_failure(checker, ip, code):
    report = checker.check(with_(SHOP_GEO, ip=ip))
    assert report.by_code(code) is not None
    assert report.outcome is GeoOutcome.PASS


def test_without_gps_the_ip_and_time_zone_use_the_other_references(checker):
    report = checker.check(with_(SHOP_GEO, gps={"error": "permission_denied"},
                                 ip="81.2.69.142", timezone="Asia/Shanghai"))
    assert report.outcome is GeoOutcome.REVIEW
    assert report.by_code("ip_country_mismatch").details["reference"] == "declared"
    assert report.by_code("timezone_mismatch").details["reference"] == "ip"
    assert report.by_code("gps_missing").outcome is Outcome.NOT_CHECKED
    assert "permission" in report.by_code("gps_missing").summary


def test_without_history_travel_and_clusters_are_not_checked(make_checker):
    report = make_checker(data_dir=None).check(SHOP_GEO)
    assert report.by_code("travel_not_checked") is not None
    assert report.by_code("cluster_not_checked") is not None
    assert report.outcome is GeoOutcome.PASS


def test_a_point_between_two_district_seats_is_borderline(checker):
    # midway between the seats of 朝阳区 (43.8338,125.2883) and 南关区 (43.8640,125.3502),
    # slightly nearer 南关区, while the address says 朝阳区
    doc = with_(SHOP_GEO, gps={"lat": 43.8495123, "lon": 125.3205456, "accuracy_m": 15},
                declared=dict(SHOP_GEO["declared"], lat=43.8495, lon=125.3205))
    report = checker.check(doc)
    border = report.by_code("admin_division_borderline")
    assert border is not None and border.details["level"] == "county"
    assert border.details["declared_unit_seat_km"] <= border.details["borderline_limit_km"]


def test_an_ambiguous_address_matches_when_the_gps_is_in_one_reading(checker):
    doc = with_(SHOP_GEO, declared=dict(SHOP_GEO["declared"], address="朝阳区人民大街1号"))
    assert checker.check(doc).by_code("admin_division_match") is not None
    beijing = with_(doc, gps={"lat": 39.921234, "lon": 116.443456, "accuracy_m": 10})
    # a Beijing fix with a "朝阳区" address also matches - its other reading
    assert checker.check(beijing).by_code("admin_division_match") is not None
    shenyang = with_(doc, gps={"lat": 41.805678, "lon": 123.431234, "accuracy_m": 10})
    assert checker.check(shenyang).by_code("admin_address_ambiguous") is not None


def test_a_chinese_address_with_a_fix_abroad_is_a_mismatch(checker):
    doc = with_(SHOP_GEO, gps={"lat": 51.515612, "lon": -0.092345, "accuracy_m": 10})
    item = checker.check(doc).by_code("admin_division_mismatch")
    assert item.details["level"] == "country" and item.details["gps_country"] == "GB"


def test_poi_corner_cases(make_checker):
    checker = make_checker()
    unmapped = checker.check(with_(SHOP_GEO, declared=dict(SHOP_GEO["declared"],
                                                            type="tattoo_parlour")))
    assert unmapped.by_code("poi_type_unmapped") is not None
    nowhere = checker.check(with_(SHOP_GEO, gps={"lat": 44.5012345, "lon": 126.0012345,
                                                 "accuracy_m": 10},
                                  declared={"lat": 44.5012, "lon": 126.0012,
                                            "type": "restaurant"}))
    assert nowhere.by_code("poi_none_nearby").details["pois_within_radius"] == 0
    untyped = checker.check(with_(SHOP_GEO, declared={"lat": 43.8301, "lon": 125.2950}))
    assert untyped.by_code("poi_no_business_type") is not None
    no_file = make_checker(poi_file=None).check(SHOP_GEO)
    assert no_file.by_code("poi_not_checked").outcome is Outcome.NOT_CHECKED


def test_rules_file_overrides_radius_and_categories(tmp_path: Path, make_checker):
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text('default_radius_m = 50\n[product_radius_m]\nrestaurant = 20\n'
                          '[business_poi_categories]\ntea_house = ["cafe", "restaurant"]\n')
    rules = GeoConfig.from_env({}, rules_file=rules_file).rules
    assert rules.radius_for("restaurant") == 20 and rules.radius_for("other") == 50
    assert rules.radius_for("farm") == 5000  # untouched defaults stay
    checker = make_checker(rules=rules)
    report = checker.check(SHOP_GEO)  # 29 m from the door: outside a 20 m radius
    assert report.by_code("far_from_declared_location") is None  # within accuracy: borderline
    assert report.by_code("declared_location_borderline") is not None
    tea = checker.check(with_(SHOP_GEO, declared=dict(SHOP_GEO["declared"], type="tea_house",
                                                       product=None)))
    assert tea.by_code("poi_category_fits") is not None
    bad = tmp_path / "bad.toml"
    bad.write_text("no_such_setting = 1\n")
    with pytest.raises(InvalidInputError, match="no_such_setting"):
        GeoRules.from_toml(bad)


def test_every_report_is_json_and_session_evidence_has_one_conclusion_per_check(checker):
    report = checker.check(with_(SHOP_GEO, ip="81.2.69.142"))
    json.dumps(report.to_json(), ensure_ascii=False)
    items = report.session_evidence(report.evidence[0].window)
    conclusions = [e for e in items if e.model == "geo"]
    assert {e.check for e in conclusions} == {Check.LBS, Check.POI}
    lbs = next(e for e in conclusions if e.check is Check.LBS)
    assert lbs.outcome is Outcome.CONTRADICTS and lbs.code == "lbs_review"
    assert {s["code"] for s in lbs.details["subchecks"]} >= {"gps_plausible", "ip_anonymizer"}
    # supporting sub-checks live in the conclusion, so they cannot outvote a contradiction
    assert not [e for e in items if e.model != "geo" and e.outcome is Outcome.SUPPORTS]


def test_env_configuration(tmp_path: Path):
    env = {"VERIFICATION_GEOIP_CITY_DB": "/x/city.mmdb", "VERIFICATION_GEO_POI_FILE": "p.csv",
           "VERIFICATION_DATA_DIR": str(tmp_path), "VERIFICATION_TRUSTED_PROXIES": "10.0.0.0/8,"}
    config = GeoConfig.from_env(env, anon_db=Path("/flag/anon.mmdb"))
    assert config.city_db == Path("/x/city.mmdb") and config.poi_file == Path("p.csv")
    assert config.anon_db == Path("/flag/anon.mmdb") and config.asn_db is None
    assert config.data_dir == tmp_path and config.trusted_proxies == ("10.0.0.0/8",)
