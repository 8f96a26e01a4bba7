"""Face match: still encoding, calibrated similarity, the ID-photo edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from verification.face.match import FaceMatcher, MatchCalibration, NoFaceError
from verification.video.images import load_image

from .conftest import DATA, image, two_faces


@pytest.fixture(scope="module")
def matcher(registry) -> FaceMatcher:
    return FaceMatcher.from_registry(registry)


@pytest.fixture(scope="module")
def faces(matcher):
    names = ["faces_id/097_neutral.jpg", "faces_id/097_smiling.jpg", "faces_id/107_neutral.jpg",
             "faces_id/107_smiling.jpg", "faces/london_001_neutral.jpg",
             "faces/london_001_smiling.jpg", "faces/london_061_neutral.jpg"]
    return {n: matcher.encode_file(DATA / n).embedding for n in names}


def test_calibration_is_sane(matcher):
    cal = matcher.calibration
    assert cal.mean.shape == (128,) and cal.whitening.shape == (128, 128)
    assert np.allclose(cal.whitening, cal.whitening.T, atol=1e-4)
    assert -1 < cal.mismatch_threshold < cal.threshold < 1
    assert cal.info["far_target"] == 0.001


def test_same_person_matches_and_different_people_do_not(matcher, faces):
    same = [("faces_id/097_neutral.jpg", "faces_id/097_smiling.jpg"),
            ("faces_id/107_neutral.jpg", "faces_id/107_smiling.jpg"),
            ("faces/london_001_neutral.jpg", "faces/london_001_smiling.jpg")]
    for a, b in same:
        assert matcher.compare(faces[a], faces[b]).match, (a, b)
    names = ["faces_id/097_neutral.jpg", "faces_id/107_neutral.jpg",
             "faces/london_001_neutral.jpg", "faces/london_061_neutral.jpg"]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            result = matcher.compare(faces[a], faces[b])
            assert not result.match and result.similarity < matcher.calibration.mismatch_threshold


def test_similarity_is_a_monotone_function_of_embedding_distance(matcher, faces):
    cal = matcher.calibration
    vectors = list(faces.values())
    pairs = [(a, b) for i, a in enumerate(vectors) for b in vectors[i + 1:]]
    sims = [matcher.compare(a, b).similarity for a, b in pairs]
    dists = [float(np.linalg.norm(cal.normalize(a.vector) - cal.normalize(b.vector)))
             for a, b in pairs]
    for s, d in zip(sims, dists, strict=True):
        assert s == pytest.approx(1 - d * d / 2, abs=1e-6)
    assert matcher.compare(vectors[0], vectors[0]).similarity == pytest.approx(1.0)


def test_flip_averaging_is_symmetric(matcher):
    rgb = image("faces_id/097_neutral.jpg")
    direct = matcher.encode_image(rgb).embedding
    mirrored = matcher.encode_image(np.ascontiguousarray(rgb[:, ::-1])).embedding
    assert matcher.compare(direct, mirrored).similarity > 0.95


def test_no_face_several_faces_and_unreadable(matcher, tmp_path):
    with pytest.raises(NoFaceError) as err:
        matcher.encode_image(image("faces/scene_coffee.jpg"))
    assert err.value.code == "no_face"
    several = matcher.encode_image(two_faces())
    assert several.n_faces == 2 and several.warnings
    junk = tmp_path / "photo.jpg"
    junk.write_bytes(b"not a jpeg")
    with pytest.raises(Exception) as err:
        matcher.encode_file(junk)
    assert getattr(err.value, "code", "") == "unreadable"


def test_calibration_round_trip(tmp_path):
    cal = MatchCalibration(np.zeros(128), np.eye(128), 0.7, {"x": 1}, reject_threshold=0.5)
    cal.save(tmp_path / "c.npz")
    loaded = MatchCalibration.load(tmp_path / "c.npz")
    assert loaded.threshold == pytest.approx(0.7) and loaded.mismatch_threshold == 0.5
    assert loaded.info == {"x": 1}
    with pytest.raises(Exception) as err:
        MatchCalibration.load(tmp_path / "absent.npz")
    assert "eval_face_match" in str(err.value)
    assert load_image(DATA / "faces_id" / "097_neutral.jpg").shape == (480, 480, 3)
