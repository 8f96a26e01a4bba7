"""Weak-network scenarios on loopback: headless Chromium -> `verification serve`, with the
uplink to the server's UDP port rate-limited (tc HTB) or randomly dropped (iptables
``statistic``). Needs root, Chromium and ``tc``/``iptables``; always removes what it added.

Measured server-side in each impairment window:

* longest video freeze: the longest gap between decoded frames (logged by the ingest reader);
* audio frames delivered: decoded audio frames / audio packets the browser sent (RTP sequence
  numbers, so DTX silence is not counted as loss).

``python -m benchmarks.weak_network [--stock]`` prints the table (``--stock`` also runs stock
aiortc receive for comparison) and writes ``benchmarks/results/weak_network.md``. The opt-in
test ``tests/integration/test_webrtc_netem.py`` asserts the targets (freeze <= 1 s at 250 kbit/s
or 3 % loss, >= 95 % audio at 5 % loss).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

CHAIN = "VERIFICATION_NETEM"
FREEZE_LOG_S = 0.25  # signaling.ingest logs video gaps from this length on


@dataclass(frozen=True)
class Scenario:
    name: str
    rate_kbit: int | None = None
    loss: float | None = None
    seconds: float = 20.0


SCENARIOS = (Scenario("250 kbit/s", rate_kbit=250), Scenario("3 % loss", loss=0.03),
             Scenario("5 % loss", loss=0.05))


@dataclass(frozen=True)
class ScenarioResult:
    scenario: str
    receive: str  # "robust" | "stock"
    longest_freeze_s: float
    audio_delivered: float
    video_fps: float
    audio_packets_sent: int
    audio_packets_received: int  # arrived at the server (the rest was dropped on the link)
    audio_fec_recovered: int = 0  # lost frames rebuilt from the next packet's in-band FEC

    @property
    def audio_of_received(self) -> float:
        """Decoded audio frames per packet that arrived: 1.0 = no loss amplification."""
        return self.audio_frames / self.audio_packets_received if self.audio_packets_received \
            else 0.0

    @property
    def audio_frames(self) -> int:
        return int(round(self.audio_delivered * self.audio_packets_sent))


def missing_requirements() -> str | None:
    if os.geteuid() != 0:
        return "needs root (tc and iptables on the loopback interface)"
    for tool in ("tc", "iptables"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def _run(*args: str, check: bool = True) -> None:
    subprocess.run(list(args), check=check, capture_output=True, timeout=10)


def cleanup(port: int | None = None) -> None:
    """Remove everything this module may have added (safe to call any time)."""
    _run("tc", "qdisc", "del", "dev", "lo", "root", check=False)
    if port is not None:
        _run("iptables", "-D", "INPUT", "-i", "lo", "-p", "udp", "--dport", str(port), "-j",
             CHAIN, check=False)
    _run("iptables", "-F", CHAIN, check=False)
    _run("iptables", "-X", CHAIN, check=False)


@contextlib.contextmanager
def impairment(port: int, rate_kbit: int | None = None,
               loss: float | None = None) -> Iterator[None]:
    """Impair UDP packets *to* ``port`` on ``lo`` (the browser's uplink to the server)."""
    try:
        if rate_kbit:
            _run("tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "10")
            _run("tc", "class", "add", "dev", "lo", "parent", "1:", "classid", "1:10", "htb",
                 "rate", "10gbit")
            _run("tc", "class", "add", "dev", "lo", "parent", "1:", "classid", "1:20", "htb",
                 "rate", f"{rate_kbit}kbit", "ceil", f"{rate_kbit}kbit", "burst", "4k",
                 "cburst", "4k")
            _run("tc", "qdisc", "add", "dev", "lo", "parent", "1:20", "handle", "20:", "pfifo",
                 "limit", "50")
            _run("tc", "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio",
                 "1", "u32", "match", "ip", "protocol", "17", "0xff", "match", "ip", "dport",
                 str(port), "0xffff", "flowid", "1:20")
        if loss:
            _run("iptables", "-N", CHAIN)
            _run("iptables", "-I", "INPUT", "-i", "lo", "-p", "udp", "--dport", str(port), "-j",
                 CHAIN)
            _run("iptables", "-A", CHAIN, "-m", "statistic", "--mode", "random",
                 "--probability", f"{loss:.4f}", "-j", "DROP")
        yield
    finally:
        cleanup(port)


def _live(server_url: str, session_id: str) -> dict:
    return httpx.get(f"{server_url}/v1/admin/sessions/{session_id}", timeout=10).json()["live"]


def measure(server_url: str, session_id: str, scenario: Scenario, receive: str,
            port: int) -> ScenarioResult:
    before = _live(server_url, session_id)
    with impairment(port, scenario.rate_kbit, scenario.loss):
        time.sleep(scenario.seconds)
        after = _live(server_url, session_id)
    start, end = before["media_now"], after["media_now"]
    freezes = [gap for t, gap in after.get("freezes", []) if start < t <= end]
    if "video" not in after or "audio" not in after:
        raise RuntimeError(f"the browser's connection was lost during '{scenario.name}' "
                           f"({receive} receive): {after.get('state')}")
    frames = after["video"]["frames"] - before["video"]["frames"]
    ongoing = after.get("video_age_s") or 0.0  # a freeze still running at the end counts too
    audio_sent = after["rtp"]["audio"]["expected"] - before["rtp"]["audio"]["expected"]
    audio_arrived = after["rtp"]["audio"]["received"] - before["rtp"]["audio"]["received"]
    audio_got = after["audio"]["frames"] - before["audio"]["frames"]
    fec = (after.get("receive", {}).get("audio", {}).get("fec_recovered", 0)
           - before.get("receive", {}).get("audio", {}).get("fec_recovered", 0))
    return ScenarioResult(scenario.name, receive, max(freezes + [ongoing], default=0.0),
                          audio_got / audio_sent if audio_sent else 0.0,
                          frames / (end - start), audio_sent, audio_arrived, fec)


def run_browser_scenarios(work: Path, robust: bool,
                          scenarios: tuple[Scenario, ...] = SCENARIOS) -> list[ScenarioResult]:
    """One server + one Chromium page; each scenario in turn on the same interview."""
    from playwright.sync_api import sync_playwright

    from signaling.testmedia import make_fake_capture
    from tests.integration.browser_support import (
        CHROMIUM,
        CLIP,
        chromium_args,
        running_server,
    )

    y4m, wav = make_fake_capture(CLIP, work / "capture", seconds=6.0, width=640, height=480)
    settings = dict(prompt_time_scale=20, media_timeout_s=30, bitrate_profile="standard",
                    robust_receive=str(robust).lower(), record="false")
    results = []
    cleanup()
    with running_server(work / ("robust" if robust else "stock"), **settings) as server, \
            sync_playwright() as playwright:
        session = server.create_session("--locale", "en")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=chromium_args(y4m, wav))
        try:
            page = browser.new_page(bypass_csp=True)  # wait_for_function evaluates strings
            page.goto(session["join_url"])
            page.check("#consent")
            page.click("#start")
            page.wait_for_function("window.__interview.prompts.length >= 1", timeout=30_000)
            time.sleep(8)  # let the bitrate settle
            port = _live(server.url, session["id"])["local_ports"][0]
            for scenario in scenarios:
                results.append(measure(server.url, session["id"], scenario,
                                       "robust" if robust else "stock", port))
                print(json.dumps(asdict(results[-1])), flush=True)  # kept if a later one fails
                time.sleep(6)  # recover between scenarios
        finally:
            browser.close()
            cleanup()
    return results


def table(results: list[ScenarioResult]) -> str:
    lines = ["| scenario | receive path | longest video freeze | audio frames delivered "
             "(of sent) | of packets that arrived | video fps | audio packets sent / arrived |"
             " rebuilt by FEC |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        freeze = f"{r.longest_freeze_s:.2f} s" if r.longest_freeze_s >= FREEZE_LOG_S else \
            f"< {FREEZE_LOG_S} s (none logged)"
        lines.append(f"| {r.scenario} | {r.receive} | {freeze} | "
                     f"{r.audio_delivered:.1%} | {r.audio_of_received:.1%} | {r.video_fps:.1f} | "
                     f"{r.audio_packets_sent} / {r.audio_packets_received} | "
                     f"{r.audio_fec_recovered} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stock", action="store_true", help="also run stock aiortc receive")
    parser.add_argument("--work", type=Path, default=Path("/tmp/verification-weak-network"))
    parser.add_argument("--write", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    problem = missing_requirements()
    if problem:
        raise SystemExit(f"error: {problem}")
    results = run_browser_scenarios(args.work, robust=True)
    if args.stock:
        results += run_browser_scenarios(args.work, robust=False)
    text = table(results)
    print(text)
    write(results, text, args.write)


def write(results: list[ScenarioResult], text: str, directory: Path) -> None:
    args_write = directory
    args_write.mkdir(parents=True, exist_ok=True)
    (args_write / "weak_network.json").write_text(json.dumps(
        [{**asdict(r), "audio_of_received": r.audio_of_received} for r in results], indent=2))
    (args_write / "weak_network.md").write_text(
        "# Weak-network receive (headless Chromium -> verification serve on loopback)\n\n"
        "Impairment on the browser's uplink only (tc HTB rate limit / iptables random loss "
        "on the server's UDP port), 20 s per scenario, `standard` bitrate profile (start "
        "300 kbit/s) so the 250 kbit/s cap binds. Produced by "
        "`python -m benchmarks.weak_network --stock`.\n\n" + text + "\n")


if __name__ == "__main__":
    main()
