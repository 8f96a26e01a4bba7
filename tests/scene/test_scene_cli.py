"""``verification scene compare`` (the exact CLI contract) and the background check in
``verification analyze`` - on composites written by the test from real photos."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from benchmarks.scene_composites import Camera, composite
from verification.cli import main

SAME_KEYS = {"a", "b", "similarity", "same_place"}
ERROR_KEYS = {"a", "b", "error"}


def write_rgb(path: Path, rgb: np.ndarray) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


@pytest.fixture(scope="module")
def shots(tmp_path_factory, people, desk, garage) -> dict[str, Path]:
    """Desk with 001, desk with 030 (other framing), garage with 001: written as JPEGs."""
    folder = tmp_path_factory.mktemp("shots")
    return {
        "desk_001": write_rgb(folder / "desk_001.jpg",
                              composite(desk, people["001"], Camera(), 0.75, 0.45)),
        "desk_030": write_rgb(folder / "desk_030.jpg",
                              composite(desk, people["030"], Camera(zoom=1.05, shift_x=0.03,
                                                                     gain=0.9), 0.7, 0.55)),
        "garage_001": write_rgb(folder / "garage_001.jpg",
                                composite(garage, people["001"], Camera(), 0.75, 0.45)),
    }


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_compare_two_images_json(shots, capsys) -> None:
    assert main(["scene", "compare", str(shots["desk_001"]), str(shots["desk_030"]),
                 "--json"]) == 0
    out = lines(capsys.readouterr().out)
    assert len(out) == 1 and set(out[0]) == SAME_KEYS
    assert out[0]["a"] == str(shots["desk_001"]) and out[0]["same_place"] is True
    assert 0.5 <= out[0]["similarity"] <= 1.0

    assert main(["scene", "compare", str(shots["desk_001"]), str(shots["garage_001"]),
                 "--json"]) == 0
    different = lines(capsys.readouterr().out)[0]
    assert different["same_place"] is False and different["similarity"] < 0.5


def test_compare_two_images_for_people(shots, capsys) -> None:
    assert main(["scene", "compare", str(shots["desk_030"]), str(shots["desk_001"])]) == 0
    assert capsys.readouterr().out.startswith("same place: similarity ")


def test_pairs_batch_goes_on_past_bad_files_and_reads_each_file_once(shots, tmp_path,
                                                                     capsys) -> None:
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("hello")
    write_rgb(tmp_path / "beside.jpg",
              cv2.cvtColor(cv2.imread(str(shots["desk_030"])), cv2.COLOR_BGR2RGB))
    pairs = tmp_path / "pairs.csv"
    rows = [(shots["desk_001"], shots["desk_030"]), (shots["desk_001"], tmp_path / "missing.png"),
            (not_an_image, shots["garage_001"]), (shots["desk_001"], shots["garage_001"]),
            (shots["desk_001"], "beside.jpg")]  # relative to the CSV's folder
    pairs.write_text("a,b\n" + "".join(f"{a},{b}\n" for a, b in rows))
    assert main(["scene", "compare", "--pairs", str(pairs)]) == 0
    captured = capsys.readouterr()
    out = lines(captured.out)
    assert [(o["a"], o["b"]) for o in out] == [(str(a), str(b)) for a, b in rows]
    assert set(out[0]) == SAME_KEYS and out[0]["same_place"] is True
    assert set(out[1]) == ERROR_KEYS and "missing.png" in out[1]["error"]
    assert set(out[2]) == ERROR_KEYS and "not a readable image" in out[2]["error"]
    assert set(out[3]) == SAME_KEYS and out[3]["same_place"] is False
    assert out[4]["same_place"] is True
    # desk_001, desk_030, missing, notes, garage_001, beside: six files, each read once
    assert "6 files read" in captured.err


def test_pairs_file_errors_are_one_clear_line(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("left,right\nx.jpg,y.jpg\n")
    assert main(["scene", "compare", "--pairs", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "columns a,b" in err and "Traceback" not in err
    assert main(["scene", "compare", "--pairs", str(tmp_path / "none.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["scene", "compare", "one.jpg"]) == 2
    assert "two images" in capsys.readouterr().err
    assert main(["scene", "compare", "a.jpg", "b.jpg", "--pairs", str(bad)]) == 2
    assert main(["scene", "compare", str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")]) == 2
    assert "cannot read file" in capsys.readouterr().err


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 5) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 2_000_000
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.slow
def test_analyze_reports_the_background_check(tmp_path, people, desk, garage, capsys,
                                              monkeypatch) -> None:
    """A 6 s recording that cuts from the desk to the garage at 3 s, index opted in."""
    frames = ([composite(desk, people["001"], Camera(shift_x=0.002 * k), 0.75, 0.5)
               for k in range(15)]
              + [composite(garage, people["001"], Camera(), 0.75, 0.5) for _ in range(15)])
    video = write_clip(tmp_path / "interview.mp4", frames)
    geo = tmp_path / "geo.json"
    geo.write_text(json.dumps({"declared": {"type": "machine shop", "address": "1 Main St",
                                            "lat": 51.5, "lon": -0.12}}))
    index = tmp_path / "scene_index"
    monkeypatch.setenv("VERIFICATION_SCENE_INDEX", str(index))
    assert main(["analyze", str(video), "--geo", str(geo), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    background = [e for e in report["evidence"] if e["check"] == "background"]
    codes = {e["code"] for e in background}
    assert "background_jump" in codes and "background_summary" in codes
    jump = next(e for e in background if e["code"] == "background_jump")
    assert jump["details"]["at"] == pytest.approx(3.0, abs=0.21)
    profile = next(e for e in background if e["code"].startswith("scene_"))
    assert profile["details"]["declared_type"] == "machine shop"
    assert report["verdict"]["checks"]["background"]["status"] == "contradicted"
    assert (index / "scene_index.sqlite3").is_file()  # opted in: the index was written
