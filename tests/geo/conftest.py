"""Geo test fixtures: a checker factory with every database configured and a fresh history
per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.geo.helpers import full_config
from verification.geo.checker import GeoChecker


@pytest.fixture()
def make_checker(tmp_path: Path) -> Iterator[Callable[..., GeoChecker]]:
    """``make_checker(**config_overrides)``: every database configured, history in tmp_path."""
    made: list[GeoChecker] = []

    def make(**overrides: Any) -> GeoChecker:
        overrides.setdefault("data_dir", tmp_path / "data")
        checker = GeoChecker.from_config(full_config(**overrides))
        made.append(checker)
        return checker

    yield make
    for checker in made:
        checker.close()


@pytest.fixture()
def checker(make_checker) -> GeoChecker:
    return make_checker()
