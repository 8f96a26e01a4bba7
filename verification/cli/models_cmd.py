"""``verification models list|verify``."""

from __future__ import annotations

import argparse
from pathlib import Path

from verification.cli.output import print_json, progress
from verification.errors import VerificationError
from verification.runtime import ModelRegistry, check_golden, load_manifest


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("models", help="list and verify the model zoo")
    parser.add_argument("--manifest", type=Path, default=None,
                        help="manifest path (default: $VERIFICATION_MODELS_DIR or models/)")
    msub = parser.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    lst = msub.add_parser("list", help="models with task, source and licence")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=list_models)
    ver = msub.add_parser("verify", help="hash + load + golden-output check of every model")
    ver.add_argument("--json", action="store_true")
    ver.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="cpu")
    ver.set_defaults(handler=verify_models)


def list_models(args: argparse.Namespace) -> int:
    manifest = load_manifest(args.manifest)
    specs = [manifest[name] for name in manifest.names()]
    if args.json:
        print_json([spec.summary() for spec in specs])
        return 0
    print(f"{'model':<22} {'task':<26} {'MB':>6}  {'licence':<14} source")
    for spec in specs:
        print(f"{spec.name:<22} {spec.task:<26} {spec.bytes / 1e6:>6.2f}  {spec.licence:<14} "
              f"{spec.source.registry}:{spec.source.package}")
    return 0


def verify_models(args: argparse.Namespace) -> int:
    registry = ModelRegistry.from_manifest(args.manifest, provider=args.provider, warm_up=False)
    rows = []
    for name in progress(registry.names(), desc="verifying models"):
        row = {"model": name, "ok": False, "provider": None, "max_abs_diff": None, "detail": ""}
        try:
            model = registry.load(name)
            row["provider"] = model.provider
            check = check_golden(model)
            row.update(ok=check.ok, max_abs_diff=check.max_abs_diff, atol=check.atol,
                       detail=check.detail)
        except VerificationError as err:
            row["detail"] = str(err)
        rows.append(row)
    failed = [r for r in rows if not r["ok"]]
    if args.json:
        print_json(rows)
    else:
        for r in rows:
            status = "ok  " if r["ok"] else "FAIL"
            diff = "" if r["max_abs_diff"] is None else f" diff {r['max_abs_diff']:.2g}"
            print(f"{status} {r['model']:<22}{diff} {'' if r['ok'] else r['detail']}")
        print(f"{len(rows) - len(failed)}/{len(rows)} models verified")
    return 1 if failed or not rows else 0
