"""The pairs CSV shared by every ``... compare --pairs PAIRS.csv`` command (face, voice, scene).

One reader keeps the contract identical across commands: a header row naming columns ``a`` and
``b`` (other columns ignored, BOM tolerated), one pair per row, and relative paths resolved as
written or, when missing, beside the CSV file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from verification.errors import InvalidInputError, UnreadableMediaError


@dataclass(frozen=True)
class PairRow:
    line: int
    a: str
    b: str

    @property
    def complete(self) -> bool:
        return bool(self.a and self.b)


def read_pairs(path: Path) -> Iterator[PairRow]:
    """Rows of the pairs CSV; a malformed file is one clear error before any pair runs."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as err:
        raise UnreadableMediaError(f"{path}: cannot read ({err.strerror})") from None
    with handle:
        try:
            reader = csv.DictReader(handle)
            fields = [(f or "").strip() for f in (reader.fieldnames or [])]
            if "a" not in fields or "b" not in fields:
                raise InvalidInputError(f"{path}: the CSV needs a header row with columns a,b "
                                        f"(found: {', '.join(fields) or 'nothing'})")
            reader.fieldnames = fields
            for row in reader:
                yield PairRow(reader.line_num, (row.get("a") or "").strip(),
                              (row.get("b") or "").strip())
        except (csv.Error, UnicodeDecodeError) as err:
            raise InvalidInputError(f"{path}: not a readable CSV ({err})") from None


def resolve_pair_path(name: str, pairs_file: Path) -> Path:
    """A path as written, or - when relative and missing - relative to the pairs file."""
    path = Path(name)
    if not path.is_absolute() and not path.exists():
        beside = pairs_file.parent / path
        if beside.exists():
            return beside
    return path
