"""The geo history: survives restarts, replaces a re-checked session, and feeds impossible
travel and location clusters that list the other sessions."""

from __future__ import annotations

import math
import random
from pathlib import Path

import h3

from tests.geo.helpers import SHOP_GEO, full_config, with_
from verification.geo.checker import GeoChecker
from verification.geo.checks.history import cell_of, rings_for
from verification.geo.store import GeoHistoryStore, StoredSession


def _row(i: int, lat: float, lon: float, t: float, applicant: str | None = None):
    return StoredSession(f"s{i}", applicant or f"a{i}", f"d{i}", t, lat, lon, 10.0,
                         cell_of(lat, lon, 9), None)


def test_store_survives_reopen_and_replaces_by_session_id(tmp_path: Path):
    path = tmp_path / "geo.sqlite3"
    store = GeoHistoryStore(path)
    assert not path.exists()  # opened lazily: no fix, no file
    store.record(_row(1, 43.83, 125.29, 1000.0))
    store.record(_row(2, 43.84, 125.30, 2000.0))
    store.record(_row(1, 43.85, 125.31, 3000.0))  # session 1 re-checked
    store.close()
    again = GeoHistoryStore(path)
    assert again.count() == 2
    rows = again.same_person("other", "a1", None, since=0)
    assert [(r.session_id, r.lat, r.t) for r in rows] == [("s1", 43.85, 3000.0)]
    again.close()


def test_cluster_is_found_after_a_restart_and_lists_the_sessions(tmp_path: Path):
    first = GeoChecker.from_config(full_config(tmp_path))
    for i in range(3):
        first.check(with_(SHOP_GEO, session_id=f"ring-{i}", applicant_id=f"app-{i}",
                          device_id=f"dev-{i}"))
    first.close()
    restarted = GeoChecker.from_config(full_config(tmp_path))
    report = restarted.check(with_(SHOP_GEO, session_id="ring-new", applicant_id="app-new",
                                   device_id="dev-new"))
    restarted.close()
    cluster = report.by_code("location_cluster")
    assert cluster is not None and report.outcome.value == "review"
    assert cluster.details["other_applicants"] == 3
    assert {s["session_id"] for s in cluster.details["other_sessions"]} == \
        {"ring-0", "ring-1", "ring-2"}
    assert "ring-0" in cluster.summary


def test_the_same_applicant_never_clusters_with_itself(checker):
    for i in range(4):
        checker.check(with_(SHOP_GEO, session_id=f"again-{i}", applicant_id="same"))
    report = checker.check(with_(SHOP_GEO, session_id="again-x", applicant_id="same"))
    assert report.by_code("location_cluster") is None
    assert report.by_code("no_location_cluster").details["other_applicants"] == 0


def test_rechecking_one_document_is_one_session(checker):
    doc = {k: v for k, v in SHOP_GEO.items() if k not in ("session_id", "applicant_id")}
    for _ in range(4):
        report = checker.check(doc)
    assert report.by_code("location_cluster") is None
    assert checker.resources.store.count() == 1


def test_sessions_outside_the_window_or_radius_do_not_count(checker):
    t = 1717984800.0
    far = with_(SHOP_GEO, gps={"lat": 43.8330123, "lon": 125.2950456, "accuracy_m": 10})
    for i in range(3):  # 300+ m north: outside the 200 m cluster radius
        checker.check(with_(far, session_id=f"far-{i}", applicant_id=f"f{i}", time=t))
    for i in range(3):  # at the spot but 60 days earlier: outside the 30-day window
        checker.check(with_(SHOP_GEO, session_id=f"old-{i}", applicant_id=f"o{i}",
                            time=t - 60 * 86400))
    report = checker.check(with_(SHOP_GEO, session_id="now", applicant_id="n", time=t))
    assert report.by_code("location_cluster") is None


def test_impossible_travel_is_measured_between_the_fixes_with_their_accuracy(checker):
    t = 1717984800.0
    checker.check({"session_id": "bj", "applicant_id": "p", "time": t - 1800,
                   "gps": {"lat": 39.908123, "lon": 116.397456, "accuracy_m": 30}})
    report = checker.check(with_(SHOP_GEO, session_id="cc", applicant_id="p", time=t))
    travel = report.by_code("impossible_travel")  # Beijing -> Changchun (~860 km) in 30 min
    assert travel is not None and report.outcome.value == "reject"
    assert 800 < travel.details["distance_km"] < 900
    assert travel.details["speed_kmh"] > 1600 and travel.details["other_session"] == "bj"


def test_the_same_trip_by_plane_or_over_a_day_is_plausible(checker):
    t = 1717984800.0
    checker.check({"session_id": "bj", "applicant_id": "p", "time": t - 2 * 3600,
                   "gps": {"lat": 39.908123, "lon": 116.397456, "accuracy_m": 30}})
    report = checker.check(with_(SHOP_GEO, session_id="cc", applicant_id="p", time=t))
    plausible = report.by_code("travel_plausible")  # ~430 km/h: a flight
    assert plausible is not None and plausible.details["compared_sessions"] == 1
    assert report.by_code("impossible_travel") is None


def test_short_hops_never_count_as_travel(checker):
    t = 1717984800.0  # a bad fix 5 km off, one second apart: below min_travel_excess_km
    checker.check(with_(SHOP_GEO, session_id="a", applicant_id="p", time=t - 1,
                        gps={"lat": 43.875123, "lon": 125.2950456, "accuracy_m": 20}))
    report = checker.check(with_(SHOP_GEO, session_id="b", applicant_id="p", time=t))
    assert report.by_code("impossible_travel") is None


def test_travel_is_tracked_by_device_too(checker):
    t = 1717984800.0
    checker.check({"session_id": "ldn", "device_id": "phone-1", "time": t - 600,
                   "gps": {"lat": 51.5073512, "lon": -0.1277583, "accuracy_m": 20}})
    report = checker.check(with_(SHOP_GEO, session_id="cc", applicant_id="someone-else",
                                 device_id="phone-1", time=t))
    assert report.by_code("impossible_travel") is not None


def test_h3_rings_cover_the_cluster_radius():
    k = rings_for(9, 200.0)
    rng = random.Random(5)
    for _ in range(3000):
        lat, lon = rng.uniform(-70, 70), rng.uniform(-180, 180)
        bearing = rng.uniform(0, 2 * math.pi)
        plat = lat + 200 * math.cos(bearing) / 111195
        plon = lon + 200 * math.sin(bearing) / (111195 * math.cos(math.radians(lat)))
        assert cell_of(plat, plon, 9) in set(h3.grid_disk(cell_of(lat, lon, 9), k))
