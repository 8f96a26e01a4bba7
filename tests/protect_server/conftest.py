"""Fixtures shared with the background-check tests (a real room photo for the scene index)."""

from tests.scene.conftest import desk  # noqa: F401  (a pytest fixture, used by name)
