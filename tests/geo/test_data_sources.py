"""The data behind the checks: MaxMind test databases, time zones, China admin divisions, POI
files, datums and distances - and clear startup errors naming a bad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.geo.helpers import ANON_DB, ASN_DB, CITY_DB, POI_FILE
from verification.geo.checker import shared_admin_index, shared_timezones
from verification.geo.china_admin import ChinaAdminIndex
from verification.geo.datum import (
    Datum,
    bd09_to_gcj02,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_wgs84,
    wgs84_to_gcj02,
)
from verification.geo.distance import haversine_m
from verification.geo.errors import GeoDataError
from verification.geo.ipdb import IpDatabases
from verification.geo.poi import PoiIndex
from verification.geo.timezones import utc_offset_minutes


@pytest.fixture(scope="module")
def ipdb():
    dbs = IpDatabases(CITY_DB, ASN_DB, ANON_DB)
    yield dbs
    dbs.close()


def test_maxmind_test_ips_resolve_to_their_documented_cities(ipdb):
    changchun = ipdb.lookup("175.16.199.1")
    assert changchun.status == "ok"
    assert (changchun.location.country, changchun.location.city) == ("CN", "Changchun")
    assert changchun.location.city_local == "长春"
    assert changchun.anonymizer == ()
    london = ipdb.lookup("81.2.69.142")
    assert (london.location.country, london.location.city) == ("GB", "London")
    assert {"vpn", "tor", "hosting", "public_proxy", "residential_proxy"} == set(london.anonymizer)
    assert ipdb.lookup("::ffff:175.16.199.1").location.city == "Changchun"  # IPv4-mapped


def test_asn_lookup(ipdb):
    got = ipdb.lookup("1.128.0.1")
    assert (got.asn, got.asn_org) == (1221, "Telstra Pty Ltd")


@pytest.mark.parametrize("ip,status", [("8.8.8.8", "ok"), ("10.1.2.3", "private"),
                                       ("127.0.0.1", "private"), ("999.1.1.1", "invalid"),
                                       ("hello", "invalid"), (None, "missing")])
def test_unusual_addresses_have_a_status(ipdb, ip, status):
    got = ipdb.lookup(ip)
    assert got.status == status
    if ip == "8.8.8.8":
        assert got.location is None  # not in the test database


def test_missing_or_wrong_database_is_a_startup_error_naming_the_file(tmp_path: Path):
    with pytest.raises(GeoDataError, match=r"VERIFICATION_GEOIP_CITY_DB.*nope\.mmdb.*not found"):
        IpDatabases(city_db=tmp_path / "nope.mmdb")
    with pytest.raises(GeoDataError, match=r"VERIFICATION_GEOIP_ANON_DB.*GeoIP2-City.*expected"):
        IpDatabases(anon_db=CITY_DB)
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a database")
    with pytest.raises(GeoDataError, match="junk.mmdb"):
        IpDatabases(asn_db=junk)


def test_no_databases_is_fine():
    dbs = IpDatabases()
    got = dbs.lookup("175.16.199.1")
    assert not dbs.configured and got.location is None and not got.city_configured


def test_time_zones_and_countries_offline():
    tz = shared_timezones()
    assert tz.at(43.83, 125.30).zone == "Asia/Shanghai"
    assert tz.at(43.83, 125.30).country == "CN"
    assert tz.at(51.515, -0.092).country == "GB"
    assert tz.at(22.30, 114.17).country == "HK"
    summer, winter = 1718000000, 1705000000
    assert utc_offset_minutes("Europe/London", summer) == 60
    assert utc_offset_minutes("Europe/London", winter) == 0
    assert utc_offset_minutes("Asia/Harbin", summer) == utc_offset_minutes("Asia/Shanghai", summer)
    assert utc_offset_minutes("Mars/Olympus", summer) is None


def test_nearest_county_seat_and_address_parsing():
    admin = shared_admin_index(None)
    point = admin.nearest(43.8304, 125.2952)
    assert point.path.county.code == "220104" and point.seat_distance_km < 2
    assert admin.nearest(22.30, 114.17).path.province.name == "香港特别行政区"
    full = admin.parse_address("吉林省长春市朝阳区人民大街1号").path
    assert (full.province.code, full.city.code, full.county.code) == ("22", "2201", "220104")
    assert admin.parse_address("长春朝阳区工农大路").path.county.code == "220104"
    assert admin.parse_address("北京市朝阳区建国路88号").path.county.code == "110105"
    assert admin.parse_address("延边州延吉市").path.county.code == "222401"
    assert admin.parse_address("上海浦东新区世纪大道").path.county.code == "310115"
    assert admin.parse_address("长春市中山路1号").path.county is None  # a street, not 中山市
    ambiguous = admin.parse_address("朝阳区建国路88号")
    assert ambiguous.path is None and len(ambiguous.candidates) == 2
    assert admin.parse_address("12 Cheapside, London").path is None


def test_china_admin_file_errors_name_the_file(tmp_path: Path):
    with pytest.raises(GeoDataError, match="VERIFICATION_GEO_CHINA_ADMIN.*missing.csv"):
        ChinaAdminIndex.load(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("code,title\n1,x\n")
    with pytest.raises(GeoDataError, match="bad.csv"):
        ChinaAdminIndex.load(bad)


def test_poi_geojson_and_csv_give_the_same_nearest_points(tmp_path: Path):
    geo = PoiIndex.load(POI_FILE)
    features = json.loads(POI_FILE.read_text())["features"]
    csv_path = tmp_path / "pois.csv"
    lines = ["name,category,latitude,longitude"] + [
        f"{f['properties']['name']},{f['properties']['category']},"
        f"{f['geometry']['coordinates'][1]},{f['geometry']['coordinates'][0]}" for f in features]
    csv_path.write_text("\n".join(lines) + "\n")
    from_csv = PoiIndex.load(csv_path)
    assert len(geo) == len(from_csv) == len(features)
    near_geo = geo.within(43.8304, 125.2952, 300)
    near_csv = from_csv.within(43.8304, 125.2952, 300)
    assert [n.poi.name for n in near_geo] == [n.poi.name for n in near_csv]
    assert near_geo[0].poi.category == "restaurant"
    distances = [n.distance_m for n in near_geo]
    assert distances == sorted(distances) and distances[-1] <= 300


def test_poi_file_errors_name_the_file(tmp_path: Path):
    with pytest.raises(GeoDataError, match="VERIFICATION_GEO_POI_FILE.*gone.geojson"):
        PoiIndex.load(tmp_path / "gone.geojson")
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json")
    with pytest.raises(GeoDataError, match="broken.geojson"):
        PoiIndex.load(broken)
    no_columns = tmp_path / "cols.csv"
    no_columns.write_text("a,b\n1,2\n")
    with pytest.raises(GeoDataError, match="lat, lon and category"):
        PoiIndex.load(no_columns)


def test_haversine_known_distance():
    # London (51.5074, -0.1278) to Paris (48.8566, 2.3522): 343.5 km on the mean sphere
    assert haversine_m(51.5074, -0.1278, 48.8566, 2.3522) / 1000 == pytest.approx(343.5, abs=0.5)


def test_gcj02_and_bd09_round_trips_and_known_offset():
    lat, lon = 39.9080, 116.3970  # Tiananmen
    glat, glon = wgs84_to_gcj02(lat, lon)
    assert 300 < haversine_m(lat, lon, glat, glon) < 700  # the familiar "Mars" shift
    assert haversine_m(lat, lon, *gcj02_to_wgs84(glat, glon)) < 0.01
    blat, blon = gcj02_to_bd09(glat, glon)
    assert haversine_m(glat, glon, *bd09_to_gcj02(blat, blon)) < 0.5
    assert haversine_m(lat, lon, *to_wgs84(blat, blon, Datum.BD09)) < 0.5
    assert wgs84_to_gcj02(51.5, -0.12) == (51.5, -0.12)  # outside China: unchanged
