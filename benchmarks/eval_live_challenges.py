"""Live challenge verdicts on real media: how soon, how consistent, how often a chance pass.

Usage::

    python -m benchmarks.eval_live_challenges [--fps 12.5] [--seconds 40] [--json OUT.json]

Each GRID clip of ``/work/shared/media/face_video/grid`` (a real speaker reading a sentence;
nobody responds to a prompt) is played in a loop for ``--seconds`` — what a replayed clip does
in an interview — through the face stage at ``--fps``. Challenges are issued *live*, as the
interview driver does: a mark is appended to the live prompt list every few seconds, each of the
six actions in turn, and the challenge cue reports its verdict through the live handoff
(:mod:`verification.pipeline.live_verdicts`).

Reported:

* **chance passes** per action: challenges the non-responding speaker "passed" (every one is a
  false accept of that challenge; this is why retries prefer head movements);
* **agreement** of the live verdict with the cue's final per-prompt evidence (judged after the
  late margin, what the verdict's fusion reads): must be 100 %;
* **delay** of the live verdict in media seconds after the challenge window closed (fails) —
  what the step waits before it can ask again;
* **CPU** per live check (``time.process_time`` around the cue's live reporting, summed per
  verdict): the cost the handoff adds to the face stage in the executor.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from random import Random
from typing import Any

from verification.face.challenges.actions import ALL_ACTIONS
from verification.face.challenges.cue import ChallengeCue
from verification.face.observation import FaceTracker
from verification.pipeline.analyzer import SessionContext
from verification.pipeline.live_verdicts import LiveVerdictBox
from verification.runtime import ModelRegistry, ThreadBudget
from verification.types import VideoFrame
from verification.video.decode import iter_media

GRID = Path("/work/shared/media/face_video/grid")
WINDOW_S = 3.5
GAP_S = (2.0, 3.5)  # pause between one window's end and the next prompt


def clip_frames(path: Path, fps: float, tracker: FaceTracker) -> list:
    tracker.reset()
    return [tracker.observe(item.image, item.pts, item.index)
            for item in iter_media(str(path), video_fps=fps) if isinstance(item, VideoFrame)]


def run_clip(observations: list, fps: float, seconds: float, seed: int) -> dict[str, Any]:
    from dataclasses import replace

    rng = Random(seed)
    steps: list[dict] = []
    box = LiveVerdictBox()
    cue = ChallengeCue.factory(SessionContext("eval", script={"steps": steps},
                                              live_verdicts=box))
    live_cpu = [0.0]
    report_live = cue._report_live

    def timed(pts: float) -> None:  # the live reporting's CPU cost, nothing else
        started = time.process_time()
        report_live(pts)
        live_cpu[0] += time.process_time() - started

    cue._report_live = timed
    actions = [a.value for a in ALL_ACTIONS]
    rng.shuffle(actions)
    next_prompt, k = 1.5, 0
    verdicts, evidence = [], []
    for i in range(int(seconds * fps)):
        t = round(i / fps, 3)
        if t >= next_prompt and t + WINDOW_S + 2.5 < seconds:
            steps.append({"type": "challenge", "action": actions[k % len(actions)],
                          "id": f"c{k}", "t": t, "window": WINDOW_S})
            k += 1
            next_prompt = t + WINDOW_S + rng.uniform(*GAP_S)
        observation = replace(observations[i % len(observations)], pts=t, index=i)
        evidence += list(cue.observe(observation, None))
        verdicts += box.drain()
    evidence += list(cue.summarize())
    final = {(e.details["action"], e.details["prompt_t"]): e.code for e in evidence
             if e.code in ("challenge_passed", "challenge_step_failed", "challenge_no_face")}
    rows = []
    for v in verdicts:
        code = final.get((v.action, round(v.prompt_t, 3)))
        rows.append({"action": v.action, "passed": v.passed, "outcome": v.outcome,
                     "delay_s": round(v.judged_t - (v.prompt_t + WINDOW_S), 3),
                     "final": code, "agrees": (code == "challenge_passed") == bool(v.passed)})
    return {"issued": k, "verdicts": rows, "live_cpu_s": live_cpu[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fps", type=float, default=12.5)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    registry = ModelRegistry.from_manifest(provider="cpu", budget=ThreadBudget(1, 1))
    tracker = FaceTracker.from_registry(registry, with_encoder=False)
    clips = sorted(GRID.glob("*.mpg"))
    per_action: dict[str, Counter] = defaultdict(Counter)
    outcomes: Counter = Counter()
    delays, issued, agree, total, cpu = [], 0, 0, 0, 0.0
    for n, clip in enumerate(clips):
        result = run_clip(clip_frames(clip, args.fps, tracker), args.fps, args.seconds, seed=n)
        issued += result["issued"]
        cpu += result["live_cpu_s"]
        for row in result["verdicts"]:
            per_action[row["action"]]["passed" if row["passed"] else "failed"] += 1
            outcomes[row["outcome"]] += 1
            agree += row["agrees"]
            total += 1
            if not row["passed"]:
                delays.append(row["delay_s"])
    print(f"{len(clips)} GRID clips looped {args.seconds:.0f} s at {args.fps:g} fps; "
          f"{issued} challenges issued live, {total} live verdicts")
    for action in sorted(per_action):
        c = per_action[action]
        print(f"  {action:<11} chance passes {c['passed']}/{c['passed'] + c['failed']}")
    print(f"  outcomes: {dict(outcomes)}")
    print(f"  live verdict == final per-prompt evidence: {agree}/{total}")
    if delays:
        delays.sort()
        print(f"  fail verdict after the window closed: median {delays[len(delays) // 2]:.2f} s, "
              f"max {delays[-1]:.2f} s (media time; one frame is {1 / args.fps:.2f} s)")
    print(f"  live reporting CPU: {1000 * cpu / max(total, 1):.2f} ms per verdict "
          "(process time, all checks of a prompt together)")
    if args.json:
        args.json.write_text(json.dumps({"per_action": {a: dict(c) for a, c in
                                                        per_action.items()},
                                         "agree": agree, "total": total, "delays": delays,
                                         "cpu_ms_per_verdict": 1000 * cpu / max(total, 1)},
                                        indent=2))


if __name__ == "__main__":
    main()
