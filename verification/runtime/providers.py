"""Execution providers and the CPU thread budget.

onnxruntime's defaults (every core per session, spinning threads) oversubscribe a small server
as soon as two models run at once. The budget makes the trade explicit: ``workers`` inference
calls in parallel, each with ``intra_op_threads``; their product never exceeds the cores unless
the operator insists.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Literal

import onnxruntime as ort

from verification.errors import ProviderUnavailableError

log = logging.getLogger(__name__)

ProviderChoice = Literal["auto", "cpu", "cuda"]

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


def available_providers() -> list[str]:
    return list(ort.get_available_providers())


def resolve_providers(choice: ProviderChoice, preferred: tuple[str, ...] = (CUDA, CPU)) -> list[str]:
    """Providers to hand to onnxruntime, most preferred first, CPU always last as fallback.

    ``cuda`` is an explicit request: if the CUDA provider is not available that is an error
    (a benchmark that silently ran on CPU would report nonsense). ``auto`` takes CUDA when
    present and the model prefers it.
    """
    present = set(available_providers())
    if choice == "cpu":
        return [CPU]
    if choice == "cuda":
        if CUDA not in present:
            raise ProviderUnavailableError(
                "CUDA execution provider requested but onnxruntime has only "
                f"{sorted(present)} (install onnxruntime-gpu on a machine with a GPU)"
            )
        return [CUDA, CPU]
    chosen = [p for p in preferred if p in present and p != CPU]
    return chosen + [CPU]


@dataclass(frozen=True)
class ThreadBudget:
    """How many inference calls run at once, and with how many threads each."""

    workers: int = 1
    intra_op_threads: int = 1

    @classmethod
    def for_machine(cls, cores: int | None = None) -> ThreadBudget:
        """One worker per core with one thread each: best throughput for many small models."""
        cores = cores or os.cpu_count() or 1
        return cls(workers=max(1, cores), intra_op_threads=1)

    def validate(self, cores: int | None = None, allow_oversubscribe: bool = False) -> None:
        cores = cores or os.cpu_count() or 1
        if self.workers < 1 or self.intra_op_threads < 1:
            raise ValueError("workers and intra_op_threads must be >= 1")
        if self.workers * self.intra_op_threads > cores and not allow_oversubscribe:
            raise ValueError(
                f"thread budget {self.workers} workers x {self.intra_op_threads} threads exceeds "
                f"{cores} cores; lower one, or allow oversubscription explicitly"
            )


def limit_opencv_threads(budget: ThreadBudget) -> int:
    """Give OpenCV the same per-call thread count as onnxruntime; returns the count set.

    Why: OpenCV parallelises each warp / colour conversion over its own pool (one thread per
    core by default) whose threads wait actively for work. The executor already runs
    ``workers`` frames at once, so that pool only adds wake-ups and spinning: on the face stage
    (three warps and a few conversions per frame) it cost ~0.45 ms of CPU per frame, ~5 %, for
    no gain in throughput. An operator's ``OPENCV_FOR_THREADS_NUM`` wins.
    """
    import cv2  # OpenCV is a dependency of the analyzers, not of the runtime's core

    if os.environ.get("OPENCV_FOR_THREADS_NUM"):
        return cv2.getNumThreads()
    cv2.setNumThreads(budget.intra_op_threads)
    return budget.intra_op_threads


def session_options(budget: ThreadBudget) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = budget.intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning threads burn a core while idle; on a shared 2-core box that starves the others.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options
