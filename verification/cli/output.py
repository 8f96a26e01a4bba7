"""Small helpers shared by CLI commands: JSON output and progress bars on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterable[T]:
    """A progress bar on stderr, hidden when stderr is not a terminal (CI logs, pipes)."""
    return tqdm(items, desc=desc, total=total, file=sys.stderr, leave=False,
                disable=not sys.stderr.isatty())
