"""Weak network (opt-in: VERIFICATION_NETEM_TESTS=1, root, Chromium): a 250 kbit/s bottleneck
and random loss on the browser's uplink to the server's UDP port. Targets from the issue:
longest video freeze <= 1 s at 250 kbit/s or 3 % loss; >= 95 % of sent audio frames decoded at
5 % loss (every packet that arrives, plus lost ones rebuilt from in-band FEC).
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
    # No loss amplification: every audio packet that arrives is decoded (stock aiortc: ~82 %),
    # and the answer's Opus settings (24 kbit/s wideband, useinbandfec=1) make Chromium send
    # in-band FEC, so about half of the lost frames (those followed by a speech packet) are
    # rebuilt from the next packet: measured 97.7 % of sent frames at 5 % loss.
    lossy = results["5 % loss"]
    assert lossy.audio_of_received >= 0.98, results
    assert lossy.audio_fec_recovered > 0, results
    assert lossy.audio_delivered >= 0.95, results
    for result in results.values():
        assert result.video_fps > 5, result  # video kept flowing through every impairment
    assert "VERIFICATION_NETEM" not in os.popen("iptables -S").read()  # cleaned up
