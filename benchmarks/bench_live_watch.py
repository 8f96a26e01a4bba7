"""Live watch cost: what 0, 1 and 3 reviewers watching one interview cost the server, and
whether watching slows the interview's analysis.

A fresh ``verification serve`` (loopback ICE) runs one interview: an aiortc applicant replays a
real GRID clip (pre-encoded VP8 320x240@15 + Opus, no client-side encoding). Reviewers are
aiortc clients signed in to the console (``signaling.console.watch_client``) that decode what
the server relays. For each number of watchers, over a window after a warm-up:

- server CPU: process CPU time (user + system) / wall time, in cores (the applicant and the
  reviewers run in this benchmark's process, not in the server);
- the interview's decoded video fps and the frames handed to the analyzers per second
  (``/v1/metrics``), and the frame -> evidence latency p95: unchanged means watching does not
  slow analysis;
- what each reviewer received: video fps, audio frames per second.

    python -m benchmarks.bench_live_watch [--watchers 0 1 3] [--window 15]

Wall-clock rates are affected by other load on the machine; CPU is reported as CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "tests" / "data" / "video" / "bbaf2n.mpg"
PASSWORD = "benchmark password 2026"


def _interview(metrics: dict, interview_id: str) -> dict:
    return metrics["interviews"].get(interview_id, {})


async def _run(url: str, server: psutil.Process, media: Path, counts: list[int],
               warmup_s: float, window_s: float) -> list[dict]:
    from signaling.client import Applicant, create_session
    from signaling.console.watch_client import WatchClient, console_login
    from signaling.ice import use_loopback_candidates

    use_loopback_candidates(True)
    rows = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as http, \
            httpx.AsyncClient(base_url=url, timeout=30) as console:
        await console_login(console, "bench", PASSWORD)
        session = await create_session(http)
        applicant = Applicant(http, session["token"], media)
        await applicant.join()
        deadline = time.monotonic() + 60
        while "video" not in _interview((await http.get("/v1/metrics")).json(), session["id"]):
            if time.monotonic() > deadline:
                raise SystemExit("the applicant's video never arrived")
            await asyncio.sleep(1)
        watchers: list[WatchClient] = []
        try:
            for count in counts:
                while len(watchers) < count:
                    watcher = WatchClient()
                    response = await watcher.watch(console, session["id"])
                    response.raise_for_status()
                    watchers.append(watcher)
                await asyncio.sleep(warmup_s)
                before = (await http.get("/v1/metrics")).json()
                cpu0, t0 = server.cpu_times(), time.monotonic()
                seen0 = [(len(w.video), len(w.audio_rms)) for w in watchers]
                await asyncio.sleep(window_s)
                after = (await http.get("/v1/metrics")).json()
                cpu1, wall = server.cpu_times(), time.monotonic() - t0
                a, b = _interview(before, session["id"]), _interview(after, session["id"])
                if "video" not in a or "video" not in b:
                    raise SystemExit(f"the applicant disconnected during the window: {b}")
                rows.append({
                    "watchers": count,
                    "server_cpu_cores": round((cpu1.user + cpu1.system - cpu0.user - cpu0.system)
                                              / wall, 3),
                    "decoded_fps": round((b["video"]["frames"] - a["video"]["frames"]) / wall,
                                         2),
                    "analysed_fps": round((b["video"]["analysed"] - a["video"]["analysed"])
                                          / wall, 2),
                    "latency_p95_ms": after["load"]["latency_p95_ms"],
                    "loop_lag_p95_ms": after["load"]["loop_lag_p95_ms"],
                    "reviewer_video_fps": [round((len(w.video) - v0) / wall, 2)
                                           for w, (v0, _) in zip(watchers, seen0, strict=True)],
                    "reviewer_audio_fps": [round((len(w.audio_rms) - a0) / wall, 2)
                                           for w, (_, a0) in zip(watchers, seen0, strict=True)],
                    "host_load": round(os.getloadavg()[0], 2),
                })
                print(json.dumps(rows[-1]), flush=True)
        finally:
            for watcher in watchers:
                await watcher.close()
            await applicant.hangup()
            await applicant.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watchers", type=int, nargs="+", default=[0, 1, 3])
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--window", type=float, default=15.0)
    args = parser.parse_args()
    if sorted(args.watchers) != args.watchers or max(args.watchers) > 3:
        parser.error("--watchers must be increasing and at most 3 (the per-interview limit)")

    from signaling.testmedia import make_webm
    from tests.integration.browser_support import running_server

    work = Path(tempfile.mkdtemp(prefix="bench-live-watch-"))
    runs = len(args.watchers)
    media = make_webm(CLIP, work / "grid.webm",
                      seconds=runs * (args.warmup + args.window) + 20)  # no looping
    data_dir = work / "data"
    with running_server(data_dir, prompt_time_scale=50, interview_max_s=3600) as server:
        added = subprocess.run([sys.executable, "-m", "verification", "users", "add", "bench",
                                "--role", "reviewer", "--password-stdin", "--data-dir",
                                str(data_dir)], input=PASSWORD + "\n", capture_output=True,
                               text=True, timeout=120, env=server.env)
        if added.returncode != 0:
            raise SystemExit(added.stderr)
        rows = asyncio.run(_run(server.url, psutil.Process(server.process.pid), media,
                                args.watchers, args.warmup, args.window))
    print("\n| watchers | server CPU (cores) | decoded fps | analysed fps | frame->evidence "
          "p95 ms | reviewer video fps | reviewer audio frames/s |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['watchers']} | {row['server_cpu_cores']:.3f} | {row['decoded_fps']} | "
              f"{row['analysed_fps']} | {row['latency_p95_ms']} | "
              f"{row['reviewer_video_fps'] or '-'} | {row['reviewer_audio_fps'] or '-'} |")


if __name__ == "__main__":
    main()
