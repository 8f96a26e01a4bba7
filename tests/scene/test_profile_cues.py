"""Scene profile vs declared business, attack/coaching cues, settings - no models needed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.scene.conftest import ellipse_person
from verification.errors import InvalidInputError
from verification.scene.analyzer import declared_business_type
from verification.scene.config import SceneSettings
from verification.scene.cues import OTHER_PERSON, PHONE, SCREEN_NEAR_FACE, moment_objects
from verification.scene.masking import background_view_from_mask
from verification.scene.objects import DetectedObject
from verification.scene.profile import SceneMapping, SceneProfileBuilder, judge_fit


def profile_of(*moments: set[str], mapping: SceneMapping | None = None):
    builder = SceneProfileBuilder(mapping or SceneMapping.default())
    for labels in moments:
        builder.add(labels)
    return builder.build()


def test_bedroom_behind_a_machine_shop_is_a_conflict_with_reasons() -> None:
    profile = profile_of({"bed"}, {"bed", "teddy bear"}, {"bed"}, set())
    fit = judge_fit(profile, "Machine Shop", SceneMapping.default())
    assert fit.fit == "conflicts" and fit.business == "machine_shop"
    assert "bedroom" in fit.reasons[0] and any("bed in 75% of moments" in r for r in fit.reasons)
    assert fit.details()["present"] == ["bedroom"]


def test_office_objects_fit_an_office_and_not_a_conflict_for_a_garage() -> None:
    moments = [{"keyboard", "mouse", "tv"}] * 4
    assert judge_fit(profile_of(*moments), "consulting", SceneMapping.default()).fit == "fits"
    # an office behind a garage is neither expected nor conflicting: nothing to say
    assert judge_fit(profile_of(*moments), "auto-repair", SceneMapping.default()).fit == "unknown"


def test_one_spurious_detection_does_not_make_a_bedroom() -> None:
    profile = profile_of({"bed"}, set(), set(), set(), set())
    assert profile.present() == []
    assert judge_fit(profile, "machine shop", SceneMapping.default()).fit == "unknown"


def test_unknown_or_missing_declared_type_is_unknown() -> None:
    profile = profile_of({"bed"}, {"bed"}, {"bed"})
    assert judge_fit(profile, None, SceneMapping.default()).fit == "unknown"
    unknown = judge_fit(profile, "space agency", SceneMapping.default())
    assert unknown.fit == "unknown" and "not in the scene mapping" in unknown.reasons[0]
    assert judge_fit(profile_of({"bed"}), "machine shop", SceneMapping.default()).fit == "unknown"


def test_mapping_loads_from_toml_and_json_and_rejects_bad_tables(tmp_path) -> None:
    toml = tmp_path / "mapping.toml"
    toml.write_text('[place_kinds.farm]\ncow = 1.0\nsheep = 1.0\n'
                    '[business_types.dairy]\naliases = ["milk farm"]\nexpected = ["farm"]\n'
                    'conflicting = []\n')
    mapping = SceneMapping.load(toml)
    assert mapping.business("Milk-Farm").name == "dairy"
    fit = judge_fit(profile_of({"cow"}, {"cow"}, {"cow"}, mapping=mapping), "dairy", mapping)
    assert fit.fit == "fits"
    as_json = tmp_path / "mapping.json"
    as_json.write_text(json.dumps({"place_kinds": {"farm": {"cow": 1}},
                                   "business_types": {"dairy": {"expected": ["farm"]}}}))
    assert SceneMapping.load(as_json).business("dairy") is not None
    bad_label = tmp_path / "bad.json"
    bad_label.write_text(json.dumps({"place_kinds": {"farm": {"tractor": 1}},
                                     "business_types": {}}))
    with pytest.raises(InvalidInputError, match="tractor"):
        SceneMapping.load(bad_label)
    bad_kind = tmp_path / "bad2.json"
    bad_kind.write_text(json.dumps({"place_kinds": {}, "business_types": {
        "dairy": {"expected": ["farm"]}}}))
    with pytest.raises(InvalidInputError, match="unknown place kinds"):
        SceneMapping.load(bad_kind)
    broken = tmp_path / "broken.toml"
    broken.write_text("[[[")
    with pytest.raises(InvalidInputError, match="not valid TOML"):
        SceneMapping.load(broken)
    with pytest.raises(InvalidInputError, match="cannot read"):
        SceneMapping.load(tmp_path / "missing.toml")
    with pytest.raises(InvalidInputError):
        SceneMapping.from_dict({"nothing": 1})


def test_declared_type_comes_from_the_geo_json() -> None:
    assert declared_business_type({"declared": {"type": " machine shop "}}) == "machine shop"
    assert declared_business_type({"declared": {"address": "x"}}) is None
    assert declared_business_type({"declared": "a string"}) is None
    assert declared_business_type({}) is None
    assert declared_business_type({"declared": {"type": 5}}) is None


# ----------------------------------------------------------------------------- cues

SIZE = (640, 480)
FACE = (290.0, 150.0, 350.0, 230.0)  # the applicant's face, on the ellipse "person"


@pytest.fixture()
def view():
    image = np.full((480, 640, 3), 128, np.uint8)
    return background_view_from_mask(image, ellipse_person(SIZE))


def obj(label: str, box, score: float = 0.8) -> DetectedObject:
    return DetectedObject(label=label, score=score, box_xyxy=box)


def codes(moment) -> list[str]:
    return sorted(c.code for c in moment.cues)


def test_the_applicant_is_not_another_person(view) -> None:
    applicant = obj("person", (130.0, 80.0, 510.0, 480.0), 0.9)
    assert codes(moment_objects([applicant], view, FACE)) == []


def test_someone_standing_beside_is_another_person(view) -> None:
    helper = obj("person", (10.0, 40.0, 110.0, 400.0), 0.7)
    assert codes(moment_objects([helper], view, FACE)) == [OTHER_PERSON]
    faint = obj("person", (10.0, 40.0, 110.0, 400.0), 0.3)
    assert codes(moment_objects([faint], view, FACE)) == []
    assert codes(moment_objects([], view, FACE, extra_faces=1)) == [OTHER_PERSON]


def test_phone_anywhere_and_screens_only_by_the_face(view) -> None:
    phone = obj("cell phone", (560.0, 300.0, 600.0, 380.0), 0.5)
    laptop_near = obj("laptop", (380.0, 150.0, 450.0, 220.0), 0.6)
    tv_far = obj("tv", (560.0, 10.0, 635.0, 60.0), 0.7)
    moment = moment_objects([phone, laptop_near, tv_far], view, FACE)
    assert codes(moment) == [PHONE, SCREEN_NEAR_FACE]
    assert {"cell phone", "laptop", "tv"} <= moment.background_labels
    # without a face there is no "near the face"
    assert codes(moment_objects([laptop_near], view, None)) == []


def test_settings_from_environment(tmp_path) -> None:
    assert SceneSettings.from_env({}).index_dir is None  # analyze: opt-in
    assert SceneSettings.from_env({}, data_dir=tmp_path).index_dir == tmp_path / "scene_index"
    on = SceneSettings.from_env({"VERIFICATION_SCENE_INDEX": str(tmp_path / "i")})
    assert on.index_dir == tmp_path / "i"
    off = SceneSettings.from_env({"VERIFICATION_SCENE_INDEX": "off"}, data_dir=tmp_path)
    assert off.index_dir is None
    assert SceneSettings.from_env({"VERIFICATION_SCENE_INTERVAL_S": "2"}).sample_interval_s == 2
    with pytest.raises(InvalidInputError):
        SceneSettings.from_env({"VERIFICATION_SCENE_INTERVAL_S": "soon"})
    with pytest.raises(InvalidInputError):
        SceneSettings.from_env({"VERIFICATION_SCENE_INTERVAL_S": "0"})


def test_generic_objects_never_make_a_kind_of_place_on_their_own() -> None:
    # a desk with a monitor, a plant and a cup: an office, not a living room or a kitchen
    desk = [{"keyboard", "mouse", "tv", "potted plant", "cup", "bowl"}] * 4
    profile = profile_of(*desk)
    assert profile.present() == ["office"]
    assert judge_fit(profile, "machine shop", SceneMapping.default()).fit == "unknown"
    assert profile_of(*[{"tv", "potted plant", "vase"}] * 4).present() == []
