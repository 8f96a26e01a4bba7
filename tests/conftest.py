"""Shared fixtures: paths to committed test media and a tiny real ONNX graph for unit tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


def write_tiny_model(path: Path) -> None:
    """y = 2 * x + 1 over a (N, 3) float input: small, real ONNX for runtime tests."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    two = helper.make_tensor("two", TensorProto.FLOAT, [1], [2.0])
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["t"]), helper.make_node("Add", ["t", "one"], ["y"])],
        "tiny", [x], [y], initializer=[two, one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.fixture()
def tiny_manifest(tmp_path: Path) -> Path:
    """A manifest with one tiny model, its golden data and correct hash."""
    from verification.runtime.integrity import sha256_file

    models = tmp_path / "models"
    (models / "onnx").mkdir(parents=True)
    onnx_path = models / "onnx" / "tiny.onnx"
    write_tiny_model(onnx_path)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    golden = tmp_path / "tiny_golden.npz"
    np.savez(golden, in__x=x, out__y=2 * x + 1)
    (models / "manifest.toml").write_text(f"""
manifest_version = 1
[models.tiny]
file = "onnx/tiny.onnx"
sha256 = "{sha256_file(onnx_path)}"
bytes = {onnx_path.stat().st_size}
task = "test"
adapter = "tests.conftest:TinyAdapter"
licence = "Apache-2.0"
dynamic_batch = true
[models.tiny.source]
registry = "none"
package = "tests"
path = "conftest.py"
[models.tiny.golden]
file = "{golden}"
atol = 1e-6
""")
    return models / "manifest.toml"


class TinyAdapter:
    def __init__(self, model) -> None:
        self.model = model

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.model.run({"x": x})["y"]
