"""Model-latency benchmark: every manifest model x provider x thread count, on real media.

Each measurement times one end-to-end adapter call (pre-processing, inference, post-processing)
after warm-up, and reports p50 / p95 / p99 / min. Models with a dynamic batch dimension also get
a throughput figure per batch size. Where the original runtime installs (the MediaPipe Tasks
FaceLandmarker), it is timed on the same frames and the ratio ours/theirs is reported.

    python -m benchmarks.models_latency --write benchmarks/results     # the committed table
    verification bench models --json                                   # the same, as JSON
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from benchmarks import cases as case_registry
from verification.runtime import ModelRegistry, ThreadBudget, load_manifest
from verification.runtime.golden import load_golden

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
TESTS_DATA = REPO / "tests" / "data"
REFERENCE_SCRIPT = Path(__file__).resolve().parent / "reference" / "mediapipe_face_landmarker.py"


@dataclass(frozen=True)
class BenchRow:
    model: str
    provider: str
    threads: int
    batch: int
    repeat: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    min_ms: float
    mean_ms: float
    items_per_s: float
    note: str = ""


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    python: str
    onnxruntime: str
    numpy: str
    providers: tuple[str, ...]

    @classmethod
    def describe(cls) -> Machine:
        cpu = platform.processor() or platform.machine()
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        return cls(cpu=cpu, cores=os.cpu_count() or 1, python=platform.python_version(),
                   onnxruntime=ort.__version__, numpy=np.__version__,
                   providers=tuple(ort.get_available_providers()))


def time_calls(fn: Callable[[], object], repeat: int, warmup: int) -> np.ndarray:
    for _ in range(warmup):
        fn()
    samples = np.empty(repeat, dtype=np.float64)
    for i in range(repeat):
        start = time.perf_counter()
        fn()
        samples[i] = (time.perf_counter() - start) * 1000.0
    return samples


def _row(model: str, provider: str, threads: int, batch: int, samples: np.ndarray,
         note: str = "") -> BenchRow:
    p50 = float(np.percentile(samples, 50))
    return BenchRow(model=model, provider=provider, threads=threads, batch=batch,
                    repeat=len(samples), p50_ms=round(p50, 3),
                    p95_ms=round(float(np.percentile(samples, 95)), 3),
                    p99_ms=round(float(np.percentile(samples, 99)), 3),
                    min_ms=round(float(samples.min()), 3),
                    mean_ms=round(float(samples.mean()), 3),
                    items_per_s=round(batch * 1000.0 / p50, 2) if p50 > 0 else 0.0, note=note)


def run_benchmark(
    provider: str = "cpu",
    threads: Sequence[int] = (1,),
    repeat: int = 30,
    warmup: int = 3,
    batch_sizes: Sequence[int] = (1, 4),
    models: Sequence[str] | None = None,
    manifest: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[BenchRow]:
    cases, batch_cases = case_registry.collect()
    manifest_obj = load_manifest(manifest)
    names = list(models) if models else manifest_obj.names() + sorted(
        set(cases) - set(manifest_obj.names()))
    rows: list[BenchRow] = []
    for n_threads in threads:
        registry = ModelRegistry(manifest_obj, provider=provider,  # type: ignore[arg-type]
                                 budget=ThreadBudget(workers=1, intra_op_threads=n_threads))
        for name in names:
            factory = cases.get(name)
            if progress:
                progress(f"{name} ({n_threads} thread{'s' if n_threads > 1 else ''})")
            note = ""
            if factory is None:
                # No end-to-end case yet: time the bare model on its recorded real inputs.
                fn, note = _golden_call(registry, name), "inference only (golden inputs)"
            else:
                fn = factory(registry, TESTS_DATA)
            used = _provider_of(registry, name)
            rows.append(_row(name, used, n_threads, 1, time_calls(fn, repeat, warmup), note))
            if name in batch_cases:
                for batch in batch_sizes:
                    if batch == 1:
                        continue
                    fn_b = batch_cases[name](registry, TESTS_DATA, batch)
                    samples = time_calls(fn_b, max(5, repeat // batch), warmup=1)
                    rows.append(_row(name, used, n_threads, batch, samples))
    return rows


def _golden_call(registry: ModelRegistry, name: str) -> Callable[[], object]:
    model = registry.load(name)
    if model.spec.golden is None:
        raise ValueError(f"{name}: no benchmark case and no golden inputs to time")
    inputs, _ = load_golden(model.spec.golden.file)
    return lambda: model.run(inputs)


def _provider_of(registry: ModelRegistry, name: str) -> str:
    loaded = registry.loaded()
    if name in loaded:
        return loaded[name].provider.replace("ExecutionProvider", "").lower()
    providers = {m.provider for m in loaded.values()}
    return ",".join(sorted(p.replace("ExecutionProvider", "").lower() for p in providers)) or "?"


def run_mediapipe_reference(python: Path, task_file: Path, frames_dir: Path,
                            repeat: int) -> dict | None:
    """Time the MediaPipe Tasks FaceLandmarker in its own interpreter (it pins other opencv)."""
    cmd = [str(python), str(REFERENCE_SCRIPT), "--task", str(task_file), "--frames",
           str(frames_dir), "--repeat", str(repeat)]
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as err:
        log.warning("MediaPipe reference not timed: %s", err)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_results(rows: list[BenchRow], machine: Machine, reference: dict | None,
                  out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"machine": asdict(machine), "rows": [asdict(r) for r in rows],
               "reference": reference}
    (out_dir / "models.json").write_text(json.dumps(payload, indent=2) + "\n")
    (out_dir / "models.md").write_text(markdown_table(rows, machine, reference))
    plot(rows, out_dir / "models.png")


def markdown_table(rows: list[BenchRow], machine: Machine, reference: dict | None) -> str:
    lines = [
        "# Model latency (end-to-end adapter call: pre-processing + inference + post-processing)",
        "",
        f"Machine: {machine.cpu}, {machine.cores} cores; Python {machine.python}, "
        f"onnxruntime {machine.onnxruntime}, numpy {machine.numpy}. "
        "One inference worker; `threads` = onnxruntime intra-op threads. Generated by "
        "`python -m benchmarks.models_latency --write benchmarks/results`.",
        "",
        "| model | provider | threads | batch | p50 ms | p95 ms | p99 ms | min ms | items/s | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(f"| {r.model} | {r.provider} | {r.threads} | {r.batch} | {r.p50_ms:.2f} | "
                     f"{r.p95_ms:.2f} | {r.p99_ms:.2f} | {r.min_ms:.2f} | {r.items_per_s:.1f} | {r.note} |")
    if reference:
        lines += ["", "## Against the original runtime", "",
                  "| pipeline | runtime | p50 ms | p95 ms | ours/theirs (p50) |",
                  "|---|---|---:|---:|---:|"]
        for item in reference.get("comparisons", []):
            lines.append(f"| {item['pipeline']} | {item['runtime']} | {item['p50_ms']:.2f} | "
                         f"{item['p95_ms']:.2f} | {item.get('ratio', float('nan')):.2f} |")
        if reference.get("note"):
            lines += ["", reference["note"]]
    return "\n".join(lines) + "\n"


def plot(rows: list[BenchRow], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    single = [r for r in rows if r.batch == 1]
    labels = [f"{r.model} ({r.threads}t)" for r in single]
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(single) + 1.5))
    y = np.arange(len(single))
    ax.barh(y, [r.p50_ms for r in single], label="p50")
    ax.errorbar([r.p95_ms for r in single], y, fmt="|", color="black", label="p95")
    ax.set_yticks(y, labels)
    ax.set_xscale("log")
    ax.set_xlabel("ms per call (log scale)")
    ax.set_title("Model latency, end to end, onnxruntime")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--provider", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--models", nargs="*")
    parser.add_argument("--write", type=Path, help="write models.json/.md/.png here")
    parser.add_argument("--mediapipe-python", type=Path,
                        help="a Python with mediapipe (Tasks API) installed")
    parser.add_argument("--mediapipe-task", type=Path, help="face_landmarker.task")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = run_benchmark(args.provider, args.threads, args.repeat, models=args.models,
                         progress=lambda s: log.info("timing %s", s))
    reference = None
    if args.mediapipe_python and args.mediapipe_task:
        reference = compare_with_mediapipe(rows, args.mediapipe_python, args.mediapipe_task,
                                           args.repeat)
    machine = Machine.describe()
    print(markdown_table(rows, machine, reference))
    if args.write:
        write_results(rows, machine, reference, args.write)
    return 0


def compare_with_mediapipe(rows: list[BenchRow], python: Path, task: Path,
                           repeat: int) -> dict | None:
    frames = TESTS_DATA / "faces"
    theirs = run_mediapipe_reference(python, task, frames, repeat)
    if theirs is None:
        return None
    ours = [r for r in rows if r.model == "face_pipeline" and r.threads == 1]
    comparisons = []
    if ours:
        comparisons.append({"pipeline": "face_pipeline (ours: detector+mesh+blendshapes)",
                            "runtime": f"onnxruntime {ort.__version__}", "p50_ms": ours[0].p50_ms,
                            "p95_ms": ours[0].p95_ms, "ratio": 1.0})
        comparisons.append({"pipeline": "FaceLandmarker (MediaPipe Tasks, IMAGE mode)",
                            "runtime": f"mediapipe {theirs['version']}", "p50_ms": theirs["p50_ms"],
                            "p95_ms": theirs["p95_ms"],
                            "ratio": ours[0].p50_ms / theirs["p50_ms"]})
    return {"comparisons": comparisons,
            "note": f"Same {theirs['frames']} frames from tests/data/faces, detection on every "
                    "frame in both (IMAGE mode). Ours: onnxruntime with 1 intra-op thread; "
                    "MediaPipe: its own TFLite/XNNPACK runtime with its default threading. "
                    "ratio = our p50 / MediaPipe p50."}


if __name__ == "__main__":
    sys.exit(main())
