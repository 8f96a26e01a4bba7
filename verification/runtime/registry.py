"""Load models by manifest name: verify, choose providers, create the session once, warm up.

Design idea 1 (load once, stream per session): the registry holds one :class:`OnnxModel` per
name for the whole process; analyzers share it and keep per-interview state in their streams.
"""

from __future__ import annotations

import importlib
import logging
import threading
from pathlib import Path
from typing import Any

import onnxruntime as ort

from verification.errors import ModelError, ModelNotFoundError
from verification.runtime.golden import load_golden
from verification.runtime.graph_rewrite import nchwc_block_size, rewritten_model
from verification.runtime.integrity import verify_file
from verification.runtime.manifest import Manifest, ModelSpec, load_manifest
from verification.runtime.model import OnnxModel
from verification.runtime.providers import (
    ProviderChoice,
    ThreadBudget,
    limit_opencv_threads,
    resolve_providers,
    session_options,
)

log = logging.getLogger(__name__)


def import_adapter(path: str) -> type:
    """``"package.module:Class"`` -> the class; a clear error if the manifest names a wrong one."""
    module_name, _, class_name = path.partition(":")
    if not module_name or not class_name:
        raise ModelError(f"adapter {path!r} must look like 'package.module:ClassName'")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, class_name)
    except (ImportError, AttributeError) as err:
        raise ModelError(f"adapter {path!r} cannot be imported: {err}") from None


class ModelRegistry:
    def __init__(
        self,
        manifest: Manifest,
        provider: ProviderChoice = "auto",
        budget: ThreadBudget | None = None,
        warm_up: bool = True,
    ) -> None:
        self.manifest = manifest
        self.provider_choice: ProviderChoice = provider
        self.budget = budget or ThreadBudget.for_machine()
        limit_opencv_threads(self.budget)  # the analyzers' OpenCV calls follow the same budget
        self._warm_up = warm_up
        self._models: dict[str, OnnxModel] = {}
        self._adapters: dict[str, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_manifest(cls, path: Path | None = None, **kwargs: Any) -> ModelRegistry:
        return cls(load_manifest(path), **kwargs)

    def names(self) -> list[str]:
        return self.manifest.names()

    def spec(self, name: str) -> ModelSpec:
        try:
            return self.manifest[name]
        except KeyError:
            raise ModelNotFoundError(
                f"no model named {name!r} in {self.manifest.path} "
                f"(known: {', '.join(self.manifest.names())})"
            ) from None

    def load(self, name: str) -> OnnxModel:
        with self._lock:
            if name in self._models:
                return self._models[name]
            model = self._create(self.spec(name))
            self._models[name] = model
            return model

    def adapter(self, name: str) -> Any:
        """The manifest's adapter class wrapped around the loaded model (cached)."""
        with self._lock:
            if name in self._adapters:
                return self._adapters[name]
        adapter_cls = import_adapter(self.spec(name).adapter)
        instance = adapter_cls(self.load(name))
        with self._lock:
            return self._adapters.setdefault(name, instance)

    def loaded(self) -> dict[str, OnnxModel]:
        with self._lock:
            return dict(self._models)

    def _create(self, spec: ModelSpec) -> OnnxModel:
        verify_file(spec.name, spec.file, spec.sha256)
        providers = resolve_providers(self.provider_choice, spec.providers)
        try:
            # The verified file, or its rewritten graph (same function, fewer nodes; see
            # verification.runtime.graph_rewrite): the file and its sha256 stay as recorded.
            cpu_only = providers == ["CPUExecutionProvider"]
            rewritten = rewritten_model(spec.file, nchwc_block_size() if cpu_only else 0)
            session = ort.InferenceSession(
                rewritten.model_bytes if rewritten else str(spec.file),
                sess_options=session_options(self.budget), providers=providers
            )
        except Exception as err:  # onnxruntime raises its own opaque types
            raise ModelError(f"model {spec.name!r}: onnxruntime cannot load {spec.file}: {err}") from None
        model = OnnxModel(spec, session, rewritten.channels_first if rewritten else None)
        if self._warm_up:
            self._warm(model)
        log.info("loaded model %s on %s (%d bytes)", spec.name, model.provider, spec.bytes)
        return model

    @staticmethod
    def _warm(model: OnnxModel) -> None:
        """Warm up on the recorded real inputs when there are any (stateful models need them)."""
        golden = model.spec.golden
        if golden is not None and golden.file.is_file():
            inputs, _ = load_golden(golden.file)
            model.run(inputs)
        else:
            model.warm_up()
