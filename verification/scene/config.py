"""Settings of the background check, from the environment (``VERIFICATION_SCENE_*``).

Why the cross-interview index is opt-in for ``verification analyze``: analysing a file must not
silently write into a shared fraud-ring index (tests, experiments, re-runs of one recording
would all become "earlier interviews"). The server keeps it on by default, under its data dir.

* ``VERIFICATION_SCENE_INDEX``: directory of the background-fingerprint index; ``off`` disables
  it. Unset: off for ``analyze``, ``<data dir>/scene_index`` for the server.
* ``VERIFICATION_SCENE_MAPPING``: a TOML or JSON file replacing the default business-type
  mapping (``verification.scene.profile``).
* ``VERIFICATION_SCENE_INTERVAL_S``: seconds between routine background analyses (default 1).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from verification.errors import InvalidInputError

ENV_INDEX = "VERIFICATION_SCENE_INDEX"
ENV_MAPPING = "VERIFICATION_SCENE_MAPPING"
ENV_INTERVAL = "VERIFICATION_SCENE_INTERVAL_S"
INDEX_SUBDIR = "scene_index"
_OFF = {"", "off", "none", "0", "false", "no"}


@dataclass(frozen=True)
class SceneSettings:
    index_dir: Path | None = None
    mapping_path: Path | None = None
    sample_interval_s: float = 1.0
    segmentation_model: str = "person_segmentation"
    max_keyframes: int = 3
    candidates: int = 24
    template_sealer: Any = None  # encrypts face descriptors (verification.protect.media)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None,
                 data_dir: Path | None = None) -> SceneSettings:
        """Settings from ``env`` (default ``os.environ``); ``data_dir`` turns the index on."""
        env = os.environ if env is None else env
        index_dir: Path | None = data_dir / INDEX_SUBDIR if data_dir is not None else None
        if ENV_INDEX in env:
            value = env[ENV_INDEX].strip()
            index_dir = None if value.lower() in _OFF else Path(value)
        mapping = env.get(ENV_MAPPING, "").strip()
        interval = 1.0
        if env.get(ENV_INTERVAL, "").strip():
            try:
                interval = float(env[ENV_INTERVAL])
            except ValueError:
                raise InvalidInputError(f"{ENV_INTERVAL} must be a number of seconds, got "
                                        f"{env[ENV_INTERVAL]!r}") from None
            if not 0.05 <= interval <= 60.0:
                raise InvalidInputError(f"{ENV_INTERVAL} must be within 0.05-60 s, got {interval}")
        return cls(index_dir=index_dir, mapping_path=Path(mapping) if mapping else None,
                   sample_interval_s=interval)

    def with_index(self, index_dir: Path | None) -> SceneSettings:
        return replace(self, index_dir=index_dir)
