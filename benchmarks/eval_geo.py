"""Evaluate the geo stage: MaxMind test IPs, Chinese admin divisions, hand-made scenarios.

    python -m benchmarks.eval_geo [--maxmind-dir DIR] [--china-admin FILE] [--json]

1. **IP lookups** on the MaxMind test databases (``../shared/media/geo/maxmind_test``): the
   documented test addresses must resolve to their cities and anonymizer flags.
2. **Admin divisions**: every county seat of ``../shared/media/geo/china_admin/cpca_adcodes.csv``
   moved 1 km in eight directions is located by the nearest-seat index (how often the county,
   city and province are right), and addresses written from the same data set's names
   ("<province><city><county>...", "<city><county>...", "<short city><county>...") are parsed
   back to their codes.
3. **Scenarios** from ``tests/data/geo/scenarios.json``, each in a fresh history store: the
   decision, whether it is the designed one, and the reason codes.

Prints one line per scenario and the summary numbers; exit status 1 if any scenario is decided
otherwise than designed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "media" / "geo"
TEST_DATA = REPO / "tests" / "data" / "geo"

IP_EXPECTATIONS = [
    ("175.16.199.1", "CN", "Changchun", ()),
    ("81.2.69.142", "GB", "London", ("vpn", "hosting", "tor", "public_proxy",
                                     "residential_proxy")),
    ("2.125.160.216", "GB", "Boxford", ()),
    ("216.160.83.56", "US", "Milton", ()),
    ("89.160.20.112", "SE", "Linköping", ()),
]


def _db_dir(arg: Path | None) -> Path:
    for candidate in (arg, SHARED / "maxmind_test", TEST_DATA):
        if candidate is not None and (candidate / "GeoIP2-City-Test.mmdb").is_file():
            return candidate
    sys.exit("error: no MaxMind test databases found (use --maxmind-dir)")


def evaluate_ips(db_dir: Path) -> dict:
    from verification.geo.ipdb import IpDatabases

    dbs = IpDatabases(db_dir / "GeoIP2-City-Test.mmdb", db_dir / "GeoLite2-ASN-Test.mmdb",
                      db_dir / "GeoIP2-Anonymous-IP-Test.mmdb")
    rows, correct = [], 0
    for ip, country, city, flags in IP_EXPECTATIONS:
        got = dbs.lookup(ip)
        loc = got.location
        ok = (loc is not None and loc.country == country and loc.city == city
              and set(got.anonymizer or ()) == set(flags))
        correct += ok
        rows.append({"ip": ip, "country": loc.country if loc else None,
                     "city": loc.city if loc else None, "flags": list(got.anonymizer or ()),
                     "ok": ok})
    return {"rows": rows, "correct": correct, "total": len(rows)}


def _offset(lat: float, lon: float, km: float, bearing_deg: float) -> tuple[float, float]:
    b = math.radians(bearing_deg)
    return (lat + km * math.cos(b) / 111.195,
            lon + km * math.sin(b) / (111.195 * math.cos(math.radians(lat))))


def evaluate_admin(csv_path: Path) -> dict:
    from verification.geo.china_admin import ChinaAdminIndex

    index = ChinaAdminIndex.load(csv_path)
    seats = [u for u in index.units.values() if len(u.code) == 6 and u.lat is not None]
    # Independent ground truth: a prefecture's (or province's) own seat coordinate lies inside
    # that prefecture (province), and it is not one of the county seats the index uses.
    seat_truth = {}
    for level, length in (("city", 4), ("province", 2)):
        units = [u for u in index.units.values() if len(u.code) == length and u.lat is not None
                 and any(len(c) == 6 and c.startswith(u.code) for c in index.units)]
        right = 0
        for u in units:
            got = index.nearest(u.lat, u.lon).path.unit(level)  # type: ignore[arg-type]
            right += bool(got and got.code == u.code)
        seat_truth[level] = {"units": len(units),
                             "located_in_own_unit": round(right / len(units), 4)}
    # Self-consistency (no polygons to compare with): how often a point d km from a county seat
    # still has that seat as its nearest - a measure of how often border calls arise.
    stability = {}
    for km in (1.0, 3.0, 10.0):
        hits = {"county": 0, "city": 0, "province": 0}
        points = 0
        for unit in seats:
            for bearing in range(0, 360, 45):
                lat, lon = _offset(unit.lat, unit.lon, km, bearing)  # type: ignore[arg-type]
                got = index.nearest(lat, lon).path
                points += 1
                hits["county"] += bool(got.county and got.county.code == unit.code)
                hits["city"] += bool(got.city and got.city.code == unit.code[:4])
                hits["province"] += bool(got.province and got.province.code == unit.code[:2])
        stability[f"{km:g}km"] = {k: round(v / points, 4) for k, v in hits.items()}

    forms = {"full": 0, "no_province": 0, "short_city": 0}
    parsed_ok = {k: 0 for k in forms}
    for unit in seats:
        path = index.path_of(unit.code)
        if path.province is None or path.city is None:
            continue
        city_name = path.city.name
        variants = {"full": f"{path.province.name}{city_name}{unit.name}幸福路8号"}
        if city_name not in ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"):
            variants["no_province"] = f"{city_name}{unit.name}幸福路8号"
            if city_name.endswith("市") and len(city_name) >= 3:
                variants["short_city"] = f"{city_name[:-1]}{unit.name}幸福路8号"
        for form, text in variants.items():
            forms[form] += 1
            got = index.parse_address(text).path
            parsed_ok[form] += bool(got and got.county and got.county.code == unit.code)
    return {
        "seat_points_per_distance": points,
        "higher_seats_located": seat_truth,
        "same_seat_at_distance": stability,
        "address_parse_accuracy": {k: round(parsed_ok[k] / forms[k], 4) for k in forms if forms[k]},
        "address_counts": forms,
    }


def _checker(db_dir: Path, data_dir: Path, ip_databases: bool, china_admin: Path | None):
    from verification.geo.checker import GeoChecker
    from verification.geo.config import GeoConfig

    return GeoChecker.from_config(GeoConfig(
        city_db=db_dir / "GeoIP2-City-Test.mmdb" if ip_databases else None,
        asn_db=db_dir / "GeoLite2-ASN-Test.mmdb" if ip_databases else None,
        anon_db=db_dir / "GeoIP2-Anonymous-IP-Test.mmdb" if ip_databases else None,
        poi_file=TEST_DATA / "poi_sample.geojson", china_admin_file=china_admin,
        data_dir=data_dir))


def run_scenario(scenario: dict, db_dir: Path, china_admin: Path | None = None):
    with tempfile.TemporaryDirectory() as tmp:
        checker = _checker(db_dir, Path(tmp),
                           scenario.get("config", {}).get("ip_databases", True), china_admin)
        try:
            for earlier in scenario.get("history", []):
                checker.check(earlier)
            return checker.check(scenario["geo"])
        finally:
            checker.close()


def evaluate_scenarios(db_dir: Path, china_admin: Path | None) -> dict:
    scenarios = json.loads((TEST_DATA / "scenarios.json").read_text())["scenarios"]
    rows = []
    for scenario in scenarios:
        report = run_scenario(scenario, db_dir, china_admin)
        expect = scenario["expect"]
        missing = [c for c in expect["codes"] if c not in report.codes()]
        unexpected = [c for c in expect.get("absent_codes", []) if c in report.codes()]
        rows.append({
            "name": scenario["name"],
            "designed": expect["outcome"],
            "decision": report.outcome.value,
            "as_designed": report.outcome.value == expect["outcome"] and not missing
            and not unexpected,
            "reasons": [r.code for r in report.reasons],
            "missing_codes": missing,
            "latency_ms": round(report.latency_ms, 3),
        })
    return {"rows": rows, "as_designed": sum(r["as_designed"] for r in rows),
            "total": len(rows)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--maxmind-dir", type=Path)
    parser.add_argument("--china-admin", type=Path,
                        default=SHARED / "china_admin" / "cpca_adcodes.csv")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    db_dir = _db_dir(args.maxmind_dir)
    china_admin = args.china_admin if args.china_admin.is_file() else None

    results = {"maxmind_dir": str(db_dir),
               "ip": evaluate_ips(db_dir),
               "admin": evaluate_admin(china_admin) if china_admin else None,
               "scenarios": evaluate_scenarios(db_dir, china_admin)}
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        ip = results["ip"]
        print(f"IP lookups ({db_dir}): {ip['correct']}/{ip['total']} as documented")
        for row in ip["rows"]:
            print(f"  {row['ip']:<16} {row['country']} {row['city']:<10} "
                  f"flags={','.join(row['flags']) or '-':<45} {'ok' if row['ok'] else 'WRONG'}")
        if results["admin"]:
            admin = results["admin"]
            print("Admin divisions (nearest county seat):")
            for level, row in admin["higher_seats_located"].items():
                print(f"  {level} seats located in their own {level}: "
                      f"{row['located_in_own_unit']:.2%} of {row['units']}")
            print(f"  same unit as the seat {admin['seat_points_per_distance']} points at "
                  f"1/3/10 km (self-consistency): {admin['same_seat_at_distance']}")
            print(f"  address parsing accuracy {admin['address_parse_accuracy']} "
                  f"over {admin['address_counts']}")
        sc = results["scenarios"]
        print(f"Scenarios: {sc['as_designed']}/{sc['total']} decided as designed")
        for row in sc["rows"]:
            mark = "ok " if row["as_designed"] else "BAD"
            print(f"  {mark} {row['name']:<34} designed={row['designed']:<7} "
                  f"decision={row['decision']:<7} reasons={','.join(row['reasons']) or '-'}"
                  + (f" missing={row['missing_codes']}" if row["missing_codes"] else ""))
    with open(REPO / "benchmarks" / "results" / "geo_eval.json", "w") as handle:
        json.dump(results, handle, ensure_ascii=False, indent=2)
    return 0 if results["scenarios"]["as_designed"] == results["scenarios"]["total"] else 1


if __name__ == "__main__":
    sys.exit(main())
