"""Print cues: paper texture and flat shading under pose change.

On real media: a real talking GRID face (tests/data/video) against prints of the *same* face
rendered in the test (benchmarks.liveness_attacks: ink on paper, held in front of a webcam),
so that only the reproduction differs. The decision rules are checked on plain measures.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks import liveness_attacks as la
from verification.face.observation import FaceTracker
from verification.face.pad import PresentationAttackCue
from verification.face.pad.decision import ATTACK, LIVE, SUSPECT, UNKNOWN, assess, to_evidence
from verification.face.pad.landmarks import LandmarkMotion
from verification.face.pad.measures import FrameMeasure, PairMeasure
from verification.face.pad.shading import ShadingMeasure, turn
from verification.face.pad.texture import TextureMeasure, paper_texture
from verification.types import VideoFrame

DATA = Path(__file__).resolve().parents[1] / "data"
FPS = 5.0


@pytest.fixture(scope="module")
def talking(grid) -> list[np.ndarray]:  # noqa: ANN001 - the conftest's real GRID clip
    return grid[0]


@pytest.fixture(scope="module")
def background() -> np.ndarray:
    image = cv2.imread(str(DATA / "scenes" / "office_desk_tum_fr1.jpg"))
    return la.fit_background(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def observe(tracker: FaceTracker, frames: list[np.ndarray]) -> PresentationAttackCue:
    tracker.reset()
    pad = PresentationAttackCue()
    for i, image in enumerate(frames):
        frame = VideoFrame(np.ascontiguousarray(image), pts=i / FPS, index=i)
        pad.observe(tracker.observe(frame.image, frame.pts, i), frame)
    return pad


def texture_of(tracker: FaceTracker, image: np.ndarray) -> TextureMeasure:
    tracker.reset()
    observation = tracker.observe(image, 0.0)
    assert observation.geometry is not None
    measure = paper_texture(image, observation.geometry.five_points)
    assert measure is not None
    return measure


def test_a_print_of_the_same_face_has_paler_skin_and_less_fine_detail(
        tracker, talking, background) -> None:
    for source in (talking[2], talking[8]):
        real = texture_of(tracker, source)
        prints = [texture_of(tracker, la.print_attack_frames(source, background, seed=s, n=2)[1])
                  for s in range(3)]
        # Ink pulls the skin's chromaticity towards grey; a second imaging blurs the detail.
        assert np.mean([p.chroma for p in prints]) < 0.92 * real.chroma
        assert np.mean([p.fine_detail for p in prints]) < real.fine_detail


def test_a_real_talking_face_is_inside_the_live_texture_envelope(tracker, talking) -> None:
    result = observe(tracker, talking).assessment()
    paper = result.cue("paper_texture")
    assert paper is not None and paper.verdict == LIVE and paper.value == 0.0
    assert result.decision == LIVE


def tilted_print(source: np.ndarray, background: np.ndarray, n: int = 10,
                 tilt_deg: float = 30.0) -> list[np.ndarray]:
    """The printed face turned left and right by hand under a lamp (matte paper: the lamp
    brightens or darkens the whole card as it tilts, uniformly)."""
    rng = np.random.default_rng(4)
    card = la.printed_card(source, rng)
    frames = []
    for k in range(n):
        yaw = tilt_deg * math.sin(2 * math.pi * k / n)
        pose = la.PlanePose(yaw=yaw, pitch=0.0, roll=0.0, dx=0.0, dy=0.0, scale=1.0)
        homography = la.plane_homography((card.shape[1], card.shape[0]), (0.5, 0.5, 0.8), pose)
        lit = np.clip(card.astype(np.float32) * (1.0 + 0.012 * yaw), 0, 255).astype(np.uint8)
        frames.append(la.camera(la.composite(background, lit, homography), rng))
    return frames


def test_a_tilted_print_shows_flat_shading_a_talking_face_is_not_judged(
        tracker, talking, background) -> None:
    printed = observe(tracker, tilted_print(talking[5], background)).assessment()
    flat = printed.cue("flat_shading")
    assert flat is not None and flat.verdict == SUSPECT, flat
    assert flat.details["turn_spread"] >= 0.15 and flat.details["left_right_spread"] <= 0.04
    assert flat.details["turn_yaw_correlation"] <= -0.5  # the mesh's yaw moved along
    assert printed.decision == ATTACK  # with the card's edges around the face
    assert any("flat_shading" in reason and "frame_around_face" in reason
               for reason in printed.reasons), printed.reasons

    real = observe(tracker, talking).assessment()
    assert real.cue("flat_shading").verdict == UNKNOWN  # a seated speaker hardly turns


def test_turn_reads_the_foreshortening_of_a_face_seen_from_one_side() -> None:
    mesh = np.load(DATA / "golden" / "face_tasks_api.npz")["landmarks"][0].astype(np.float64)
    frontal = turn(mesh)
    squeezed = mesh.copy()  # the applicant's left half (image right) foreshortened
    nose_x = squeezed[1, 0]
    right_side = squeezed[:, 0] > nose_x
    squeezed[right_side, 0] = nose_x + 0.7 * (squeezed[right_side, 0] - nose_x)
    assert turn(squeezed) < frontal - 0.3


# -- the decision over plain measures ---------------------------------------------------------
def frames_with(n: int, mouth: np.ndarray, texture: TextureMeasure | None,
                shading: list[ShadingMeasure] | None,
                sides: frozenset[str] = frozenset()) -> list[FrameMeasure]:
    return [FrameMeasure(t=0.2 * i, iod_px=60.0, mouth=float(mouth[i]), eyes=0.3, blink=0.05,
                         sides=sides, encloses_face=len(sides) == 4, moire_luma=150.0,
                         moire_chroma=75.0, glare=0.0, tone_floor=0.05, texture=texture,
                         shading=None if shading is None else shading[i]) for i in range(n)]


def still_pairs(n: int) -> list[PairMeasure]:
    return [PairMeasure(t0=0.2 * i, t1=0.2 * (i + 1), pixel_change=4.0,
                        motion=LandmarkMotion(0.01, 0.012, 0.012, 0.012), scene=None)
            for i in range(n - 1)]


N = 15
SPEECH = 0.15 + 0.1 * np.sin(np.arange(N) * 1.7)
SILENT = np.full(N, 0.05)
TURNING = [0.3 * math.sin(i) for i in range(N)]


def test_paper_texture_corroborates_but_never_rejects_alone() -> None:
    paper = TextureMeasure(chroma=0.02, fine_detail=0.2)
    static = assess(frames_with(N, SILENT, paper, None), still_pairs(N))
    assert static.cue("paper_texture").verdict == SUSPECT
    assert static.decision == SUSPECT and static.reasons == ("paper_texture",)
    assert "paper_texture" in {e.code for e in to_evidence(static)}  # review, with its code
    framed = assess(frames_with(N, SILENT, paper, None, frozenset(
        {"left", "right", "top", "bottom"})), still_pairs(N))
    assert framed.decision == ATTACK and "frame_around_face+paper_texture" in framed.reasons
    assert any(e.code == "presentation_attack" for e in to_evidence(framed))
    # A speaking face with pale, soft skin (an odd white balance, a poor link) stays live.
    speaking = assess(frames_with(N, SPEECH, paper, None), still_pairs(N))
    assert speaking.cue("paper_texture").verdict == SUSPECT and speaking.decision == LIVE
    skin = TextureMeasure(chroma=0.1, fine_detail=0.5)
    assert assess(frames_with(N, SPEECH, skin, None), still_pairs(N)).cue(
        "paper_texture").verdict == LIVE


def test_flat_shading_needs_a_clear_turn_and_unchanging_brightness() -> None:
    flat = [ShadingMeasure(yaw=-10 * t, pitch=0.0, turn=t, left_right=0.01, upper_lower=0.0)
            for t in TURNING]
    result = assess(frames_with(N, SILENT, None, flat), still_pairs(N))
    assert result.cue("flat_shading").verdict == SUSPECT and result.decision == SUSPECT
    assert {e.code for e in to_evidence(result)} >= {"flat_shading_under_pose_change"}
    lit = [ShadingMeasure(yaw=-10 * t, pitch=0.0, turn=t, left_right=0.4 * t, upper_lower=0.0)
           for t in TURNING]
    assert assess(frames_with(N, SILENT, None, lit), still_pairs(N)).cue(
        "flat_shading").verdict == LIVE
    still = [ShadingMeasure(yaw=0.0, pitch=0.0, turn=0.01 * t, left_right=0.0, upper_lower=0.0)
             for t in TURNING]
    assert assess(frames_with(N, SILENT, None, still), still_pairs(N)).cue(
        "flat_shading").verdict == UNKNOWN
    # The contour jitters (turn moves) but the mesh's yaw does not follow: no turn to judge.
    jitter = [ShadingMeasure(yaw=0.3 * math.cos(3 * i), pitch=0.0, turn=t, left_right=0.0,
                             upper_lower=0.0) for i, t in enumerate(TURNING)]
    assert assess(frames_with(N, SILENT, None, jitter), still_pairs(N)).cue(
        "flat_shading").verdict == UNKNOWN
    # Diffuse light on a speaking face: flat shading alone is no reason to doubt it.
    assert assess(frames_with(N, SPEECH, None, flat), still_pairs(N)).decision == LIVE
