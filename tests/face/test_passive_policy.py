"""Passive-only decisions (no challenge script): every liveness cue and the match must agree."""

from __future__ import annotations

import json
import subprocess
import sys

from verification.fusion.policy import DefaultPolicy, PolicyConfig
from verification.offline import policy_for
from verification.types import Check, Decision, Evidence, Outcome, TimeWindow

from .conftest import CLIP, DATA

W = TimeWindow(0.0, 3.0)
REQUIRED = (Check.FACE_LIVENESS, Check.FACE_MATCH)


def ev(check: Check, outcome: Outcome, code: str = "x") -> Evidence:
    return Evidence(check, outcome, W, code, code=code)


def passing() -> list[Evidence]:
    return [ev(Check.FACE_LIVENESS, Outcome.SUPPORTS, "parallax"),
            ev(Check.FACE_LIVENESS, Outcome.SUPPORTS, "no_screen"),
            ev(Check.FACE_MATCH, Outcome.SUPPORTS, "face_match")]


def test_unanimous_checks_need_every_item_to_support():
    policy = DefaultPolicy(PolicyConfig(required=REQUIRED, unanimous=REQUIRED))
    assert policy.decide(passing()).decision is Decision.PASS
    # Four supporting cues and one inconclusive one: the default policy would pass (80 %).
    evidence = passing() + [ev(Check.FACE_LIVENESS, Outcome.SUPPORTS)] * 3 + \
        [ev(Check.FACE_LIVENESS, Outcome.INCONCLUSIVE, "moire_unclear")]
    assert DefaultPolicy(PolicyConfig(required=REQUIRED)).decide(evidence).decision is Decision.PASS
    verdict = policy.decide(evidence)
    assert verdict.decision is Decision.REVIEW
    assert verdict.checks[Check.FACE_LIVENESS].status.value == "inconclusive"
    contradicted = passing() + [ev(Check.FACE_LIVENESS, Outcome.CONTRADICTS, "flat_motion")]
    assert policy.decide(contradicted).checks[Check.FACE_LIVENESS].status.value == "contradicted"
    # Hard gates still reject.
    attack = passing() + [ev(Check.FACE_LIVENESS, Outcome.CONTRADICTS, "presentation_attack")]
    assert policy.decide(attack).decision is Decision.REJECT


def test_policy_for_script():
    assert policy_for({}).config.unanimous == (Check.FACE_LIVENESS, Check.FACE_MATCH)
    assert policy_for({"steps": [{"type": "digits", "t": 1.0, "digits": "123"}]}).version == \
        "passive-1"
    assert policy_for({"steps": [{"type": "blink", "t": 1.0}]}).config.unanimous == ()


def test_analyze_recording_against_another_persons_id_photo_rejects():
    proc = subprocess.run([sys.executable, "-m", "verification", "analyze", str(CLIP),
                           "--id-photo", str(DATA / "faces_id" / "097_neutral.jpg"), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["verdict"]["decision"] == "reject"
    assert report["verdict"]["policy_version"] == "passive-1"
    codes = {e["code"] for e in report["evidence"]}
    assert {"face_mismatch", "face_presence_summary", "reference_frame"} <= codes
    assert any(r["code"] == "face_mismatch" for r in report["verdict"]["reasons"])
