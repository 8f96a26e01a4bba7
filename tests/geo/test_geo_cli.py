"""``verification geo check GEO.json [--json]`` as a user runs it (real subprocesses), and
``verification analyze --geo`` carrying the geo evidence into the verdict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.geo.helpers import ANON_DB, ASN_DB, CITY_DB, POI_FILE, SHOP_GEO, scenario, with_

REPO = Path(__file__).resolve().parents[2]
CLIP = REPO / "tests" / "data" / "video" / "bbaf2n.mpg"
_GEO_ENV = ("VERIFICATION_GEOIP_CITY_DB", "VERIFICATION_GEOIP_ASN_DB",
            "VERIFICATION_GEOIP_ANON_DB", "VERIFICATION_GEO_POI_FILE", "VERIFICATION_GEO_RULES",
            "VERIFICATION_DATA_DIR", "VERIFICATION_TRUSTED_PROXIES")


def run_cli(*args: str, env: dict | None = None, timeout: int = 300):
    base = {k: v for k, v in os.environ.items() if k not in _GEO_ENV}
    return subprocess.run([sys.executable, "-m", "verification", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env={**base, **(env or {})})


def one_error_line(proc) -> str:
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture()
def geo_file(tmp_path: Path):
    def write(doc: dict, name: str = "geo.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(doc, ensure_ascii=False))
        return path
    return write


def _db_flags(tmp_path: Path) -> list[str]:
    return ["--city-db", str(CITY_DB), "--asn-db", str(ASN_DB), "--anon-db", str(ANON_DB),
            "--poi-file", str(POI_FILE), "--data-dir", str(tmp_path / "data")]


def test_json_output_has_the_contract_keys(tmp_path: Path, geo_file):
    path = geo_file(scenario("vpn_exit_abroad")["geo"])
    proc = run_cli("geo", "check", str(path), "--json", *_db_flags(tmp_path))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["outcome"] == "review"
    assert {r["code"] for r in report["reasons"]} == {"ip_anonymizer", "ip_country_mismatch"}
    assert {e["check"] for e in report["evidence"]} == {"lbs", "poi"}
    distance = next(e for e in report["evidence"] if e["code"] == "at_declared_location")
    assert distance["details"]["distance_m"] < 50


def test_text_output_names_outcome_reasons_and_evidence(tmp_path: Path, geo_file):
    path = geo_file(scenario("timezone_mismatch")["geo"])
    proc = run_cli("geo", "check", str(path), *_db_flags(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("geo outcome: review")
    assert "timezone_mismatch" in proc.stdout and "America/Los_Angeles" in proc.stdout


def test_databases_from_environment_and_not_checked_without_them(tmp_path: Path, geo_file):
    path = geo_file(SHOP_GEO)
    env = {"VERIFICATION_GEOIP_CITY_DB": str(CITY_DB), "VERIFICATION_DATA_DIR": str(tmp_path)}
    report = json.loads(run_cli("geo", "check", str(path), "--json", env=env).stdout)
    codes = {e["code"] for e in report["evidence"]}
    assert "ip_location_consistent" in codes and "ip_anonymizer_not_checked" in codes
    bare = json.loads(run_cli("geo", "check", str(path), "--json", "--no-record",
                              env={"VERIFICATION_DATA_DIR": str(tmp_path)}).stdout)
    assert {"ip_not_checked", "ip_anonymizer_not_checked"} <= {e["code"]
                                                               for e in bare["evidence"]}
    assert bare["outcome"] == "pass"


def test_cluster_across_cli_runs(tmp_path: Path, geo_file):
    case = scenario("applicant_cluster")
    for i, earlier in enumerate(case["history"]):
        proc = run_cli("geo", "check", str(geo_file(earlier, f"h{i}.json")), "--json",
                       *_db_flags(tmp_path))
        assert proc.returncode == 0, proc.stderr
    report = json.loads(run_cli("geo", "check", str(geo_file(case["geo"])), "--json",
                                *_db_flags(tmp_path)).stdout)
    cluster = next(e for e in report["evidence"] if e["code"] == "location_cluster")
    assert {s["session_id"] for s in cluster["details"]["other_sessions"]} == \
        {"ring-1", "ring-2", "ring-3"}


@pytest.mark.parametrize("name,content,words", [
    ("missing.json", None, ["missing.json", "cannot read"]),
    ("bad.json", "{oops", ["bad.json", "not valid JSON"]),
    ("list.json", "[1]", ["list.json", "JSON object"]),
])
def test_bad_geo_files_are_one_clear_error(tmp_path: Path, name, content, words):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    line = one_error_line(run_cli("geo", "check", str(path)))
    assert all(w in line for w in words), line


def test_a_missing_database_is_an_error_naming_the_file(tmp_path: Path, geo_file):
    path = geo_file(SHOP_GEO)
    line = one_error_line(run_cli("geo", "check", str(path), "--anon-db",
                                  str(tmp_path / "nope.mmdb")))
    assert "nope.mmdb" in line and "VERIFICATION_GEOIP_ANON_DB" in line
    line = one_error_line(run_cli("geo", "check", str(path), env={
        "VERIFICATION_GEO_POI_FILE": str(tmp_path / "pois.csv")}))
    assert "pois.csv" in line


def test_malformed_coordinates_are_evidence_not_an_error(tmp_path: Path, geo_file):
    path = geo_file(with_(SHOP_GEO, gps={"lat": "north", "lon": 125.29}))
    proc = run_cli("geo", "check", str(path), "--json", "--data-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["outcome"] == "review"
    assert "gps_invalid" in {r["code"] for r in report["reasons"]}


@pytest.mark.slow
def test_analyze_with_geo_reports_lbs_and_poi(tmp_path: Path, geo_file):
    path = geo_file(scenario("vpn_exit_abroad")["geo"])
    env = {"VERIFICATION_GEOIP_CITY_DB": str(CITY_DB), "VERIFICATION_GEOIP_ANON_DB": str(ANON_DB),
           "VERIFICATION_DATA_DIR": str(tmp_path)}
    proc = run_cli("analyze", str(CLIP), "--geo", str(path), "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    checks = report["verdict"]["checks"]
    assert checks["lbs"]["status"] == "contradicted"
    assert checks["poi"]["status"] == "supported"
    codes = {e["code"] for e in report["evidence"] if e["check"] in ("lbs", "poi")}
    assert {"lbs_review", "poi_consistent", "ip_anonymizer"} <= codes
