"""Passive presentation-attack measures and the decision over them (no models)."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from verification.face.pad.decision import ATTACK, LIVE, SUSPECT, UNKNOWN, assess, to_evidence
from verification.face.pad.landmarks import LandmarkMotion, landmark_motion
from verification.face.pad.measures import FrameMeasure, PairMeasure
from verification.face.pad.scene import SceneMotion
from verification.face.pad.screen import frame_sides, moire
from verification.types import Outcome

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def mesh() -> np.ndarray:
    """A real 478-point mesh (MediaPipe's own output on a London portrait), pixels + depth."""
    return np.load(DATA / "golden" / "face_tasks_api.npz")["landmarks"][0].astype(np.float64)


def project(points: np.ndarray, yaw_deg: float, focal: float = 600.0) -> np.ndarray:
    """Rotate the mesh about its centre (yaw) and project it with a pinhole camera."""
    centre = points.mean(axis=0)
    p = points - centre
    a = math.radians(yaw_deg)
    rot = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    q = p @ rot.T
    depth = focal + q[:, 2]
    out = np.empty_like(points)
    out[:, 0] = focal * q[:, 0] / depth + centre[0]
    out[:, 1] = focal * q[:, 1] / depth + centre[1]
    out[:, 2] = q[:, 2]
    return out


def test_a_flat_picture_moves_by_one_homography_a_head_does_not(mesh: np.ndarray) -> None:
    flat = mesh.copy()
    matrix = np.array([[1.02, 0.05, 6.0], [-0.04, 0.99, -3.0], [1e-4, -5e-5, 1.0]])
    moved = cv2.perspectiveTransform(flat[None, :, :2], matrix)[0]
    photo = landmark_motion(flat, np.column_stack([moved, flat[:, 2]]))
    assert photo.face_motion > 0.03 and photo.residual < 1e-6
    head = landmark_motion(project(mesh, 0.0), project(mesh, 12.0))
    assert head.face_motion > 0.03 and head.residual > 0.01  # parallax of a 3D head


def test_speech_leaves_a_residual_in_the_mouth(mesh: np.ndarray) -> None:
    spoken = mesh.copy()
    spoken[[14, 17, 87, 317, 84, 314, 178, 402], 1] += 6.0  # the lower lip drops
    motion = landmark_motion(mesh, spoken)
    assert motion.residual_mouth > 3 * motion.residual_rigid


def face_scene(box: tuple[int, int, int, int]) -> np.ndarray:
    image = np.full((480, 640), 120, np.uint8)
    x, y, w, h = box
    cv2.ellipse(image, (x + w // 2, y + h // 2), (w // 2, h // 2), 0, 0, 360, 180, -1)
    return image


def test_a_screen_border_encloses_the_face_but_a_door_does_not() -> None:
    box = (270, 150, 100, 130)
    screen = face_scene(box)
    cv2.rectangle(screen, (160, 60), (480, 420), 20, 6)
    sides = frame_sides(screen, box)
    assert sides.encloses_face and sides.sides == {"left", "right", "top", "bottom"}
    door = face_scene(box)
    cv2.line(door, (180, 40), (180, 479), 40, 6)  # jambs reach the floor, behind the body
    cv2.line(door, (460, 40), (460, 479), 40, 6)
    cv2.line(door, (180, 40), (460, 40), 40, 6)
    cv2.ellipse(door, (320, 479), (170, 190), 0, 180, 360, 150, -1)  # shoulders hide the floor
    sides = frame_sides(door, box)
    assert {"left", "right", "top"} <= sides.sides and not sides.encloses_face
    assert not frame_sides(face_scene(box), box).sides


def test_moire_stripes_stand_out_of_the_spectrum_of_a_face() -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:240, 0:320].astype(np.float32)
    skin = 140 + 30 * np.sin(xx / 40) * np.cos(yy / 55) + rng.normal(0, 2, xx.shape)
    plain = np.repeat(np.clip(skin, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    stripes = skin + 12 * np.sin(2 * np.pi * (0.23 * xx + 0.11 * yy))
    striped = np.repeat(np.clip(stripes, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    box = (110.0, 60.0, 100.0, 120.0)
    assert moire(plain, box).strength < 300
    assert moire(striped, box).strength > 2000
    assert moire(plain[:50, :50], (5.0, 5.0, 30.0, 30.0)) is None  # too small to judge


def frames_of(n: int, mouth: np.ndarray | None = None, sides: frozenset[str] = frozenset(),
              moire_level: float = 150.0) -> list[FrameMeasure]:
    mouth = np.full(n, 0.05) if mouth is None else mouth
    return [FrameMeasure(t=0.2 * i, iod_px=60.0, mouth=float(mouth[i]), eyes=0.3, blink=0.05,
                         sides=sides, encloses_face="bottom" in sides and len(sides) >= 3,
                         moire_luma=moire_level, moire_chroma=moire_level / 2, glare=0.0,
                         tone_floor=0.05) for i in range(n)]


def pairs_of(n: int, motion: float, residual: float, pixels: float = 4.0,
             scene: SceneMotion | None = None) -> list[PairMeasure]:
    return [PairMeasure(t0=0.2 * i, t1=0.2 * (i + 1), pixel_change=pixels,
                        motion=LandmarkMotion(motion, residual, residual, residual), scene=scene)
            for i in range(n - 1)]


def test_decisions_on_typical_sessions() -> None:
    n = 15
    speech = 0.15 + 0.1 * np.sin(np.arange(n) * 1.7)
    live = assess(frames_of(n, speech), pairs_of(n, 0.015, 0.012))
    assert live.decision == LIVE
    assert [e.code for e in to_evidence(live)] == ["passive_liveness"]

    frozen = assess(frames_of(n), pairs_of(n, 0.0005, 0.0003, pixels=0.1))
    assert frozen.decision == ATTACK and "frozen_video" in frozen.reasons
    evidence = to_evidence(frozen)
    assert any(e.code == "presentation_attack" and e.outcome is Outcome.CONTRADICTS
               for e in evidence)

    photo = assess(frames_of(n), pairs_of(n, 0.2, 0.004))  # moved a lot, perfectly planar
    assert photo.decision == ATTACK and "static_face+planar_motion" in photo.reasons

    screen = assess(frames_of(n, speech, frozenset({"left", "right", "top", "bottom"}), 900.0),
                    pairs_of(n, 0.1, 0.02))
    assert screen.decision == ATTACK  # two screen cues: a frame and moiré

    framed = assess(frames_of(n, speech, frozenset({"left", "right", "top", "bottom"})),
                    pairs_of(n, 0.1, 0.02))
    assert framed.decision == SUSPECT
    assert {e.code for e in to_evidence(framed)} == {"screen_or_print_frame",
                                                     "passive_liveness_summary"}

    silent = assess(frames_of(n), pairs_of(n, 0.01, 0.009))
    assert silent.decision == UNKNOWN  # nothing shows life, nothing shows an attack
    assert assess(frames_of(3), pairs_of(3, 0.01, 0.01)).decision == UNKNOWN


def test_a_face_moving_with_the_scene_as_one_plane_is_flagged() -> None:
    n = 15
    together = SceneMotion(tracks=40, scene_motion=0.05, residual=0.004)
    result = assess(frames_of(n), pairs_of(n, 0.05, 0.012, scene=together))
    assert result.cue("moves_with_scene").verdict == SUSPECT
    assert result.decision == ATTACK  # a still picture filmed by a shaking camera
    apart = SceneMotion(tracks=40, scene_motion=0.0, residual=0.05)
    speech = 0.15 + 0.1 * np.sin(np.arange(n) * 1.7)
    assert assess(frames_of(n, speech), pairs_of(n, 0.05, 0.012, scene=apart)).decision == LIVE
    # A speaking face filmed by a shaking hand-held phone moves with the room too: not a reason
    # on its own to doubt it.
    shaken = assess(frames_of(n, speech), pairs_of(n, 0.05, 0.012, scene=together))
    assert shaken.cue("moves_with_scene").verdict == SUSPECT and shaken.decision == LIVE


def test_a_close_up_of_a_moving_screen_corner_is_doubted_a_door_is_not() -> None:
    n = 15
    speech = 0.15 + 0.1 * np.sin(np.arange(n) * 1.7)
    corner = frozenset({"left", "top"})
    together = SceneMotion(tracks=40, scene_motion=0.1, residual=0.01)
    close_up = assess(frames_of(n, speech, corner), pairs_of(n, 0.1, 0.02, scene=together))
    assert close_up.decision == SUSPECT and "corner_moves_with_face" in close_up.reasons
    still_room = SceneMotion(tracks=40, scene_motion=0.0, residual=0.1)
    door = assess(frames_of(n, speech, frozenset({"left", "right", "top"})),
                  pairs_of(n, 0.1, 0.02, scene=still_room))
    assert door.decision == LIVE
