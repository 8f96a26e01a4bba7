"""``verification bench models``: the model-latency benchmark from the command line."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="benchmarks")
    bsub = parser.add_subparsers(dest="bench_command", required=True, metavar="WHAT")
    models = bsub.add_parser("models", help="per-model latency p50/p95/p99 on real media")
    models.add_argument("--provider", choices=["cpu", "cuda"], default="cpu")
    models.add_argument("--threads", type=int, nargs="+", default=[1])
    models.add_argument("--repeat", type=int, default=20)
    models.add_argument("--models", nargs="*", help="only these models (default: all)")
    models.add_argument("--write", type=Path, help="also write models.json/.md/.png here")
    models.add_argument("--json", action="store_true")
    models.set_defaults(handler=bench_models)


def bench_models(args: argparse.Namespace) -> int:
    from benchmarks.models_latency import Machine, markdown_table, run_benchmark, write_results
    from verification.cli.output import print_json

    def report(label: str) -> None:
        if sys.stderr.isatty():
            print(f"\rtiming {label:<48}", end="", file=sys.stderr, flush=True)

    rows = run_benchmark(args.provider, args.threads, args.repeat, models=args.models,
                         progress=report)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    machine = Machine.describe()
    if args.write:
        write_results(rows, machine, None, args.write)
    if args.json:
        print_json([asdict(r) for r in rows])
    else:
        print(markdown_table(rows, machine, None))
    return 0
