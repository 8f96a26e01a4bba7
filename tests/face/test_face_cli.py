"""``verification face compare``: the exact CLI contract, in-process (models load once)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from verification.cli import main
from verification.face.match import FaceMatcher

from .conftest import DATA

A = str(DATA / "faces_id" / "097_neutral.jpg")
B = str(DATA / "faces_id" / "097_smiling.jpg")
C = str(DATA / "faces_id" / "107_neutral.jpg")
NO_FACE = str(DATA / "faces" / "scene_coffee.jpg")


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["face", "compare", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_two_images_json(capsys):
    code, out, _ = run(capsys, A, B, "--json")
    result = json.loads(out)
    assert code == 0 and set(result) == {"a", "b", "similarity", "match"}
    assert result["a"] == A and result["b"] == B and result["match"] is True
    assert isinstance(result["similarity"], float)
    code, out, _ = run(capsys, A, C, "--json")
    assert json.loads(out)["match"] is False and json.loads(out)["similarity"] < 0.5


def test_two_images_plain_and_errors(capsys):
    code, out, _ = run(capsys, A, B)
    assert code == 0 and "match" in out and "similarity" in out
    code, out, err = run(capsys, A, NO_FACE)
    assert code == 2 and err.startswith("error:") and "no face" in err and "Traceback" not in err
    code, out, _ = run(capsys, A, NO_FACE, "--json")
    assert json.loads(out) == {"a": A, "b": NO_FACE, "error": "no_face"}
    code, _, err = run(capsys, A)
    assert code == 2 and err.startswith("error:")


def test_pairs_csv_one_line_per_pair_and_each_file_embedded_once(capsys, tmp_path: Path,
                                                                  monkeypatch):
    junk = tmp_path / "junk.jpg"
    junk.write_text("not an image")
    csv = tmp_path / "pairs.csv"
    csv.write_text("a,b\n"
                   f"{A},{B}\n{A},{C}\n{B},{C}\n{A},{NO_FACE}\n"
                   f"{junk},{A}\n{tmp_path / 'absent.jpg'},{A}\n,\n")
    calls: list[str] = []
    original = FaceMatcher.encode_file

    def counting(self, path):  # noqa: ANN001, ANN202
        calls.append(str(path))
        return original(self, path)

    monkeypatch.setattr(FaceMatcher, "encode_file", counting)
    code, out, _ = run(capsys, "--pairs", str(csv))
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert code == 0 and len(lines) == 7
    assert lines[0]["match"] is True and lines[1]["match"] is False and lines[2]["match"] is False
    assert set(lines[0]) == {"a", "b", "similarity", "match"}
    assert lines[3] == {"a": A, "b": NO_FACE, "error": "no_face"}
    assert lines[4]["error"] == "unreadable" and lines[5]["error"] == "unreadable"
    assert lines[6]["error"] == "invalid_row"
    assert sorted(calls) == sorted(set(calls))  # every distinct file embedded once


def test_pairs_csv_relative_paths_and_bad_csv(capsys, tmp_path: Path):
    (tmp_path / "imgs").mkdir()
    for src in (A, B):
        shutil.copy(src, tmp_path / "imgs")
    csv = tmp_path / "pairs.csv"  # paths relative to the CSV's folder, not the working dir
    csv.write_text("a,b\nimgs/097_neutral.jpg,imgs/097_smiling.jpg\n")
    code, out, _ = run(capsys, "--pairs", str(csv))
    assert code == 0 and json.loads(out)["match"] is True
    bad = tmp_path / "bad.csv"
    bad.write_text("left,right\nx,y\n")
    code, _, err = run(capsys, "--pairs", str(bad))
    assert code == 2 and "a,b" in err
    code, _, err = run(capsys, "--pairs", str(tmp_path / "absent.csv"))
    assert code == 2 and err.startswith("error:")


@pytest.mark.parametrize("args", [[A, B, "--pairs", "x.csv"], []])
def test_usage_errors(capsys, args):
    code, _, err = run(capsys, *args)
    assert code == 2 and err.startswith("error:")
