"""The command line as a user runs it: real subprocesses, real models, real media."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
CLIP = DATA / "video" / "bbaf2n.mpg"


def run_cli(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "verification", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def assert_one_clear_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_models_list_json_has_at_least_nine_models_with_licence_and_source():
    proc = run_cli("models", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    models = json.loads(proc.stdout)
    assert len(models) >= 9
    for model in models:
        assert model["licence"] and model["licence"] != "unknown"
        assert model["source"]["registry"] in {"pypi", "npm"}
        assert model["source"]["package"] and model["sha256"]


def test_models_verify_passes():
    proc = run_cli("models", "verify", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = json.loads(proc.stdout)
    assert rows and all(row["ok"] for row in rows)


@pytest.fixture()
def models_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "models"
    shutil.copytree(REPO / "models", copy, ignore=shutil.ignore_patterns("convert", "*.lock"))
    return copy


def test_tampered_model_fails_verify_and_analyze_cleanly(models_copy: Path):
    victim = models_copy / "onnx" / "face_detector.onnx"
    victim.write_bytes(victim.read_bytes()[:-100])
    env = {"VERIFICATION_MODELS_DIR": str(models_copy)}
    proc = run_cli("models", "verify", env=env)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "FAIL face_detector" in proc.stdout and "expected" in proc.stdout
    proc = run_cli("analyze", str(CLIP), env=env)
    assert_one_clear_error(proc, "face_detector", "sha256")


def test_missing_model_file_names_the_file(models_copy: Path):
    (models_copy / "onnx" / "vad.onnx").unlink()
    proc = run_cli("analyze", str(CLIP), env={"VERIFICATION_MODELS_DIR": str(models_copy)})
    assert_one_clear_error(proc, "vad.onnx", "missing")


def test_unreadable_recording(tmp_path: Path):
    junk = tmp_path / "broken.mp4"
    junk.write_bytes(b"\x00not a video" * 100)
    assert_one_clear_error(run_cli("analyze", str(junk)), "broken.mp4")
    assert_one_clear_error(run_cli("analyze", str(tmp_path / "absent.webm")), "absent.webm")


def test_photo_that_is_not_an_image(tmp_path: Path):
    fake = tmp_path / "photo.jpg"
    fake.write_text("this is text, not a JPEG")
    assert_one_clear_error(run_cli("analyze", str(CLIP), "--id-photo", str(fake)), "photo.jpg",
                           "not a readable image")


def test_bad_geo_json(tmp_path: Path):
    geo = tmp_path / "geo.json"
    geo.write_text("{broken")
    assert_one_clear_error(run_cli("analyze", str(CLIP), "--geo", str(geo)), "geo", "JSON")


def test_analyze_real_clip_reports_honestly():
    proc = run_cli("analyze", str(CLIP), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    verdict = report["verdict"]
    assert verdict["decision"] in {"pass", "review", "reject"}
    # Checks no analyzer can run yet are reported as such, and never yield a pass.
    assert verdict["decision"] != "pass"
    assert verdict["checks"]["face_presence"]["status"] == "supported"
    assert verdict["checks"]["speech_presence"]["status"] == "supported"
    # 1.2 s of speech is too little for a voiceprint: inconclusive, a review reason, not a pass.
    assert verdict["checks"]["voiceprint"]["status"] == "inconclusive"
    assert any(r["code"] == "voiceprint_inconclusive" for r in verdict["reasons"])
    speech = [e for e in report["evidence"] if e["code"] == "speech_segment"]
    assert speech and 0.0 <= speech[0]["window"]["start"] < 3.0
    assert all(e["model"] for e in report["evidence"] if e["code"] == "face_presence_summary")


def test_analyze_prints_verdict_json_by_default():
    proc = run_cli("analyze", str(CLIP))
    assert proc.returncode == 0, proc.stderr
    verdict = json.loads(proc.stdout)
    assert set(verdict) >= {"decision", "checks", "reasons"}


def test_bench_models_json_covers_named_models():
    proc = run_cli("bench", "models", "--json", "--repeat", "3", "--models", "vad",
                   "face_detector")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert {r["model"] for r in rows} == {"vad", "face_detector"}
    for row in rows:
        assert row["provider"] == "cpu" and row["threads"] == 1
        assert 0 < row["p50_ms"] <= row["p95_ms"]
