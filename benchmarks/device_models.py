"""Golden check and latency of every manifest model on one provider, with numpy + onnxruntime only.

Why a second model benchmark beside ``verification bench models``: an accelerator machine is
lent bare (no PyAV, no OpenCV of our pin, no web stack) and only for minutes. This script needs
nothing but the runtime package: it loads each model through the same registry (so the same
graph rewrites and provider choice apply), checks the recorded real inputs still give the
original runtime's outputs on that provider, and times the model on those inputs at batch 1 and,
for models with a dynamic batch, at a larger batch (how a GPU would serve many interviews).
It refuses to report CUDA numbers for a model that silently fell back to the CPU.

    python -m benchmarks.device_models --provider cuda --write benchmarks/results --name models_cuda
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from verification.runtime import ModelRegistry, ThreadBudget, check_golden
from verification.runtime.golden import load_golden

log = logging.getLogger(__name__)


def _batched(inputs: dict[str, np.ndarray], batch: int) -> dict[str, np.ndarray]:
    """The recorded inputs repeated along the batch axis (real data, not noise); scalars and
    vectors (sample rates, states) are not batched."""
    out = {}
    for name, value in inputs.items():
        if value.ndim < 2:
            out[name] = value
            continue
        reps = -(-batch // value.shape[0])
        out[name] = np.concatenate([value] * reps)[:batch]
    return out


def _time(model, feeds: dict[str, np.ndarray], repeat: int) -> tuple[float, float]:
    model.run(feeds)  # warm-up: kernels chosen, memory allocated
    model.run(feeds)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        model.run(feeds)
        samples.append((time.perf_counter() - started) * 1000.0)
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 95))


def run(provider: str, threads: int, repeat: int, batch: int) -> list[dict]:
    registry = ModelRegistry.from_manifest(provider=provider, warm_up=False,
                                           budget=ThreadBudget(workers=1, intra_op_threads=threads))
    want = "CUDAExecutionProvider" if provider == "cuda" else "CPUExecutionProvider"
    rows = []
    for name in registry.names():
        row: dict = {"model": name, "provider": None, "golden_ok": False}
        try:
            model = registry.load(name)
        except Exception as err:  # one model failing must not hide the others' numbers
            row["detail"] = str(err)
            rows.append(row)
            continue
        row["provider"] = model.provider
        check = check_golden(model)
        row.update(golden_ok=check.ok, max_abs_diff=check.max_abs_diff, atol=check.atol)
        if model.provider != want:
            row["detail"] = f"fell back to {model.provider}: not timed"
            rows.append(row)
            continue
        spec = model.spec
        if spec.golden is None or not spec.golden.file.is_file():
            row["detail"] = "no recorded inputs: not timed"
            rows.append(row)
            continue
        inputs, _ = load_golden(spec.golden.file)
        row["batch1_p50_ms"], row["batch1_p95_ms"] = _time(model, inputs, repeat)
        if spec.dynamic_batch and batch > 1:
            try:
                p50, p95 = _time(model, _batched(inputs, batch), max(5, repeat // 4))
            except Exception as err:  # an input that has no batch axis after all
                row["detail"] = f"batch {batch}: {err}"
            else:
                row.update({"batch": batch, "batchN_p50_ms": p50, "batchN_p95_ms": p95,
                            "per_item_ms": p50 / batch})
        rows.append(row)
    return rows


def table(rows: list[dict], batch: int) -> str:
    lines = [f"| model | provider | golden (max abs diff / atol) | recorded inputs p50 / p95 ms | "
             f"batch {batch} p50 ms (per item) |", "|---|---|---|---|---|"]
    for r in rows:
        golden = ("ok" if r["golden_ok"] else "FAIL") + (
            f" ({r['max_abs_diff']:.2g} / {r['atol']:.2g})" if r.get("max_abs_diff") is not None
            else "")
        b1 = (f"{r['batch1_p50_ms']:.2f} / {r['batch1_p95_ms']:.2f}"
              if "batch1_p50_ms" in r else r.get("detail", "-"))
        bn = (f"{r['batchN_p50_ms']:.2f} ({r['per_item_ms']:.3f})" if "batchN_p50_ms" in r
              else "-")
        lines.append(f"| {r['model']} | {r['provider']} | {golden} | {b1} | {bn} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--provider", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--write", type=Path)
    parser.add_argument("--name", default="models_device")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = run(args.provider, args.threads, args.repeat, args.batch)
    machine = {"machine": platform.machine(), "python": platform.python_version(),
               "onnxruntime": ort.__version__, "providers": ort.get_available_providers(),
               "provider": args.provider, "threads": args.threads, "batch": args.batch}
    text = table(rows, args.batch)
    print(json.dumps(machine))
    print(text)
    if args.write:
        args.write.mkdir(parents=True, exist_ok=True)
        (args.write / f"{args.name}.json").write_text(
            json.dumps({"meta": machine, "rows": rows}, indent=2))
        (args.write / f"{args.name}.md").write_text(
            f"# Models on {args.provider} (`python -m benchmarks.device_models`)\n\n"
            f"`{json.dumps(machine)}`\n\n{text}\n")
    failed = [r for r in rows if not r["golden_ok"]]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
