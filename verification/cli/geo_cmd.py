"""``verification geo check GEO.json``: the location (LBS / POI) checks of one session.

Databases come from flags or ``VERIFICATION_*`` environment variables (flags win); without a
MaxMind database the IP checks say ``not_checked``. The fix is remembered in the geo history
under the data dir (for impossible travel and location clusters) unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from verification.errors import InvalidInputError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("geo", help="location checks: GPS vs IP vs declared business")
    geo_sub = parser.add_subparsers(dest="geo_command", required=True, metavar="SUBCOMMAND")
    check = geo_sub.add_parser(
        "check", help="check one GEO.json and print the geo evidence and outcome",
        description='GEO.json: {"gps": {"lat", "lon", "accuracy_m"}, "ip": "...", '
                    '"timezone": "...", "declared": {"address", "lat", "lon", "type"}} '
                    "(optional: fixes, locale, session_id, applicant_id, device_id, time, "
                    "declared.product, datum).")
    check.add_argument("geo_json", type=Path, metavar="GEO.json")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--city-db", type=Path,
                       help="GeoIP2/GeoLite2 City .mmdb (default $VERIFICATION_GEOIP_CITY_DB)")
    check.add_argument("--asn-db", type=Path,
                       help="GeoLite2 ASN .mmdb (default $VERIFICATION_GEOIP_ASN_DB)")
    check.add_argument("--anon-db", type=Path,
                       help="GeoIP2 Anonymous-IP .mmdb (default $VERIFICATION_GEOIP_ANON_DB)")
    check.add_argument("--poi-file", type=Path,
                       help="POI GeoJSON or CSV (default $VERIFICATION_GEO_POI_FILE)")
    check.add_argument("--rules", type=Path,
                       help="TOML overriding geo thresholds (default $VERIFICATION_GEO_RULES)")
    check.add_argument("--data-dir", type=Path,
                       help="where the geo history lives (default $VERIFICATION_DATA_DIR or "
                            "./data)")
    check.add_argument("--no-record", action="store_true",
                       help="check against the history without adding this session to it")
    check.set_defaults(handler=geo_check)


def _read_geo(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InvalidInputError(f"geo {path}: cannot read ({err.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InvalidInputError(f"geo {path}: not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise InvalidInputError(f"geo {path}: must be a JSON object")
    return value


def _format_details(details: dict[str, Any]) -> str:
    parts = []
    for key, value in details.items():
        if value is None or value == [] or value == {}:
            continue
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
        parts.append(f"{key}={text}")
    return " ".join(parts)


def _print_text(report: dict[str, Any]) -> None:
    out = sys.stdout
    checks = "  ".join(f"{k}: {v}" for k, v in report["checks"].items())
    out.write(f"geo outcome: {report['outcome']}   ({checks}; session {report['session_id']}, "
              f"{report['latency_ms']:.2f} ms)\n")
    if report["reasons"]:
        out.write("reasons:\n")
        for reason in report["reasons"]:
            out.write(f"  - [{reason['check']}] {reason['code']}: {reason['message']}\n")
    out.write("evidence:\n")
    for item in report["evidence"]:
        out.write(f"  [{item['check']}] {item['outcome']:<12} {item['code']}: "
                  f"{item['summary']}\n")
        details = _format_details(item["details"])
        if details:
            out.write(f"      {details}\n")


def geo_check(args: argparse.Namespace) -> int:
    from verification.cli.output import print_json
    from verification.geo.checker import GeoChecker
    from verification.geo.config import GeoConfig

    raw = _read_geo(args.geo_json)  # bad JSON fails before any database loads
    config = GeoConfig.from_env(city_db=args.city_db, asn_db=args.asn_db, anon_db=args.anon_db,
                                poi_file=args.poi_file, data_dir=args.data_dir,
                                rules_file=args.rules)
    checker = GeoChecker.from_config(config)
    try:
        report = checker.check(raw, record=not args.no_record).to_json()
    finally:
        checker.close()
    if args.json:
        print_json(report)
    else:
        _print_text(report)
    return 0
