"""Search time of the background-fingerprint index at 10^4 and 10^5 stored interviews.

    python -m benchmarks.bench_scene_index                      # 10^4 and 10^5 rows
    python -m benchmarks.bench_scene_index --sizes 10000 --write benchmarks/results

How the index is filled: there are only 11 scene photos, so 10^5 *distinct* real places cannot
be made. Every row is built from real fingerprints (composites of the 21 places with London Set
people, about 41 KB of local features each):

* ``realistic`` (default): a few (3) faithful copies of each real fingerprint - the same place
  stored again - and, for all other rows, *other places* recombined from real parts: keypoint
  positions of one fingerprint with descriptors drawn from the others, and a global
  descriptor blended from two real ones plus Gaussian noise. A query then verifies a few true
  candidates and many false ones, as in production, where most candidates are other rooms.
* ``copies``: every row is a faithful copy, so all 24 candidates of every query are the same
  place and each needs a full RANSAC: the worst case of the verification stage.

Search cost depends on the row count (one matrix-vector product over all rows) and on the size
and kind of the verified candidates, not on whether the places are real, so the timings are
representative; *retrieval quality* at that scale is not measured here (see
``benchmarks/eval_scene.py`` for quality on the real composites).

Timed per query: refresh + cosine over all rows + top-k + reading k blobs + geometric
verification of k candidates (k = 24), single-threaded BLAS (one executor worker), page cache
warm (the index file fits in memory). Both the wall-clock latency and the CPU time of the
searching thread are reported: on a shared machine the wall clock mostly measures the other
processes (the 1-minute load average is printed next to it); the thread's CPU time is what one
search costs when it has a core to itself. Also reported: the time to open the index cold (a
restart: all global descriptors loaded from SQLite) and the on-disk size.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.scene_composites import (  # noqa: E402
    LONDON_DIR,
    SCENE_GROUPS,
    SCENES_DIR,
    VIEWS,
    Camera,
    composite,
    cut_person,
    london_ids,
    read_rgb,
    view_of,
)
from verification.runtime import ModelRegistry  # noqa: E402
from verification.scene.descriptor import DESCRIPTOR_DIM  # noqa: E402
from verification.scene.features import LocalFeatures  # noqa: E402
from verification.scene.fingerprint import BackgroundFingerprint, Fingerprinter  # noqa: E402
from verification.scene.index import INDEX_FILE, IndexEntry, SceneIndex  # noqa: E402
from verification.scene.masking import ApplicantMasker  # noqa: E402

BATCH = 2000


def real_fingerprints(people_per_place: int, seed: int) -> tuple[list[BackgroundFingerprint],
                                                                 list[BackgroundFingerprint]]:
    """(pool for filling, queries): composites of every place with different people."""
    registry = ModelRegistry.from_manifest(provider="cpu")
    cutter = registry.adapter("selfie_segmentation")
    fingerprinter = Fingerprinter(ApplicantMasker(registry.adapter("person_segmentation")))
    ids = london_ids()
    rng = np.random.default_rng(seed)
    pool, queries = [], []
    for files in SCENE_GROUPS.values():
        image = read_rgb(SCENES_DIR / files[0])
        for view in VIEWS:
            for k in range(people_per_place + 1):
                pid = ids[int(rng.integers(len(ids)))]
                person = cut_person(read_rgb(LONDON_DIR / f"{pid}_neutral.jpg"), cutter, pid)
                frame = composite(view_of(image, view), person, Camera.random(rng),
                                  float(rng.uniform(0.6, 0.85)), float(rng.uniform(0.35, 0.65)))
                (queries if k == 0 else pool).append(fingerprinter.from_image(frame))
    return pool, queries


TRUE_COPIES = 3


def other_place(pool: list[BackgroundFingerprint], bank: np.ndarray,
                rng: np.random.Generator) -> LocalFeatures:
    """Local features of a place that is none of the real ones: real keypoint positions with
    real descriptors drawn from all fingerprints (geometry and appearance do not agree)."""
    base = pool[int(rng.integers(len(pool)))].local
    return replace(base, descriptors=bank[rng.integers(len(bank), size=len(base))])


def fill(index: SceneIndex, pool: list[BackgroundFingerprint], start: int, stop: int,
         rng: np.random.Generator, noise: float, mode: str) -> None:
    bank = np.concatenate([fp.local.descriptors for fp in pool])
    for first in range(start, stop, BATCH):
        entries = []
        for row in range(first, min(stop, first + BATCH)):
            source = pool[row % len(pool)]
            copy = mode == "copies" or row < TRUE_COPIES * len(pool)
            local = source.local if copy else other_place(pool, bank, rng)
            descriptor = source.descriptor + rng.normal(0.0, noise, source.descriptor.shape)
            if not copy:  # another place looks like a blend of real ones, not like one of them
                other = pool[int(rng.integers(len(pool)))].descriptor
                descriptor = descriptor + other + rng.normal(0.0, 2 * noise, other.shape)
            descriptor = (descriptor / np.linalg.norm(descriptor)).astype(np.float32)
            face = rng.normal(0.0, 0.1, 128).astype(np.float32)
            fingerprint = replace(source, descriptor=descriptor, local=local)
            entries.append(IndexEntry(f"bench-{row}", fingerprint, face, created_at=1.7e9 + row))
        index.add(entries)


def time_queries(index: SceneIndex, queries: list[BackgroundFingerprint],
                 repeat: int) -> dict[str, float]:
    index.search(queries[0])  # warm-up (page cache, first refresh)
    latencies, cpu, hits = [], [], []
    for _ in range(repeat):
        for query in queries:
            started, started_cpu = time.perf_counter(), time.thread_time()
            result = index.search(query)
            cpu.append((time.thread_time() - started_cpu) * 1000.0)
            latencies.append((time.perf_counter() - started) * 1000.0)
            hits.append(len(result.hits))
    wall, used = np.array(latencies), np.array(cpu)
    return {"queries": len(wall), "p50_ms": round(float(np.percentile(wall, 50)), 1),
            "p95_ms": round(float(np.percentile(wall, 95)), 1),
            "p99_ms": round(float(np.percentile(wall, 99)), 1),
            "max_ms": round(float(wall.max()), 1),
            "cpu_p50_ms": round(float(np.percentile(used, 50)), 1),
            "cpu_p95_ms": round(float(np.percentile(used, 95)), 1),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "mean_verified_hits": round(float(np.mean(hits)), 2),
            "queries_with_a_hit": round(float(np.mean(np.array(hits) > 0)), 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--people-per-place", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2, help="passes over the query set")
    parser.add_argument("--noise", type=float, default=0.02,
                        help="std of the noise added to each copy's global descriptor")
    parser.add_argument("--mode", choices=["realistic", "copies"], default="realistic")
    parser.add_argument("--dir", type=Path, help="index directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the filled index")
    parser.add_argument("--write", type=Path, help="write scene_index.json into this directory")
    args = parser.parse_args()

    started = time.perf_counter()
    pool, queries = real_fingerprints(args.people_per_place, seed=11)
    print(f"{len(pool)} real fingerprints to fill from, {len(queries)} real queries "
          f"({time.perf_counter() - started:.0f} s)")
    directory = args.dir or Path(tempfile.mkdtemp(prefix="scene_index_bench_"))
    rng = np.random.default_rng(5)
    rows = []
    try:
        index = SceneIndex.open(directory)
        filled = 0
        for size in sorted(args.sizes):
            t0 = time.perf_counter()
            fill(index, pool, filled, size, rng, args.noise, args.mode)
            filled = size
            fill_s = time.perf_counter() - t0
            index.close()
            t0 = time.perf_counter()
            index = SceneIndex.open(directory)  # a restart: descriptors reloaded from disk
            count = len(index)
            open_s = time.perf_counter() - t0
            timing = time_queries(index, queries, args.repeat)
            disk = (directory / INDEX_FILE).stat().st_size
            row = {"mode": args.mode, "rows": count, "fill_s": round(fill_s, 1),
                   "open_s": round(open_s, 2), "disk_mb": round(disk / 1e6, 1),
                   "descriptor_matrix_mb": round(count * DESCRIPTOR_DIM * 4 / 1e6, 1),
                   **timing}
            rows.append(row)
            print(json.dumps(row))
        index.close()
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)
    report = {"machine": {"cpu": platform.processor() or platform.machine(),
                          "cores": os.cpu_count(), "blas_threads": 1,
                          "load_average": os.getloadavg()},
              "candidates_verified": 24, "mode": args.mode, "rows": rows,
              "target": "p95 <= 200 ms at 10^5 rows"}
    if args.write:
        args.write.mkdir(parents=True, exist_ok=True)
        (args.write / f"scene_index_{args.mode}.json").write_text(
            json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
