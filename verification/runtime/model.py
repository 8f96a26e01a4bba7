"""A loaded ONNX model: one shared onnxruntime session, every call timed."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from verification.runtime.manifest import ModelSpec


@dataclass(frozen=True)
class InferenceResult:
    """Outputs of one call, with what it cost and where it ran (evidence carries both)."""

    model: str
    outputs: Mapping[str, np.ndarray]
    latency_ms: float
    provider: str

    def __getitem__(self, name: str) -> np.ndarray:
        return self.outputs[name]


class OnnxModel:
    """Thread-safe wrapper: onnxruntime sessions may be run from several threads at once."""

    def __init__(self, spec: ModelSpec, session: ort.InferenceSession,
                 channels_first: Mapping[str, tuple[int, ...]] | None = None) -> None:
        self.spec = spec
        self._session = session
        self.provider: str = session.get_providers()[0]
        self.input_names = tuple(i.name for i in session.get_inputs())
        self.output_names = tuple(o.name for o in session.get_outputs())
        # Inputs the runtime re-declared NCHW (verification.runtime.graph_rewrite), with the
        # model file's NHWC shape: a feed of that shape is transposed here, so callers may use
        # either layout; adapters that can, write NCHW directly (see channels_first_input).
        self._channels_first = dict(channels_first or {})

    def channels_first_input(self, name: str) -> bool:
        """Whether ``name`` is run channels-first (an NHWC feed is then transposed per call)."""
        return name in self._channels_first

    @property
    def name(self) -> str:
        return self.spec.name

    def run(self, feeds: Mapping[str, np.ndarray]) -> InferenceResult:
        started = time.perf_counter()
        feeds = dict(feeds)
        for name, nhwc in self._channels_first.items():
            value = feeds.get(name)
            if value is not None and value.shape == nhwc:
                feeds[name] = np.ascontiguousarray(value.transpose(0, 3, 1, 2))
        values = self._session.run(list(self.output_names), feeds)
        latency_ms = (time.perf_counter() - started) * 1000.0
        return InferenceResult(
            model=self.spec.name,
            outputs=dict(zip(self.output_names, values, strict=True)),
            latency_ms=latency_ms,
            provider=self.provider,
        )

    def input_shapes(self) -> dict[str, list[int | str | None]]:
        """The model file's input shapes (NHWC for an input the runtime runs channels-first)."""
        return {i.name: list(self._channels_first.get(i.name, i.shape))
                for i in self._session.get_inputs()}

    def warm_up(self, runs: int = 1) -> None:
        """Run on zeros of the declared input shapes (symbolic dims become 1)."""
        feeds = {}
        for inp in self._session.get_inputs():
            shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
            dtype = _ORT_TYPES.get(inp.type, np.float32)
            feeds[inp.name] = np.zeros(shape, dtype=dtype)
        for _ in range(runs):
            self._session.run(None, feeds)


_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}
