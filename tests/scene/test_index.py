"""The on-disk fingerprint index: search, persistence across restarts, other writers, bad files."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from tests.scene.conftest import Camera, ellipse_person, expose, film
from verification.scene.fingerprint import Fingerprinter
from verification.scene.index import INDEX_FILE, IndexEntry, SceneIndex, SceneIndexError
from verification.scene.masking import background_view_from_mask

SIZE = (640, 480)


def fp(room: np.ndarray, camera: Camera, centre_x: float = 0.5):
    frame = expose(film(room, camera, SIZE), camera)
    view = background_view_from_mask(frame, ellipse_person(SIZE, centre_x))
    return Fingerprinter(masker=None).from_view(view)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def shots(desk, corridor, garage):
    return {
        "desk_a": fp(desk, Camera()),
        "desk_b": fp(desk, Camera(zoom=1.04, shift_x=0.03, gain=0.9), centre_x=0.4),
        "corridor": fp(corridor, Camera()),
        "garage": fp(garage, Camera()),
    }


def face(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.1, 128).astype(np.float32)


def test_search_finds_the_same_place_and_survives_a_restart(tmp_path, shots) -> None:
    index = SceneIndex.open(tmp_path)
    assert len(index) == 0
    assert index.search(shots["desk_a"]).hits == ()
    index.add([IndexEntry("s-desk", shots["desk_a"], face(1)),
               IndexEntry("s-corridor", shots["corridor"]),
               IndexEntry("s-garage", shots["garage"], face(2))])
    index.close()

    reopened = SceneIndex.open(tmp_path)  # a restart: everything comes back from disk
    assert len(reopened) == 3 and reopened.sessions() == {"s-desk", "s-corridor", "s-garage"}
    result = reopened.search(shots["desk_b"])
    assert [h.session_id for h in result.hits] == ["s-desk"]
    hit = result.hits[0]
    assert hit.match.same_place and hit.candidate_rank >= 1
    np.testing.assert_allclose(hit.face, face(1))
    assert result.searched == 3 and result.latency_ms >= 0
    # a session never matches itself
    assert reopened.search(shots["desk_b"], exclude_sessions={"s-desk"}).hits == ()


def test_rows_written_by_another_process_are_searched(tmp_path, shots) -> None:
    reader = SceneIndex.open(tmp_path)
    assert reader.search(shots["garage"]).hits == ()
    writer = SceneIndex.open(tmp_path)  # e.g. `verification analyze` next to the server
    writer.add([IndexEntry("s-other", shots["garage"])])
    assert [h.session_id for h in reader.search(shots["garage"]).hits] == ["s-other"]


def test_candidate_limit_is_respected(tmp_path, shots) -> None:
    index = SceneIndex.open(tmp_path)
    index.add([IndexEntry(f"s-{i}", shots["corridor"]) for i in range(5)]
              + [IndexEntry("s-desk", shots["desk_a"])])
    result = index.search(shots["desk_b"], candidates=2)
    assert result.candidates == 2 and result.searched == 6


def test_bad_entries_and_bad_files_are_clear_errors(tmp_path, shots) -> None:
    index = SceneIndex.open(tmp_path)
    with pytest.raises(ValueError, match="face descriptor"):
        index.add([IndexEntry("s", shots["desk_a"], np.zeros(5, np.float32))])
    index.close()
    with sqlite3.connect(tmp_path / INDEX_FILE) as db:  # an index of another format version
        db.execute("UPDATE meta SET value = '999' WHERE key = 'descriptor_dim'")
    with pytest.raises(SceneIndexError, match="descriptor_dim"):
        SceneIndex.open(tmp_path)
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / INDEX_FILE).write_bytes(b"this is not a database" * 100)
    with pytest.raises(SceneIndexError, match="cannot open"):
        SceneIndex.open(garbage)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SceneIndexError):
        SceneIndex.open(blocker / "sub")
