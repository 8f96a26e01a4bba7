"""Plain-language labels for reviewers."""

from __future__ import annotations

from verification.expression.labels import event_actions, event_label
from verification.expression.spotting import SpottedEvent


def event(regions, blendshapes=(), directions=None, kind="micro", apex=12.4):  # noqa: ANN001
    return SpottedEvent(onset=apex - 0.1, apex=apex, offset=apex + 0.1, kind=kind,
                        regions=tuple(regions), amplitude=0.012, relative=8.0,
                        blendshapes=tuple(blendshapes), expression=None,
                        directions=directions or {})


def test_the_issue_example():
    ev = event(["mouth", "brow_left", "brow_right"],
               [("mouthPressLeft", 0.2), ("mouthPressRight", 0.18), ("browDownLeft", 0.12),
                ("browDownRight", 0.1)])
    assert event_label(ev, "while answering 'purpose of the loan'") == \
        "brief lip press and brow lowering at 12.4 s while answering 'purpose of the loan'"


def test_one_sided_movement_names_the_side():
    ev = event(["mouth_corner_right"], [("mouthSmileRight", 0.2)])
    assert event_actions(ev) == ["right lip-corner pull"]


def test_without_blendshapes_the_region_and_direction_name_it():
    up = event(["mouth_corner_left", "mouth_corner_right"], directions={
        "mouth_corner_left": (0.01, -0.02), "mouth_corner_right": (-0.01, -0.02)})
    assert event_actions(up) == ["lip-corner pull"]
    down = event(["brow_left", "brow_right"], directions={
        "brow_left": (0.0, 0.01), "brow_right": (0.0, 0.01)})
    assert event_actions(down) == ["brow lowering"]


def test_pronounced_and_no_context():
    ev = event(["nose"], [("noseSneerLeft", 0.4), ("noseSneerRight", 0.4)],
               kind="brief_expression", apex=3.25)
    assert event_label(ev) == "brief, pronounced nose wrinkle at 3.2 s"
