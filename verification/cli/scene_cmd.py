"""``verification scene compare``: are two photos taken in the same place (applicant masked out)?

    verification scene compare IMG_A IMG_B [--json]
    verification scene compare --pairs PAIRS.csv        # CSV header: a,b

Output with ``--json`` or ``--pairs``: one JSON object per line,
``{"a", "b", "similarity", "same_place"}``, or ``{"a", "b", "error"}`` for a pair whose image
cannot be read - the batch goes on, and every file is read and fingerprinted once per run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from verification.errors import InvalidInputError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("scene", help="background checks on still images")
    ssub = parser.add_subparsers(dest="scene_command", required=True, metavar="ACTION")
    cmp = ssub.add_parser(
        "compare", help="same place? (similarity in [0, 1]; 0.5 = the decision threshold)",
        description="Mask the applicant out of both images and decide whether the backgrounds "
                    "show the same place (local features + RANSAC geometric verification).")
    cmp.add_argument("images", nargs="*", type=Path, metavar="IMG",
                     help="two images (IMG_A IMG_B)")
    cmp.add_argument("--pairs", type=Path, metavar="PAIRS.csv",
                     help="CSV with header a,b: one pair of image paths per row")
    cmp.add_argument("--json", action="store_true", help="print one JSON object per pair")
    cmp.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="cpu")
    cmp.set_defaults(handler=compare)


def _emit(result: dict) -> None:
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def compare(args: argparse.Namespace) -> int:
    if args.pairs is not None and args.images:
        raise InvalidInputError("give either two images or --pairs PAIRS.csv, not both")
    if args.pairs is None and len(args.images) != 2:
        raise InvalidInputError(f"expected two images (IMG_A IMG_B) or --pairs PAIRS.csv, got "
                                f"{len(args.images)} image(s)")
    from verification.cli.pairs import read_pairs, resolve_pair_path
    from verification.runtime import ModelRegistry
    from verification.scene.compare import PlaceComparer

    if args.pairs is not None:
        rows = read_pairs(args.pairs)
        first = next(rows, None)  # header and readability are checked before models load
        comparer = PlaceComparer.from_registry(ModelRegistry.from_manifest(provider=args.provider))
        total = failed = 0
        for row in ([first] if first is not None else []) + list(rows):
            total += 1
            if not row.a or not row.b:
                _emit({"a": row.a, "b": row.b, "error": f"line {row.line}: missing image path"})
                failed += 1
                continue
            result = comparer.compare(resolve_pair_path(row.a, args.pairs),
                                      resolve_pair_path(row.b, args.pairs), row.a, row.b)
            _emit(result.to_json())
            failed += result.error is not None
        print(f"{total} pairs ({failed} with errors), {comparer.files_processed} files read",
              file=sys.stderr)
        return 0

    comparer = PlaceComparer.from_registry(ModelRegistry.from_manifest(provider=args.provider))
    a, b = args.images
    result = comparer.compare(a, b)
    if result.error is not None:
        raise InvalidInputError(result.error)
    if args.json:
        _emit(result.to_json())
        return 0
    match = result.match
    verdict = "same place" if match.same_place else "different places"
    print(f"{verdict}: similarity {match.similarity:.3f} ({match.reason})")
    return 0
