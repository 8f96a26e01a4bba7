"""Weak network (opt-in: VERIFICATION_NETEM_TESTS=1, root, Chromium): a 250 kbit/s bottleneck
and random loss on the browser's uplink to the server's UDP port. Targets from the issue:
longest video freeze <= 1 s at 250 kbit/s or 3 % loss; audio frames delivered at 5 % loss (every
packet that arrives is decoded; see the comment on the 95 % figure below).
The impairment is always removed (try/finally in ``benchmarks.weak_network.impairment``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.weak_network import SCENARIOS, missing_requirements, run_browser_scenarios
from tests.integration.browser_support import chromium_missing_reason


def _skip_reason() -> str | None:
    if os.environ.get("VERIFICATION_NETEM_TESTS") != "1":
        return "opt-in: set VERIFICATION_NETEM_TESTS=1 (needs root, tc, iptables, Chromium)"
    return missing_requirements() or chromium_missing_reason()


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_skip_reason() is not None,
                                                   reason=_skip_reason() or "")]


def test_loss_robust_receive_meets_the_targets(tmp_path: Path):
    results = {r.scenario: r for r in run_browser_scenarios(tmp_path, robust=True)}
    assert set(results) == {s.name for s in SCENARIOS}
    assert results["250 kbit/s"].longest_freeze_s <= 1.0, results
    assert results["3 % loss"].longest_freeze_s <= 1.0, results
    # No loss amplification: every audio packet that arrives is decoded (stock aiortc: ~82 %).
    # The ">= 95 % at 5 % loss" is the physical limit here: Chromium's Opus at
    # 12 kbit/s carries no in-band FEC (measured: no LBRR below 16 kbit/s wideband), so a
    # dropped packet cannot be rebuilt; allow 3 binomial standard deviations below 95 %.
    lossy = results["5 % loss"]
    assert lossy.audio_of_received >= 0.98, results
    assert lossy.audio_delivered >= 0.95 - 3 * (0.05 * 0.95 / lossy.audio_packets_sent) ** 0.5
    for result in results.values():
        assert result.video_fps > 5, result  # video kept flowing through every impairment
    assert "VERIFICATION_NETEM" not in os.popen("iptables -S").read()  # cleaned up
