"""``verification face compare``: the face-match score of two images, or of a CSV of pairs.

Contract (an external evaluation relies on it):

* ``verification face compare IMG_A IMG_B [--json]``
* ``verification face compare --pairs PAIRS.csv`` (header ``a,b``; file paths) prints one JSON
  object per line: ``{"a": ..., "b": ..., "similarity": <float>, "match": <bool>}`` or
  ``{"a": ..., "b": ..., "error": "no_face" | "unreadable" | "invalid_row"}``; a bad pair never
  stops the batch, and each distinct file is embedded once per run.

``similarity`` is the cosine of the cohort-whitened, flip-averaged dlib descriptors, a monotone
function of their embedding distance (higher = more alike); ``match`` applies the calibrated
threshold (``verification.face.match``). Relative paths in the CSV are tried as given, then
relative to the CSV's folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from verification.cli.pairs import read_pairs, resolve_pair_path
from verification.errors import InvalidInputError, UnreadableMediaError, VerificationError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("face", help="face tools: compare two faces")
    fsub = parser.add_subparsers(dest="face_command", required=True, metavar="ACTION")
    cmp_ = fsub.add_parser("compare", help="face-match similarity of two images or a CSV of pairs",
                           description=__doc__)
    cmp_.add_argument("images", nargs="*", type=Path, metavar="IMG",
                      help="two image files (IMG_A IMG_B)")
    cmp_.add_argument("--pairs", type=Path,
                      help="CSV with header a,b: one pair of image paths a row")
    cmp_.add_argument("--json", action="store_true", help="print the result as one JSON object")
    cmp_.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="cpu")
    cmp_.set_defaults(handler=compare)


class _EmbeddingCache:
    """Each file is decoded and embedded once per run; failures are remembered as codes."""

    def __init__(self, matcher) -> None:  # noqa: ANN001
        self._matcher = matcher
        self._cache: dict[str, object] = {}

    def get(self, path: Path):  # noqa: ANN202 - FaceEmbedding | str (error code)
        key = str(path.resolve()) if path.exists() else str(path)
        if key not in self._cache:
            try:
                self._cache[key] = self._matcher.encode_file(path).embedding
            except VerificationError as err:
                self._cache[key] = err.code
        return self._cache[key]


def _result(cache: _EmbeddingCache, matcher, a: str, b: str, path_a: Path, path_b: Path) -> dict:  # noqa: ANN001
    first, second = cache.get(path_a), cache.get(path_b)
    for item in (first, second):
        if isinstance(item, str):
            return {"a": a, "b": b, "error": item}
    result = matcher.compare(first, second)
    return {"a": a, "b": b, "similarity": round(result.similarity, 6), "match": result.match}


def compare(args: argparse.Namespace) -> int:
    from verification.cli.output import print_json
    from verification.face.match import FaceMatcher
    from verification.runtime import ModelRegistry

    if args.pairs is not None and args.images:
        raise InvalidInputError("give either two images or --pairs PAIRS.csv, not both")
    if args.pairs is None and len(args.images) != 2:
        raise InvalidInputError("face compare needs two images (IMG_A IMG_B) or --pairs PAIRS.csv")
    if args.pairs is not None and not args.pairs.is_file():
        raise UnreadableMediaError(f"{args.pairs}: no such file")

    registry = ModelRegistry.from_manifest(provider=args.provider)
    matcher = FaceMatcher.from_registry(registry)
    cache = _EmbeddingCache(matcher)

    if args.pairs is not None:
        for row in read_pairs(args.pairs):
            if not row.complete:
                out = {"a": row.a or None, "b": row.b or None, "error": "invalid_row"}
            else:
                out = _result(cache, matcher, row.a, row.b, resolve_pair_path(row.a, args.pairs),
                              resolve_pair_path(row.b, args.pairs))
            sys.stdout.write(json.dumps(out) + "\n")
            sys.stdout.flush()
        return 0

    path_a, path_b = args.images
    out = _result(cache, matcher, str(path_a), str(path_b), path_a, path_b)
    if args.json:
        print_json(out)
        return 0 if "error" not in out else 2
    if "error" in out:
        failed = path_a if isinstance(cache.get(path_a), str) else path_b
        detail = {"no_face": "no face found", "unreadable": "not a readable image"}
        raise VerificationError(f"{failed}: {detail.get(out['error'], out['error'])}")
    verdict = "match" if out["match"] else "no match"
    print(f"similarity {out['similarity']:.4f}: {verdict} (threshold {matcher.threshold:.4f})")
    return 0
