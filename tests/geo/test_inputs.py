"""Parsing never raises on content: denied permission, malformed numbers, odd times and
forwarded-for headers all become typed values or named problems."""

from __future__ import annotations

import pytest

from tests.geo.helpers import SHOP_GEO, with_
from verification.errors import InvalidInputError
from verification.geo.client_ip import parse_trusted_proxies, resolve_client_ip
from verification.geo.inputs import parse_geo_input, parse_time


def test_a_good_document_parses_into_typed_values():
    inp = parse_geo_input(SHOP_GEO)
    assert inp.gps_status == "ok" and inp.gps is not None
    assert inp.gps.accuracy_m == 18.0
    assert inp.ip == "175.16.199.1" and inp.timezone == "Asia/Shanghai"
    assert inp.declared.type == "restaurant" and inp.declared.has_point
    assert inp.problems == ()


@pytest.mark.parametrize("gps,status", [
    ({"error": "permission_denied"}, "permission_denied"),
    ({"error": 1}, "permission_denied"),
    ({"error": "TIMEOUT"}, "timeout"),
    (None, "missing"),
])
def test_gps_errors_are_statuses_not_exceptions(gps, status):
    inp = parse_geo_input(with_(SHOP_GEO, gps=gps))
    assert inp.gps is None and inp.gps_status == status


@pytest.mark.parametrize("gps,words", [
    ({"lat": 123.4, "lon": 125.0, "accuracy_m": 5}, "outside"),
    ({"lat": "abc", "lon": 125.0}, "lat"),
    ({"lon": 125.0}, "lat"),
    ({"lat": 0, "lon": 0, "accuracy_m": 5}, "placeholder"),
    ({"lat": 43.8, "lon": 125.3, "accuracy_m": -3}, "accuracy"),
    ("43.8,125.3", "object"),
    ({"lat": True, "lon": 125.3}, "lat"),
])
def test_malformed_fixes_become_named_problems(gps, words):
    inp = parse_geo_input(with_(SHOP_GEO, gps=gps))
    assert inp.gps is None and inp.gps_status == "invalid"
    problem = inp.problem("gps")
    assert problem is not None and problem.code == "gps_invalid" and words in problem.message


def test_malformed_declared_point_is_a_problem_and_no_point():
    inp = parse_geo_input(with_(SHOP_GEO, declared={"address": "x", "lat": 95, "lon": 1}))
    assert not inp.declared.has_point
    assert inp.problem("declared").code == "declared_invalid"


@pytest.mark.parametrize("value,expected", [
    (1718000000, 1718000000.0),
    (1718000000123, 1718000000.123),  # browser Position.timestamp is in milliseconds
    ("2024-06-10T02:00:00Z", 1717984800.0),
    ("2024-06-10T10:00:00+08:00", 1717984800.0),
    ("yesterday", None),
    (-5, None),
])
def test_times_in_every_common_form(value, expected):
    got = parse_time(value)
    assert got == (pytest.approx(expected) if expected is not None else None)


def test_fixes_are_sorted_and_the_bad_ones_dropped():
    doc = with_(SHOP_GEO, fixes=[{"lat": 43.8, "lon": 125.3, "accuracy_m": 9, "time": 20},
                                 {"lat": "x"},
                                 {"lat": 43.81, "lon": 125.3, "accuracy_m": 9, "time": 10}])
    doc["gps"]["time"] = 30
    inp = parse_geo_input(doc)
    assert [f.time for f in inp.fixes] == [10, 20, 30]
    assert inp.problem("fixes[1]").code == "gps_fixes_invalid"


def test_gcj02_declared_point_is_moved_to_wgs84():
    inp = parse_geo_input(with_(SHOP_GEO, declared={"lat": 43.832494, "lon": 125.301436,
                                                    "datum": "gcj02"}))
    assert inp.declared.lat == pytest.approx(43.8301, abs=2e-6)
    assert inp.declared.lon == pytest.approx(125.2950, abs=2e-6)


def test_session_id_is_stable_for_the_same_document():
    doc = {k: v for k, v in SHOP_GEO.items() if k != "session_id"}
    assert parse_geo_input(doc).session_id == parse_geo_input(dict(doc)).session_id
    assert parse_geo_input(doc, session_id="live-1").session_id == "live-1"


def test_forwarded_for_is_honoured_only_from_trusted_proxies():
    trusted = parse_trusted_proxies(["10.0.0.0/8", "::1"])
    # untrusted peer: the header is attacker-controlled and ignored
    assert resolve_client_ip("203.0.113.9", "175.16.199.1", trusted) == "203.0.113.9"
    # trusted proxy: walk from the right past trusted hops
    assert resolve_client_ip("10.0.0.2", "1.2.3.4, 175.16.199.1, 10.0.0.7", trusted) \
        == "175.16.199.1"
    # a spoofed left-most entry never wins over the first untrusted hop
    assert resolve_client_ip("10.0.0.2", "81.2.69.142, 175.16.199.1", trusted) \
        == "175.16.199.1"
    assert resolve_client_ip("[::1]:443", "175.16.199.1:5555", trusted) == "175.16.199.1"
    # peer and header fed through the geo document
    inp = parse_geo_input({"peer_ip": "10.0.0.2", "forwarded_for": "175.16.199.1"},
                          trusted_proxies=trusted)
    assert inp.ip == "175.16.199.1"


def test_a_bad_trusted_proxy_is_a_clear_error():
    with pytest.raises(InvalidInputError, match="VERIFICATION_TRUSTED_PROXIES"):
        parse_trusted_proxies(["10.0.0.0/8", "not-an-ip"])
