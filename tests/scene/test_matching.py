"""Same place or not, without models: real photos, hand-made person masks, hand-held framing.

These tests pin the properties the fraud-ring search rests on: a re-framed, re-exposed shot of
one room matches, another room does not, and whatever sits on (or right next to) the applicant
never counts as background.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.scene.conftest import Camera, ellipse_person, expose, film
from verification.scene.descriptor import DESCRIPTOR_DIM, global_descriptor
from verification.scene.features import (
    ORB,
    LocalFeatureExtractor,
    LocalFeatures,
    OrbExtractor,
)
from verification.scene.fingerprint import BackgroundFingerprint, Fingerprinter
from verification.scene.masking import background_view_from_mask, to_working_size
from verification.scene.matching import (
    MIN_INLIERS,
    plausible_motion,
    similarity_from_inliers,
    verify_place,
)

SIZE = (640, 480)


def shot(room: np.ndarray, camera: Camera, centre_x: float = 0.5, person_patch=None):
    """A framed, exposed frame of ``room`` with a hand-made person mask (and optional patch)."""
    frame = film(room, camera, SIZE)
    mask = ellipse_person(SIZE, centre_x)
    if person_patch is not None:  # the "applicant" wears a texture: paste it under the mask
        inside = mask > 0.5
        frame[inside] = person_patch[inside]
    frame = expose(frame, camera)
    return background_view_from_mask(frame, mask)


def fingerprint(view) -> BackgroundFingerprint:
    return Fingerprinter(masker=None).from_view(view)  # type: ignore[arg-type]


def test_same_room_reframed_and_reexposed_is_the_same_place(desk) -> None:
    a = fingerprint(shot(desk, Camera(zoom=1.05, shift_x=0.03, roll_deg=1.5, gain=1.1)))
    b = fingerprint(shot(desk, Camera(zoom=0.95, shift_y=-0.03, roll_deg=-1.0, gain=0.85,
                                      offset=-8, jpeg_quality=75), centre_x=0.4))
    match = a.compare(b)
    assert match.same_place, match.reason
    assert match.inliers >= MIN_INLIERS and 0.5 <= match.similarity < 1.0


def test_real_camera_motion_in_one_room_is_the_same_place(desk, desk_moved) -> None:
    a = fingerprint(shot(desk, Camera()))
    b = fingerprint(shot(desk_moved, Camera(), centre_x=0.6))
    assert a.compare(b).same_place


def test_different_rooms_are_different_places(desk, corridor, garage) -> None:
    desk_fp = fingerprint(shot(desk, Camera()))
    for other in (corridor, garage):
        match = desk_fp.compare(fingerprint(shot(other, Camera(zoom=1.02))))
        assert not match.same_place
        assert match.similarity < 0.5


def test_the_applicant_never_counts_as_background(desk, corridor, garage) -> None:
    """The same heavily textured 'person' in two rooms must not make the rooms match."""
    patch = film(garage, Camera(zoom=1.3), SIZE)  # rich texture: a motorcycle and shelves
    a = shot(desk, Camera(), person_patch=patch)
    b = shot(corridor, Camera(), person_patch=patch)
    fa, fb = fingerprint(a), fingerprint(b)
    assert not fa.compare(fb).same_place
    for view, fp in ((a, fa), (b, fb)):  # every keypoint's support stays off the person
        x = np.round(fp.local.points[:, 0]).astype(int)
        y = np.round(fp.local.points[:, 1]).astype(int)
        assert view.background[y, x].all()
        assert (view.person_distance[y, x] > fp.local.sizes).all()


def test_local_features_round_trip_through_their_blob(desk) -> None:
    view = shot(desk, Camera())
    for features in (LocalFeatureExtractor().extract(view), OrbExtractor().extract(view)):
        back = LocalFeatures.unpack(features.pack())
        assert back.kind == features.kind and back.image_size == features.image_size
        np.testing.assert_array_equal(back.descriptors, features.descriptors)
        np.testing.assert_allclose(back.points, features.points)
        np.testing.assert_allclose(back.sizes, features.sizes, rtol=1e-3)
    with pytest.raises(ValueError):
        LocalFeatures.unpack(b"not a blob")


def test_orb_features_verify_consecutive_moments(desk) -> None:
    a = OrbExtractor().extract(shot(desk, Camera()))
    b = OrbExtractor().extract(shot(desk, Camera(shift_x=0.02, gain=1.05)))
    assert a.kind == ORB and len(a) > 100
    assert verify_place(a, b).same_place


def test_empty_or_plain_backgrounds_are_not_a_place() -> None:
    plain = np.full((480, 640, 3), 180, np.uint8)
    view = background_view_from_mask(plain, ellipse_person(SIZE))
    fp = fingerprint(view)
    assert len(fp.local) == 0
    match = fp.compare(fp)
    assert not match.same_place and match.similarity == 0.0
    everything_person = background_view_from_mask(plain, np.ones((480, 640), np.float32))
    assert everything_person.background_share == 0.0
    assert len(LocalFeatureExtractor().extract(everything_person)) == 0


def test_global_descriptor_is_unit_length_and_prefers_the_same_room(desk, garage) -> None:
    views = [shot(desk, Camera()), shot(desk, Camera(zoom=1.04, shift_x=0.02, gain=0.9)),
             shot(garage, Camera())]
    vectors = [global_descriptor(v, LocalFeatureExtractor().extract(v)) for v in views]
    for vector in vectors:
        assert vector.shape == (DESCRIPTOR_DIM,)
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])


def test_similarity_is_half_at_the_decision_threshold() -> None:
    assert similarity_from_inliers(0) == 0.0
    assert similarity_from_inliers(MIN_INLIERS) == pytest.approx(0.5)
    assert similarity_from_inliers(10 * MIN_INLIERS) > 0.9


def test_implausible_transforms_are_not_camera_motion() -> None:
    assert plausible_motion(np.eye(3))[0]
    mirror = np.diag([-1.0, 1.0, 1.0])
    assert not plausible_motion(mirror)[0]
    assert not plausible_motion(np.diag([5.0, 5.0, 1.0]))[0]
    projective = np.eye(3)
    projective[2, 0] = 0.01
    assert not plausible_motion(projective)[0]


def test_working_size_is_independent_of_input_resolution(desk) -> None:
    big = np.repeat(np.repeat(desk, 2, axis=0), 2, axis=1)
    image, scale = to_working_size(big)
    assert max(image.shape[:2]) == 640 and scale == pytest.approx(0.5)
