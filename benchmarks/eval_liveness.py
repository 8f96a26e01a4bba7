"""Passive liveness on the attack set: APCER per attack kind, BPCER on real clips, per-cue rates.

Usage::

    python -m benchmarks.build_attack_set          # once: renders .eval-cache/liveness/
    python -m benchmarks.eval_liveness [--fps 5] [--cli] [--json OUT.json]

Default mode runs the face stage (:class:`~verification.face.observation.FaceTracker`) and the
passive cue on every clip at ``--fps``, as ``verification analyze`` does, without the rest of
the session (fast). ``--cli`` runs the full ``verification analyze`` code path per clip instead
and reads the verdict (slower; the numbers must agree).

Definitions (ISO/IEC 30107-3): an attack *passes* when face liveness is *supported* (the
session could pass on it); APCER = attacks passed / attacks, per kind. A real clip *fails*
when face liveness is not supported; BPCER = real clips failed / real clips. Also reported:
how many attacks were rejected outright (the ``presentation_attack`` hard gate) and how many
real clips were - which must be none.

A challenge script is also checked: each real clip is given a random challenge sequence (GRID
speakers perform no actions, so every sequence must fail), and so is every attack.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.build_attack_set import DEFAULT_OUT
from verification.face.challenges import ChallengeGenerator
from verification.face.challenges.cue import ChallengeCue
from verification.face.observation import FaceTracker, TrackerConfig
from verification.face.pad import PresentationAttackCue
from verification.pipeline.analyzer import SessionContext
from verification.runtime import ModelRegistry, ThreadBudget
from verification.types import VideoFrame
from verification.video.decode import iter_media, probe

CUES = ("frozen_video", "facial_activity", "planar_motion", "moves_with_scene",
        "frame_around_face", "corner_moves_with_face", "moire", "paper_texture", "flat_shading")


def run_direct(path: str, fps: float, tracker: FaceTracker, seed: int) -> dict[str, Any]:
    """Face stage + passive cue + a random challenge script over one clip."""
    tracker.reset()
    duration = probe(path).duration_s or 3.0
    prompts = ChallengeGenerator(seed=seed).sequence(start=0.0, count=2)
    script = {"steps": [p.to_step() for p in prompts if p.t < duration]}
    pad = PresentationAttackCue()
    challenge = ChallengeCue.factory(SessionContext("eval", script=script))
    evidence = []
    frames = 0
    started = time.perf_counter()
    for item in iter_media(path, video_fps=fps):
        if not isinstance(item, VideoFrame):
            continue
        frames += 1
        obs = tracker.observe(item.image, item.pts, item.index)
        evidence += list(pad.observe(obs, item)) + list(challenge.observe(obs, item))
    evidence += list(pad.summarize()) + list(challenge.summarize())
    assessment = pad.assessment()
    pad_ms = next((e.latency_ms for e in evidence if e.latency_ms is not None
                   and e.model == "face_mesh+pad_cues"), None)
    return {"decision": assessment.decision, "reasons": list(assessment.reasons),
            "cues": assessment.measures(), "frames": frames,
            "hard_gate": any(e.code == "presentation_attack" for e in evidence),
            "challenge": [e.code for e in evidence if e.code.startswith("challenge")],
            "pad_ms": pad_ms, "seconds": time.perf_counter() - started}


def run_cli(path: str, fps: float) -> dict[str, Any]:
    from verification.offline import AnalyzeOptions, analyze_recording

    started = time.perf_counter()
    report = analyze_recording(AnalyzeOptions(recording=Path(path), fps=fps))
    verdict = report["verdict"]
    liveness = verdict["checks"].get("face_liveness", {})
    codes = [e["code"] for e in report["evidence"] if e["check"] == "face_liveness"]
    decision = "live" if liveness.get("status") == "supported" else \
        "attack" if "presentation_attack" in codes else "not_live"
    return {"decision": decision, "status": liveness.get("status"), "codes": codes,
            "hard_gate": "presentation_attack" in codes, "verdict": verdict["decision"],
            "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_OUT, help="attack-set folder")
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--cli", action="store_true", help="run the full analyze code path")
    parser.add_argument("--kind", action="append", help="only these kinds (repeatable)")
    parser.add_argument("--every", type=int, default=1,
                        help="only every N-th clip of each kind (a quicker sample, for --cli)")
    parser.add_argument("--json", type=Path, help="write per-clip results here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    manifest = args.set / "manifest.json"
    if not manifest.exists():
        raise SystemExit(f"{manifest} not found: run python -m benchmarks.build_attack_set")
    entries = [e for e in json.loads(manifest.read_text())
               if not args.kind or e["kind"] in args.kind]
    seen: dict[str, int] = defaultdict(int)
    sampled = []
    for entry in entries:
        if seen[entry["kind"]] % max(args.every, 1) == 0:
            sampled.append(entry)
        seen[entry["kind"]] += 1
    entries = sampled
    tracker = None
    if not args.cli:
        registry = ModelRegistry.from_manifest(provider="cpu", budget=ThreadBudget.for_machine())
        tracker = FaceTracker.from_registry(registry, TrackerConfig(), with_encoder=False)

    results = []
    for i, entry in enumerate(entries):
        result = run_cli(entry["path"], args.fps) if args.cli else \
            run_direct(entry["path"], args.fps, tracker, seed=1000 + i)
        results.append({**entry, **result})
        flag = "PASSED" if result["decision"] == "live" else "-"
        print(f"{entry['kind']:20s} {Path(entry['path']).name:28s} {result['decision']:8s} "
              f"{flag:6s} {' '.join(result.get('reasons', result.get('codes', [])))[:90]}",
              flush=True)

    print("\n== passive liveness (no challenge script) ==")
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        by_kind[r["kind"]].append(r)
    print(f"{'kind':20s} {'n':>3s} {'passed':>7s} {'rate':>7s} {'rejected':>9s}")
    for label, title in (("attack", "APCER"), ("real", "BPCER")):
        kinds = [k for k, v in by_kind.items() if v[0]["label"] == label]
        total = failed = 0
        print(f"-- {title} --")
        for kind in kinds:
            rows = by_kind[kind]
            live = sum(r["decision"] == "live" for r in rows)
            hard = sum(r["hard_gate"] for r in rows)
            bad = live if label == "attack" else len(rows) - live
            total += len(rows)
            failed += bad
            print(f"{kind:20s} {len(rows):3d} {live:7d} {bad / len(rows):7.1%} {hard:9d}")
        if total:
            print(f"{'all ' + label:20s} {total:3d} {'':7s} {failed / total:7.1%}")

    if not args.cli:
        print("\n== per-cue flags (share of clips where the cue speaks against liveness; "
              "facial_activity: no speech/blink seen) ==")
        print(f"{'kind':20s} " + " ".join(f"{c[:11]:>11s}" for c in CUES))
        for kind, rows in by_kind.items():
            shares = []
            for cue in CUES:
                bad = ("suspect", "attack", "unknown") if cue == "facial_activity" else \
                    ("suspect", "attack")
                flagged = [r for r in rows if r["cues"].get(cue, {}).get("verdict") in bad]
                shares.append(len(flagged) / len(rows))
            print(f"{kind:20s} " + " ".join(f"{s:11.0%}" for s in shares))
        print("\n== challenge scripts on clips without actions (every one must fail) ==")
        passed = [r for r in results if "challenges_passed" in r["challenge"]]
        print(f"sequences passed: {len(passed)} of {len(results)}")
        times = [r["seconds"] / max(r["frames"], 1) * 1000 for r in results]
        pad = [r["pad_ms"] for r in results if r["pad_ms"] is not None]
        print(f"\ndecode + face stage + cues: {np.median(times):.1f} ms per analysed frame; "
              f"passive cues alone: {np.median(pad):.1f} ms per measured frame (medians)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
