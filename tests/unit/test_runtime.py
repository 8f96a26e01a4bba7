"""Runtime: manifest parsing, hash verification, providers, thread budget, golden checks."""

from __future__ import annotations

import numpy as np
import pytest

from verification.errors import (
    ManifestError,
    ModelFileMissingError,
    ModelIntegrityError,
    ModelNotFoundError,
    ProviderUnavailableError,
)
from verification.runtime import (
    ModelRegistry,
    ThreadBudget,
    available_providers,
    check_golden,
    load_manifest,
    resolve_providers,
)


def test_loads_runs_and_times(tiny_manifest):
    registry = ModelRegistry.from_manifest(tiny_manifest, provider="cpu")
    model = registry.load("tiny")
    result = model.run({"x": np.ones((4, 3), np.float32)})
    np.testing.assert_allclose(result["y"], 3.0)
    assert result.latency_ms > 0
    assert result.provider == "CPUExecutionProvider"
    assert registry.load("tiny") is model  # loaded once, shared


def test_adapter_named_by_manifest(tiny_manifest):
    registry = ModelRegistry.from_manifest(tiny_manifest, provider="cpu")
    adapter = registry.adapter("tiny")
    np.testing.assert_allclose(adapter(np.zeros((1, 3), np.float32)), 1.0)


def test_altered_file_is_refused_with_expected_hash(tiny_manifest):
    onnx_file = tiny_manifest.parent / "onnx" / "tiny.onnx"
    expected = load_manifest(tiny_manifest)["tiny"].sha256
    onnx_file.write_bytes(onnx_file.read_bytes()[:-10])  # truncated
    registry = ModelRegistry.from_manifest(tiny_manifest, provider="cpu")
    with pytest.raises(ModelIntegrityError) as err:
        registry.load("tiny")
    assert expected in str(err.value) and "tiny.onnx" in str(err.value)


def test_missing_file_names_file_and_hash(tiny_manifest):
    (tiny_manifest.parent / "onnx" / "tiny.onnx").unlink()
    with pytest.raises(ModelFileMissingError, match="tiny.onnx.*expected sha256"):
        ModelRegistry.from_manifest(tiny_manifest).load("tiny")


def test_unknown_model_and_bad_manifest(tiny_manifest, tmp_path):
    with pytest.raises(ModelNotFoundError):
        ModelRegistry.from_manifest(tiny_manifest).load("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text("[models.x]\nfile = 'a.onnx'\n")
    with pytest.raises(ManifestError, match="lacks"):
        load_manifest(bad)
    bad.write_text("not = [toml")
    with pytest.raises(ManifestError, match="not valid TOML"):
        load_manifest(bad)
    with pytest.raises(ManifestError, match="not found"):
        load_manifest(tmp_path / "absent.toml")


def test_golden_check_detects_wrong_outputs(tiny_manifest, tmp_path):
    registry = ModelRegistry.from_manifest(tiny_manifest, provider="cpu")
    assert check_golden(registry.load("tiny")).ok
    spec = registry.spec("tiny")
    x = np.ones((1, 3), np.float32)
    np.savez(spec.golden.file, in__x=x, out__y=x * 5)
    check = check_golden(ModelRegistry.from_manifest(tiny_manifest).load("tiny"))
    assert not check.ok and "exceeds" in check.detail


def test_provider_resolution():
    assert resolve_providers("cpu") == ["CPUExecutionProvider"]
    assert resolve_providers("auto")[-1] == "CPUExecutionProvider"
    if "CUDAExecutionProvider" not in available_providers():
        with pytest.raises(ProviderUnavailableError):
            resolve_providers("cuda")
    else:
        assert resolve_providers("cuda")[0] == "CUDAExecutionProvider"


def test_thread_budget_never_oversubscribes():
    ThreadBudget(workers=2, intra_op_threads=1).validate(cores=2)
    with pytest.raises(ValueError, match="exceeds"):
        ThreadBudget(workers=2, intra_op_threads=2).validate(cores=2)
    ThreadBudget(workers=2, intra_op_threads=2).validate(cores=2, allow_oversubscribe=True)
    budget = ThreadBudget.for_machine(cores=4)
    assert budget.workers * budget.intra_op_threads <= 4
