"""Model runtime: manifest, integrity, providers, thread budget, timed inference off the loop."""

from verification.runtime.executor import InferenceExecutor
from verification.runtime.golden import GoldenCheck, check_golden
from verification.runtime.manifest import Manifest, ModelSpec, load_manifest
from verification.runtime.model import InferenceResult, OnnxModel
from verification.runtime.providers import ThreadBudget, available_providers, resolve_providers
from verification.runtime.registry import ModelRegistry

__all__ = [
    "GoldenCheck",
    "InferenceExecutor",
    "InferenceResult",
    "Manifest",
    "ModelRegistry",
    "ModelSpec",
    "OnnxModel",
    "ThreadBudget",
    "available_providers",
    "check_golden",
    "load_manifest",
    "resolve_providers",
]
