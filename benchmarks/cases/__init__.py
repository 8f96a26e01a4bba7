"""Benchmark cases: each submodule maps model names to factories of one end-to-end call.

A factory takes ``(registry, tests_data_dir)`` and returns a zero-argument callable that runs the
model's adapter once on real media (pre-processing, inference and post-processing included).
``BATCH_CASES`` factories also take a batch size, for models with a dynamic batch dimension.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

Case = Callable[[Any, Path], Callable[[], object]]
BatchCase = Callable[[Any, Path, int], Callable[[], object]]


def collect() -> tuple[dict[str, Case], dict[str, BatchCase]]:
    cases: dict[str, Case] = {}
    batch_cases: dict[str, BatchCase] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        cases.update(getattr(module, "CASES", {}))
        batch_cases.update(getattr(module, "BATCH_CASES", {}))
    return cases, batch_cases
