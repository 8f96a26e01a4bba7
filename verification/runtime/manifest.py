"""The model manifest: one TOML file that is the truth about every model the server runs.

An ML engineer swaps a model by editing one entry (file, sha256, adapter). The adapter is named
explicitly and never guessed from tensor shapes. Reading the manifest is cheap and has no side
effects; loading a model (hash check, session creation) happens in :mod:`.registry`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from verification.errors import ManifestError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODELS_DIR = REPO_ROOT / "models"


def default_manifest_path() -> Path:
    """``$VERIFICATION_MODELS_DIR/manifest.toml``, else the repository's ``models/manifest.toml``."""
    models_dir = os.environ.get("VERIFICATION_MODELS_DIR")
    return (Path(models_dir) if models_dir else DEFAULT_MODELS_DIR) / "manifest.toml"


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str
    shape: tuple[int | str, ...]


@dataclass(frozen=True)
class ModelSource:
    registry: str
    package: str
    path: str
    sha256: str = ""


@dataclass(frozen=True)
class GoldenSpec:
    """Inputs and the original runtime's outputs recorded at conversion time."""

    file: Path
    atol: float


@dataclass(frozen=True)
class ModelSpec:
    name: str
    file: Path
    sha256: str
    bytes: int
    task: str
    adapter: str
    description: str
    preprocessing: str
    licence: str
    licence_note: str
    weights_dtype: str
    dynamic_batch: bool
    providers: tuple[str, ...]
    converter: str
    reference_runtime: str
    max_abs_diff: float
    source: ModelSource
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    golden: GoldenSpec | None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description (what ``models list --json`` prints)."""
        return {
            "name": self.name,
            "task": self.task,
            "file": str(self.file),
            "bytes": self.bytes,
            "sha256": self.sha256,
            "adapter": self.adapter,
            "licence": self.licence,
            "licence_note": self.licence_note,
            "source": {
                "registry": self.source.registry,
                "package": self.source.package,
                "path": self.source.path,
            },
            "weights_dtype": self.weights_dtype,
            "converter": self.converter,
            "reference_runtime": self.reference_runtime,
            "max_abs_diff": self.max_abs_diff,
            "inputs": [{"name": t.name, "dtype": t.dtype, "shape": list(t.shape)} for t in self.inputs],
            "outputs": [{"name": t.name, "dtype": t.dtype, "shape": list(t.shape)} for t in self.outputs],
        }


@dataclass(frozen=True)
class Manifest:
    path: Path
    models: Mapping[str, ModelSpec]

    def __getitem__(self, name: str) -> ModelSpec:
        return self.models[name]

    def names(self) -> list[str]:
        return sorted(self.models)


def _tensors(raw: Any, where: str) -> tuple[TensorSpec, ...]:
    if not isinstance(raw, list):
        raise ManifestError(f"{where}: expected a list of tensors")
    return tuple(
        TensorSpec(name=str(t["name"]), dtype=str(t.get("dtype", "float32")),
                   shape=tuple(t.get("shape", ())))
        for t in raw
    )


_REQUIRED = ("file", "sha256", "task", "adapter")


def _spec(name: str, raw: Mapping[str, Any], base: Path, repo_root: Path) -> ModelSpec:
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise ManifestError(f"model {name!r} in the manifest lacks {', '.join(missing)}")
    src = raw.get("source", {})
    golden_raw = raw.get("golden")
    golden = None
    if golden_raw:
        golden_file = Path(golden_raw["file"])
        if not golden_file.is_absolute():
            golden_file = repo_root / golden_file
        golden = GoldenSpec(file=golden_file, atol=float(golden_raw.get("atol", 1e-4)))
    file = Path(raw["file"])
    return ModelSpec(
        name=name,
        file=file if file.is_absolute() else base / file,
        sha256=str(raw["sha256"]).lower(),
        bytes=int(raw.get("bytes", 0)),
        task=str(raw["task"]),
        adapter=str(raw["adapter"]),
        description=str(raw.get("description", "")),
        preprocessing=str(raw.get("preprocessing", "")),
        licence=str(raw.get("licence", "unknown")),
        licence_note=str(raw.get("licence_note", "")),
        weights_dtype=str(raw.get("weights_dtype", "float32")),
        dynamic_batch=bool(raw.get("dynamic_batch", False)),
        providers=tuple(raw.get("providers", ("CPUExecutionProvider",))),
        converter=str(raw.get("converter", "")),
        reference_runtime=str(raw.get("reference_runtime", "")),
        max_abs_diff=float(raw.get("max_abs_diff", float("nan"))),
        source=ModelSource(registry=str(src.get("registry", "")), package=str(src.get("package", "")),
                           path=str(src.get("path", "")), sha256=str(src.get("sha256", ""))),
        inputs=_tensors(raw.get("inputs", []), f"{name}.inputs"),
        outputs=_tensors(raw.get("outputs", []), f"{name}.outputs"),
        golden=golden,
        extra=MappingProxyType(dict(raw.get("extra", {}))),
    )


def load_manifest(path: Path | None = None) -> Manifest:
    """Parse the manifest; model paths are relative to the manifest's folder."""
    path = Path(path) if path else default_manifest_path()
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ManifestError(f"model manifest not found: {path}") from None
    except tomllib.TOMLDecodeError as err:
        raise ManifestError(f"model manifest {path} is not valid TOML: {err}") from None
    models_raw = raw.get("models", {})
    if not isinstance(models_raw, dict):
        raise ManifestError(f"model manifest {path}: [models] must be a table")
    repo_root = path.resolve().parent.parent
    models = {name: _spec(name, entry, path.resolve().parent, repo_root)
              for name, entry in models_raw.items()}
    return Manifest(path=path, models=MappingProxyType(models))
