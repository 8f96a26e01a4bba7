"""Golden-output checks: the ONNX file still computes what the original runtime computed.

Converters record real inputs and the original runtime's outputs (``in__<name>`` and
``out__<name>`` arrays in an ``.npz``); here the ONNX model is run on those inputs and compared
within the manifest's tolerance. A model that loads but computes something else fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from verification.runtime.model import OnnxModel


@dataclass(frozen=True)
class GoldenCheck:
    model: str
    ok: bool
    max_abs_diff: float
    atol: float
    detail: str


def load_golden(path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    with np.load(path) as data:
        inputs = {k[4:]: data[k] for k in data.files if k.startswith("in__")}
        outputs = {k[5:]: data[k] for k in data.files if k.startswith("out__")}
    return inputs, outputs


def check_golden(model: OnnxModel) -> GoldenCheck:
    spec = model.spec
    if spec.golden is None:
        return GoldenCheck(spec.name, False, float("nan"), float("nan"), "no golden data in manifest")
    if not spec.golden.file.is_file():
        return GoldenCheck(spec.name, False, float("nan"), spec.golden.atol,
                           f"golden file missing: {spec.golden.file}")
    inputs, expected = load_golden(spec.golden.file)
    result = model.run(inputs)
    worst = 0.0
    for name, want in expected.items():
        if name not in result.outputs:
            return GoldenCheck(spec.name, False, float("nan"), spec.golden.atol,
                               f"golden output {name!r} is not an output of the model")
        got = result.outputs[name].astype(np.float64)
        if got.shape != want.shape:
            return GoldenCheck(spec.name, False, float("nan"), spec.golden.atol,
                               f"output {name!r} has shape {got.shape}, golden {want.shape}")
        worst = max(worst, float(np.max(np.abs(got - want.astype(np.float64)))))
    ok = worst <= spec.golden.atol
    detail = "ok" if ok else f"max abs diff {worst:.3g} exceeds atol {spec.golden.atol:.3g}"
    return GoldenCheck(spec.name, ok, worst, spec.golden.atol, detail)
