"""File integrity: a model runs only if its bytes are exactly the ones the manifest names."""

from __future__ import annotations

import hashlib
from pathlib import Path

from verification.errors import ModelFileMissingError, ModelIntegrityError


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(name: str, path: Path, expected_sha256: str) -> None:
    """Raise one clear error naming the file and the expected hash; never run a mismatched file."""
    if not path.is_file():
        raise ModelFileMissingError(
            f"model {name!r}: file {path} is missing (expected sha256 {expected_sha256})"
        )
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise ModelIntegrityError(
            f"model {name!r}: file {path} has sha256 {actual}, expected {expected_sha256} "
            "(truncated, altered or replaced; restore it or update the manifest entry)"
        )
