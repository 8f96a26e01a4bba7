"""``verification voice compare``: the CLI contract (pairs of files and a CSV batch)."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from verification.cli import main
from verification.cli.voice_cmd import VoiceprintCache
from verification.runtime import ModelRegistry

DATA = Path(__file__).resolve().parents[1] / "data"
SPEECH = DATA / "speech"
A1 = SPEECH / "2033-164914-0004.flac"
A2 = SPEECH / "2033-164914-0007.flac"
B1 = SPEECH / "1998-15444-0007.flac"
CLIP = DATA / "video" / "bbaf2n.mpg"


def write_silence(path: Path, seconds: float = 2.0) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(np.zeros(int(8000 * seconds), np.int16).tobytes())
    return path


def test_two_files_json(capsys):
    assert main(["voice", "compare", str(A1), str(A2), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"a", "b", "similarity", "match"}
    assert out["match"] is True and out["similarity"] > 0.7


def test_two_files_text_and_a_mismatch(capsys):
    assert main(["voice", "compare", str(A1), str(B1)]) == 0
    assert "no match" in capsys.readouterr().out


def test_pairs_batch_reports_errors_per_pair_without_stopping(tmp_path, capsys):
    silence = write_silence(tmp_path / "silence.wav")
    junk = tmp_path / "junk.mp3"
    junk.write_text("not audio")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("a,b\n"
                     f"{A1},{A2}\n"
                     f"{A1},{B1}\n"
                     f"{A1},{silence}\n"
                     f"{junk},{A1}\n"
                     f"{A1},{tmp_path / 'missing.wav'}\n"
                     f"{A1},\n"
                     f"{CLIP.name},{A1}\n")  # relative path: found next to the CSV
    (tmp_path / CLIP.name).write_bytes(CLIP.read_bytes())  # the audio track of a video file
    assert main(["voice", "compare", "--pairs", str(pairs)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 7
    assert rows[0]["match"] is True and rows[1]["match"] is False
    assert rows[2] == {"a": str(A1), "b": str(silence), "error": "no_speech"}
    assert rows[3]["error"] == "unreadable" and rows[4]["error"] == "unreadable"
    assert rows[5]["error"] == "invalid_row"
    assert set(rows[6]) == {"a", "b", "similarity", "match"}  # video file read via the CSV dir


def test_each_file_is_embedded_once(monkeypatch):
    import verification.voice.voiceprint as voiceprint

    calls: list[int] = []
    real = voiceprint.enrol

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(voiceprint, "enrol", counting)
    registry = ModelRegistry.from_manifest(provider="cpu")
    cache = VoiceprintCache(registry.adapter("speaker_embedding"), registry.adapter("vad"))
    for _ in range(3):
        cache.get(A1)
        cache.get(Path(str(A1)))
    assert len(calls) == 1


@pytest.mark.parametrize("args, needle", [
    (["voice", "compare", str(A1)], "two audio files"),
    (["voice", "compare", str(A1), str(A2), "--pairs", "x.csv"], "not both"),
    (["voice", "compare", "--pairs", "/nonexistent/pairs.csv"], "no such file"),
])
def test_usage_errors_are_one_line(args, needle):
    proc = subprocess.run([sys.executable, "-m", "verification", *args], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0]


def test_csv_without_header_is_a_clear_error(tmp_path, capsys):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"{A1},{A2}\n")
    assert main(["voice", "compare", "--pairs", str(pairs)]) == 2
    assert "header" in capsys.readouterr().err
