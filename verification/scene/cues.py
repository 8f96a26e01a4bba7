"""Attack and coaching cues in one analysed moment: another person, a phone, a screen by the face.

Why these three: a helper standing by to answer questions, a phone held up (a prompt, or a
replayed face filmed off a screen), and a monitor or laptop right next to the face (a second
screen to read from, or the rig of a replay attack) are what reviewers look for in the
background of a remote interview.

Objects are NanoDet COCO detections on the whole frame (the detector needs context); the
applicant is separated from them with the person mask: a detection mostly covered by the
applicant's mask *is* the applicant (or their clothes), not a cue. "Near the face" means
the gap between the object's box and the applicant's face box is less than
:data:`NEAR_FACE_WIDTHS` face widths - an arm's reach at interview distance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from verification.scene.masking import BackgroundView
from verification.scene.objects import DetectedObject

PERSON_SCORE = 0.5
PHONE_SCORE = 0.4
SCREEN_SCORE = 0.45
PROFILE_SCORE = 0.4
SCREEN_LABELS = ("tv", "laptop")
NEAR_FACE_WIDTHS = 1.0
# A detection whose box is covered this much by the applicant's mask is the applicant.
APPLICANT_COVER = 0.5
# On-background share of a box for its object to count in the scene profile.
BACKGROUND_SHARE = 0.5

OTHER_PERSON = "other_person_in_view"
PHONE = "phone_in_view"
SCREEN_NEAR_FACE = "screen_near_face"
CUE_CODES = (OTHER_PERSON, PHONE, SCREEN_NEAR_FACE)


@dataclass(frozen=True)
class Cue:
    code: str
    label: str
    score: float
    box_xyxy: tuple[float, float, float, float]  # in the original frame's pixels


@dataclass(frozen=True)
class MomentObjects:
    """One analysed moment: cues, and the labels on the background (for the scene profile)."""

    cues: tuple[Cue, ...]
    background_labels: frozenset[str]


def _scaled(box: tuple[float, float, float, float], scale: float) -> tuple[int, int, int, int]:
    return tuple(int(round(v * scale)) for v in box)  # type: ignore[return-value]


def applicant_cover(box: tuple[float, float, float, float], view: BackgroundView) -> float:
    """Share of ``box`` (original-frame pixels) that the applicant's grown mask covers."""
    x0, y0, x1, y1 = _scaled(box, view.scale)
    height, width = view.background.shape
    x0, x1 = max(0, x0), min(width, x1)
    y0, y1 = max(0, y0), min(height, y1)
    if x1 <= x0 or y1 <= y0:
        return 0.0
    return float(1.0 - view.background[y0:y1, x0:x1].mean())


def box_gap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Distance between two boxes (0 when they overlap)."""
    dx = max(0.0, max(a[0], b[0]) - min(a[2], b[2]))
    dy = max(0.0, max(a[1], b[1]) - min(a[3], b[3]))
    return float(np.hypot(dx, dy))


def moment_objects(objects: Iterable[DetectedObject], view: BackgroundView,
                   face_box: tuple[float, float, float, float] | None,
                   extra_faces: int = 0) -> MomentObjects:
    """Cues and background labels from one frame's detections.

    ``face_box`` is the applicant's face (original-frame pixels) or None; ``extra_faces`` is the
    number of further faces the face detector saw off the applicant's mask.
    """
    cues: list[Cue] = []
    labels: set[str] = set()
    face_width = (face_box[2] - face_box[0]) if face_box is not None else 0.0
    for obj in objects:
        cover = applicant_cover(obj.box_xyxy, view)
        if obj.score >= PROFILE_SCORE and cover <= 1.0 - BACKGROUND_SHARE:
            labels.add(obj.label)
        if obj.label == "person":
            if obj.score >= PERSON_SCORE and cover < APPLICANT_COVER and not _is_applicant(
                    obj.box_xyxy, face_box):
                cues.append(Cue(OTHER_PERSON, obj.label, obj.score, obj.box_xyxy))
        elif obj.label == "cell phone":
            if obj.score >= PHONE_SCORE:
                cues.append(Cue(PHONE, obj.label, obj.score, obj.box_xyxy))
        elif obj.label in SCREEN_LABELS and obj.score >= SCREEN_SCORE and face_box is not None:
            if cover < APPLICANT_COVER and box_gap(obj.box_xyxy, face_box) < (
                    NEAR_FACE_WIDTHS * face_width):
                cues.append(Cue(SCREEN_NEAR_FACE, obj.label, obj.score, obj.box_xyxy))
    if extra_faces > 0 and not any(c.code == OTHER_PERSON for c in cues):
        cues.append(Cue(OTHER_PERSON, "face", 1.0, (0.0, 0.0, 0.0, 0.0)))
    return MomentObjects(tuple(cues), frozenset(labels))


def _is_applicant(box: tuple[float, ...], face_box: tuple[float, ...] | None) -> bool:
    """A person box that contains the applicant's face centre is the applicant."""
    if face_box is None:
        return False
    cx, cy = (face_box[0] + face_box[2]) / 2.0, (face_box[1] + face_box[3]) / 2.0
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]
