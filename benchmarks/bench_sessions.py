"""Session load benchmark: N concurrent WebRTC interviews through the full analysis pipeline.

A fresh ``verification serve`` (loopback ICE, passthrough recording on, admission control
opened wide so the benchmark decides N) receives N aiortc clients that run in a *separate*
process and replay pre-encoded real media (GRID talking-face clips, 320x240 @ 15 fps VP8
~150 kbit/s + Opus 16 kbit/s, ``MediaPlayer(decode=False)``: no client-side encoding). Clients
join staggered (0.7 s apart: simultaneous ICE/DTLS set-ups fail on a busy 2-core box).

After a warm-up, over a measurement window, from the server process and ``/v1/metrics``:
CPU per session (server process only), analysed fps per analyzer, frame -> evidence latency
p50/p95 (media arrival to the analyzer's result, across all sessions), frames the analyzers
dropped (mailbox replacements), event-loop lag p95, and memory per session (RSS growth over the
idle server, divided by N). The largest N whose p95 stays <= 250 ms is the capacity.

    python -m benchmarks.bench_sessions --sessions 1 4 8 12 16 --write benchmarks/results

Writes ``sessions.json``, ``sessions.md`` (table) and ``sessions.png`` (plot).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
GRID = Path(os.environ.get("VERIFICATION_MEDIA", REPO.parent / "shared" / "media")) / \
    "face_video" / "grid"
FALLBACK_CLIP = REPO / "tests" / "data" / "video" / "bbaf2n.mpg"
BUDGET_MS = 250.0
STAGGER_S = 0.7


@dataclass(frozen=True)
class RunResult:
    sessions: int
    connected: int
    cpu_per_session: float  # share of one core
    server_cpu: float  # share of one core, whole server process
    client_cpu: float
    analysed_fps: dict[str, float]  # per analyzer, per session
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    audio_latency_p95_ms: float | None
    drops_per_s: float  # analyzer mailbox drops per session per second
    video_fps: float  # decoded fps per session
    loop_lag_p95_ms: float | None
    rss_per_session_mb: float
    rss_mb: float
    host_load: float  # 1-minute load average at the end of the window (other processes too)
    host_load_start: float = 0.0  # ... at the start of the window
    session_fps: tuple[float, ...] = ()  # analysed fps each interview got (its video ingest)
    rate_plan: dict | None = None  # the analysis-rate controller at the end of the window


# -- client process -------------------------------------------------------------------------------

async def _clients(server: str, media: Path, n: int, hold_s: float) -> dict:
    from signaling.client import Applicant, create_session
    from signaling.ice import use_loopback_candidates

    use_loopback_candidates(True)
    applicants = []
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        for _ in range(n):
            session = await create_session(http)
            applicant = Applicant(http, session["token"], media)
            try:
                await applicant.join()
                applicants.append(applicant)
            except Exception as err:
                print(f"join failed: {err}", file=sys.stderr)
            await asyncio.sleep(STAGGER_S)
        process = psutil.Process()
        process.cpu_percent()
        await asyncio.sleep(hold_s)
        cpu = process.cpu_percent() / 100
        for applicant in applicants:
            await applicant.hangup()
            await applicant.close()
    return {"joined": len(applicants), "client_cpu": cpu}


def client_main(args: argparse.Namespace) -> None:
    result = asyncio.run(_clients(args.server, args.media, args.n, args.hold))
    print(json.dumps(result))


# -- orchestration --------------------------------------------------------------------------------

def _metrics(url: str) -> dict:
    return httpx.get(f"{url}/v1/metrics", timeout=10).json()


def _wait_idle(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _metrics(url)["load"]["sessions"] > 0 and time.monotonic() < deadline:
        time.sleep(1)


def run_one(url: str, server: psutil.Process, media: Path, n: int, warmup_s: float,
            window_s: float, idle_rss: int) -> RunResult:
    hold = n * STAGGER_S + warmup_s + window_s + 2
    client = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_sessions", "client",
                               "--server", url, "--media", str(media), "--n", str(n),
                               "--hold", str(hold)], cwd=REPO, stdout=subprocess.PIPE,
                              text=True)
    time.sleep(n * STAGGER_S + warmup_s)
    load0 = os.getloadavg()[0]
    before, cpu0, t0 = _metrics(url), server.cpu_times(), time.monotonic()
    samples = []
    while time.monotonic() - t0 < window_s:
        time.sleep(min(5.0, window_s / 2))
        samples.append(_metrics(url))
    after, cpu1, t1 = samples[-1], server.cpu_times(), time.monotonic()
    wall = t1 - t0
    server_cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / wall
    out, _ = client.communicate(timeout=hold + 120)
    client_info = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    connected = after["load"]["sessions"]
    per = max(1, connected)
    fps = {}
    for name, count in after["analysed"]["frames"].items():
        fps[name] = round((count - before["analysed"]["frames"].get(name, 0)) / wall / per, 2)
    video_frames = sum(i.get("video", {}).get("frames", 0) for i in after["interviews"].values())
    video_frames0 = sum(i.get("video", {}).get("frames", 0)
                        for k, i in before["interviews"].items() if k in after["interviews"])
    session_fps = []
    for key, info in after["interviews"].items():
        if key in before["interviews"] and "video" in info and "video" in before["interviews"][key]:
            analysed = info["video"]["analysed"] - before["interviews"][key]["video"]["analysed"]
            session_fps.append(round(analysed / wall, 2))
    p95s = [s["load"]["latency_p95_ms"] for s in samples if s["load"]["latency_p95_ms"]]
    p50s = [s["load"]["latency_p50_ms"] for s in samples if s["load"]["latency_p50_ms"]]
    lags = [s["load"]["loop_lag_p95_ms"] for s in samples if s["load"]["loop_lag_p95_ms"]]
    audio = [s["audio_latency_p95_ms"] for s in samples if s["audio_latency_p95_ms"]]
    rss = after["load"]["rss_bytes"]
    result = RunResult(
        sessions=n, connected=connected, cpu_per_session=round(server_cpu / per, 4),
        server_cpu=round(server_cpu, 4), client_cpu=client_info.get("client_cpu", 0.0),
        analysed_fps=fps,
        latency_p50_ms=round(statistics.median(p50s), 1) if p50s else None,
        latency_p95_ms=round(max(p95s), 1) if p95s else None,
        audio_latency_p95_ms=round(max(audio), 1) if audio else None,
        drops_per_s=round((after["analyzer_frame_drops"] - before["analyzer_frame_drops"])
                          / wall / per, 2),
        video_fps=round((video_frames - video_frames0) / wall / per, 2),
        loop_lag_p95_ms=round(max(lags), 1) if lags else None,
        rss_per_session_mb=round((rss - idle_rss) / per / 2**20, 1),
        rss_mb=round(rss / 2**20, 1), host_load=round(os.getloadavg()[0], 2),
        host_load_start=round(load0, 2), session_fps=tuple(sorted(session_fps)),
        rate_plan=after.get("analysis_rate"))
    _wait_idle(url)
    return result


def table(results: list[RunResult], capacity: int | None) -> str:
    analyzers = sorted({name for r in results for name in r.analysed_fps})
    head = ("| sessions | connected | server CPU / session | analysed fps / session (" +
            ", ".join(analyzers) + ") | decoded fps | latency p50 | latency p95 | audio p95 |"
            " drops/s | loop lag p95 | RSS / session | client CPU | host load avg (start-end) |"
            " analysed fps of each session |")
    lines = [head, "|" + "---|" * 14]
    for r in results:
        fps = ", ".join(f"{r.analysed_fps.get(a, 0):.1f}" for a in analyzers)
        lines.append(
            f"| {r.sessions} | {r.connected} | {r.cpu_per_session:.1%} of a core | {fps} | "
            f"{r.video_fps:.1f} | {r.latency_p50_ms} ms | {r.latency_p95_ms} ms | "
            f"{r.audio_latency_p95_ms} ms | {r.drops_per_s} | {r.loop_lag_p95_ms} ms | "
            f"{r.rss_per_session_mb} MB | {r.client_cpu:.0%} | {r.host_load_start}-{r.host_load} | "
            f"{' '.join(f'{f:g}' for f in r.session_fps)} |")
    lines.append("")
    lines.append(f"Largest N with frame -> evidence p95 <= {BUDGET_MS:.0f} ms: "
                 f"**{capacity if capacity is not None else 'none'}**")
    return "\n".join(lines)


def plot(results: list[RunResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r.sessions for r in results]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(n, [r.latency_p95_ms or 0 for r in results], "o-", label="frame->evidence p95")
    ax.plot(n, [r.latency_p50_ms or 0 for r in results], "o--", label="frame->evidence p50")
    ax.axhline(BUDGET_MS, color="red", lw=1, label=f"budget {BUDGET_MS:.0f} ms")
    ax.set_xlabel("concurrent sessions")
    ax.set_ylabel("latency (ms, log scale)")
    ax.set_yscale("log")
    ax2 = ax.twinx()
    ax2.plot(n, [r.server_cpu * 100 for r in results], "s:", color="gray",
             label="server CPU (% of one core)")
    ax2.set_ylabel("server CPU (% of one core)")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    ax.set_title("verification serve: concurrent WebRTC sessions, full pipeline")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    sub = parser.add_subparsers(dest="mode")
    client = sub.add_parser("client")
    client.add_argument("--server", required=True)
    client.add_argument("--media", type=Path, required=True)
    client.add_argument("--n", type=int, required=True)
    client.add_argument("--hold", type=float, required=True)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 8, 12, 16])
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--analysis-fps", type=float, default=5.0)
    parser.add_argument("--write", type=Path, default=None)
    parser.add_argument("--no-rate-control", action="store_true",
                        help="fixed analysis rate (the load-aware controller off), for comparison")
    parser.add_argument("--floor-fps", type=float, default=None,
                        help="VERIFICATION_ANALYSIS_FLOOR_FPS (default: the server's)")
    parser.add_argument("--cpu-budget", type=float, default=None,
                        help="VERIFICATION_ANALYSIS_CPU_BUDGET (default: the server's)")
    parser.add_argument("--name", default="sessions", help="results file stem")
    args = parser.parse_args()
    if args.mode == "client":
        client_main(args)
        return

    from signaling.testmedia import make_webm
    from tests.integration.browser_support import running_server

    work = Path(tempfile.mkdtemp(prefix="bench-sessions-"))
    clips = sorted(GRID.glob("*.mpg")) or [FALLBACK_CLIP]
    media = make_webm(clips, work / "grid.webm", seconds=120.0)  # longer than a run: no looping
    settings = dict(prompt_time_scale=50, interview_max_s=3600, max_sessions=64,
                    admission_control="false",
                    cpu_threshold=1.0, reconnect_grace_s=1,
                    analysis_fps=args.analysis_fps,
                    rate_control="false" if args.no_rate_control else "true")
    if args.floor_fps is not None:
        settings["analysis_floor_fps"] = args.floor_fps
    if args.cpu_budget is not None:
        settings["analysis_cpu_budget"] = args.cpu_budget
    results = []
    with running_server(work / "data", **settings) as server:
        process = psutil.Process(server.process.pid)
        time.sleep(3)
        idle_rss = process.memory_info().rss
        for n in args.sessions:
            result = run_one(server.url, process, media, n, args.warmup, args.window, idle_rss)
            print(json.dumps(asdict(result)), flush=True)
            print(f"N={n}: connected {result.connected}, frame->evidence p50 "
                  f"{result.latency_p50_ms} ms / p95 {result.latency_p95_ms} ms, server CPU "
                  f"{result.cpu_per_session:.2f} core per session (CPU time / wall), analysed "
                  f"fps {result.analysed_fps}, per session {list(result.session_fps)}, host load "
                  f"{result.host_load_start}-{result.host_load}", flush=True)
            results.append(result)
    ok = [r.sessions for r in results if r.latency_p95_ms is not None
          and r.latency_p95_ms <= BUDGET_MS and r.connected == r.sessions]
    capacity = max(ok) if ok else None
    text = table(results, capacity)
    print(text)
    if args.write:
        args.write.mkdir(parents=True, exist_ok=True)
        meta = {"machine": f"{platform.machine()}, {psutil.cpu_count()} cores "
                           f"({os.cpu_count()} visible), {platform.python_version()}",
                "media": [c.name for c in clips], "analysis_fps": args.analysis_fps,
                "warmup_s": args.warmup, "window_s": args.window, "budget_ms": BUDGET_MS,
                "capacity": capacity, "rate_control": not args.no_rate_control,
                "floor_fps": args.floor_fps, "cpu_budget": args.cpu_budget}
        stem = args.name
        (args.write / f"{stem}.json").write_text(json.dumps(
            {"meta": meta, "runs": [asdict(r) for r in results]}, indent=2))
        plot(results, args.write / f"{stem}.png")
        rate = ("load-aware analysis rate on (signaling/analysis_rate.py: up to "
                f"{args.analysis_fps:g} fps, lower outside challenge/digit windows when the "
                "CPU budget is short)" if not args.no_rate_control else
                f"fixed analysis rate {args.analysis_fps:g} fps")
        (args.write / f"{stem}.md").write_text(
            "# Concurrent sessions (`python -m benchmarks.bench_sessions`)\n\n"
            f"Machine: {meta['machine']}; clients in a separate process on the same machine "
            "(their CPU is the last column). Media: GRID clips "
            f"({', '.join(meta['media'])}) pre-encoded as VP8 320x240@15 ~150 kbit/s + Opus; "
            f"{rate}; passthrough recording on. "
            f"Warm-up {args.warmup:g} s, window {args.window:g} s.\n\n" + text +
            f"\n\n![sessions]({stem}.png)\n")


if __name__ == "__main__":
    main()
