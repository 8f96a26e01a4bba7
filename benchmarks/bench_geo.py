"""Timing of the geo stage per session update (target: <= 5 ms).

    python -m benchmarks.bench_geo [--stored 10000 100000] [--updates 2000] [--json]

A session update is one :meth:`GeoChecker.check` call with everything configured (MaxMind City,
ASN and Anonymous-IP test databases, the sample POI file, the China admin index, the SQLite
history) and recording on: parse, ten checks, the outcome, and the insert. The history is first
filled with N synthetic sessions spread over Changchun (a dense city, so cluster and travel
queries return real rows), then updates from new applicants at random points in the same
city - plus a returning applicant every tenth update - are timed. Reports p50 / p95 / p99 /
max in milliseconds (wall clock, and CPU time of the calling thread, which a busy
machine does not inflate) with the machine named. The one-off start-up (loading the databases and
the time-zone polygons) is reported separately.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "geo"
CENTRE = (43.8700, 125.3200)  # Changchun


def _point(rng: random.Random, spread_deg: float = 0.08) -> tuple[float, float]:
    return (CENTRE[0] + rng.uniform(-spread_deg, spread_deg),
            CENTRE[1] + rng.uniform(-spread_deg, spread_deg))


def _fill(checker, n: int, rng: random.Random, now: float) -> None:
    from verification.geo.checks.history import cell_of
    from verification.geo.store import StoredSession

    store = checker.resources.store
    rows = []
    for i in range(n):
        lat, lon = _point(rng)
        rows.append(StoredSession(f"hist-{i}", f"app-{i}", f"dev-{i}",
                                  now - rng.uniform(0, 60) * 86400, lat, lon,
                                  rng.uniform(5, 60), cell_of(lat, lon, 9), "175.16.199.1"))
        if len(rows) == 5000:
            store.record_many(rows)
            rows = []
    if rows:
        store.record_many(rows)


def _update(rng: random.Random, i: int, now: float, stored: int) -> dict:
    lat, lon = _point(rng)
    returning = i % 10 == 0 and stored > 0
    applicant = f"app-{rng.randrange(stored)}" if returning else f"new-{i}"
    return {
        "session_id": f"bench-{i}", "applicant_id": applicant, "device_id": f"dev-{applicant}",
        "gps": {"lat": lat, "lon": lon, "accuracy_m": rng.uniform(5, 40)},
        "fixes": [{"lat": lat + rng.gauss(0, 2e-5), "lon": lon + rng.gauss(0, 2e-5),
                   "accuracy_m": rng.uniform(5, 40), "time": now - k} for k in (30, 20, 10)],
        "ip": "175.16.199.1", "timezone": "Asia/Shanghai", "locale": "zh-CN",
        "declared": {"address": "吉林省长春市朝阳区人民大街1号", "lat": lat + 0.001,
                     "lon": lon + 0.001, "type": "restaurant"},
        "time": now,
    }


def bench(stored: int, updates: int, seed: int = 7) -> dict:
    from verification.geo.checker import GeoChecker
    from verification.geo.config import GeoConfig

    rng = random.Random(seed)
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        checker = GeoChecker.from_config(GeoConfig(
            city_db=DATA / "GeoIP2-City-Test.mmdb", asn_db=DATA / "GeoLite2-ASN-Test.mmdb",
            anon_db=DATA / "GeoIP2-Anonymous-IP-Test.mmdb",
            poi_file=DATA / "poi_sample.geojson", data_dir=Path(tmp)))
        startup_ms = (time.perf_counter() - started) * 1000
        _fill(checker, stored, rng, now)
        for i in range(20):  # warm-up: first zoneinfo loads, SQLite page cache
            checker.check(_update(rng, -i - 1, now, stored))
        times, cpu = [], []
        outcomes: dict[str, int] = {}
        for i in range(updates):
            geo = _update(rng, i, now, stored)
            t0, c0 = time.perf_counter(), time.thread_time()
            report = checker.check(geo)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.thread_time() - c0) * 1000)
            outcomes[report.outcome.value] = outcomes.get(report.outcome.value, 0) + 1
        checker.close()
    times.sort()
    cpu.sort()
    return {
        "stored_sessions": stored, "updates": updates,
        "p50_ms": round(statistics.median(times), 3),
        "p95_ms": round(times[int(0.95 * len(times)) - 1], 3),
        "p99_ms": round(times[int(0.99 * len(times)) - 1], 3),
        "max_ms": round(times[-1], 3),
        # CPU time of the calling thread: what the stage costs, without the waits a busy
        # machine adds to wall-clock time.
        "cpu_p50_ms": round(statistics.median(cpu), 3),
        "cpu_p95_ms": round(cpu[int(0.95 * len(cpu)) - 1], 3),
        "startup_ms": round(startup_ms, 1), "outcomes": outcomes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="geo stage latency per session update")
    parser.add_argument("--stored", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    machine = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
               "python": platform.python_version()}
    rows = [bench(n, args.updates) for n in args.stored]
    with open(REPO / "benchmarks" / "results" / "geo_bench.json", "w") as handle:
        json.dump({"machine": machine, "rows": rows}, handle, indent=2)
    if args.json:
        print(json.dumps({"machine": machine, "rows": rows}, indent=2))
    else:
        print(f"geo stage per session update ({machine['cores']} cores, "
              f"Python {machine['python']}; single thread, recording on)")
        print(f"{'stored':>8} {'updates':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
              f"{'max ms':>8} {'cpu p50':>8} {'cpu p95':>8} {'startup ms':>11}  outcomes")
        for r in rows:
            print(f"{r['stored_sessions']:>8} {r['updates']:>8} {r['p50_ms']:>8.3f} "
                  f"{r['p95_ms']:>8.3f} {r['p99_ms']:>8.3f} {r['max_ms']:>8.3f} "
                  f"{r['cpu_p50_ms']:>8.3f} {r['cpu_p95_ms']:>8.3f} "
                  f"{r['startup_ms']:>11.1f}  {r['outcomes']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
