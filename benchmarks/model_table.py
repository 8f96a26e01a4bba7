"""Print the README's model table from the manifest and the committed benchmark results."""

from __future__ import annotations

import json
from pathlib import Path

from verification.runtime import load_manifest

RESULTS = Path(__file__).resolve().parent / "results" / "models.json"


def main() -> None:
    manifest = load_manifest()
    p50 = {}
    if RESULTS.exists():
        for row in json.loads(RESULTS.read_text())["rows"]:
            if row["threads"] == 1 and row["batch"] == 1 and row["provider"] == "cpu":
                p50[row["model"]] = row["p50_ms"]
    print("| model | task | source package | licence | size | CPU p50 (1 thread) |")
    print("|---|---|---|---|---:|---:|")
    for name in manifest.names():
        spec = manifest[name]
        latency = f"{p50[name]:.1f} ms" if name in p50 else "—"
        print(f"| `{name}` | {spec.task} | {spec.source.registry}: `{spec.source.package}` | "
              f"{spec.licence} | {spec.bytes / 1e6:.1f} MB ({spec.weights_dtype}) | {latency} |")


if __name__ == "__main__":
    main()
