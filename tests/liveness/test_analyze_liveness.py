"""``verification analyze`` end to end: passive liveness without a script, challenges with one."""

from __future__ import annotations

import json
from pathlib import Path

import cv2

from benchmarks import liveness_attacks as la
from verification.offline import AnalyzeOptions, analyze_recording

DATA = Path(__file__).resolve().parents[1] / "data"


def liveness_codes(report: dict) -> set[str]:
    return {e["code"] for e in report["evidence"] if e["check"] == "face_liveness"}


def test_a_real_recording_without_a_script_is_live_on_passive_evidence() -> None:
    report = analyze_recording(AnalyzeOptions(recording=DATA / "video" / "bbaf2n.mpg"))
    assert report["verdict"]["checks"]["face_liveness"]["status"] == "supported"
    assert "passive_liveness" in liveness_codes(report)
    assert "presentation_attack" not in [r["code"] for r in report["verdict"]["reasons"]]


def test_a_printed_photo_with_a_challenge_script_is_rejected(tmp_path: Path) -> None:
    photo = cv2.cvtColor(cv2.imread(str(DATA / "faces" / "london_061_neutral.jpg")),
                         cv2.COLOR_BGR2RGB)
    scene = cv2.cvtColor(cv2.imread(str(DATA / "scenes" / "office_desk_tum_fr1.jpg")),
                         cv2.COLOR_BGR2RGB)
    clip = la.write_clip(tmp_path / "print.mp4",
                         la.print_attack_frames(photo, scene, seed=5, n=20, fps=5.0), fps=5.0)
    script = [{"type": "turn_right", "t": 0.6, "window": 2.5}]
    report = analyze_recording(AnalyzeOptions(recording=clip, script={"steps": script}))
    verdict = report["verdict"]
    assert verdict["decision"] == "reject"
    assert verdict["checks"]["face_liveness"]["status"] != "supported"
    reasons = {r["code"] for r in verdict["reasons"]}
    assert reasons & {"presentation_attack", "challenge_failed"}
    assert "challenge_failed" in liveness_codes(report)
    json.dumps(report)  # the whole report is plain JSON
