"""``verification expression timeline`` as a user runs it (real subprocess, models, media)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .conftest import DATA

REPO = DATA.parents[1]
CLIP = DATA / "video" / "bbaf2n.mpg"  # GRID: a man reads a command sentence (3 s)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "verification", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))


def test_timeline_json_for_a_talking_clip(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"type": "face_in_oval", "t": 0.0},
                                  {"type": "question", "t": 0.8, "text": "purpose of the loan"}]))
    proc = run_cli("expression", "timeline", str(CLIP), "--script", str(script), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"advisory", "reliable", "analysed_fps", "baseline", "answers", "events",
            "recording", "cost"} <= set(data)
    assert data["reliable"] and data["analysed_fps"] == 25.0
    (answer,) = data["answers"]
    assert answer["question"] == "purpose of the loan"
    assert answer["trajectory"] and answer["dominant_expression"]
    # the man only talks: his lip movements are speech, not micro-expressions
    assert data["events"] == []
    assert data["spotting"]["excluded_region_frames"]["speech"] > 0


def test_timeline_text_and_errors(tmp_path):
    proc = run_cli("expression", "timeline", str(CLIP), "--fps", "5")
    assert proc.returncode == 0, proc.stderr
    assert "never a decision" in proc.stdout and "'the recording'" in proc.stdout
    assert "frame rate too low" in proc.stdout
    for args, word in ((["missing.mp4"], "missing.mp4"),
                       ([str(DATA / "speech" / "two_speakers_sample.rttm")], "rttm")):
        proc = run_cli("expression", "timeline", *args)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and word in errors[0], proc.stderr
