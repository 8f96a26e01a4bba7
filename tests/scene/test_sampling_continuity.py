"""Cadence of background analysis and cut detection, without models (hand-made person masks)."""

from __future__ import annotations

import numpy as np

from tests.scene.conftest import Camera, ellipse_person, expose, film
from verification.scene.continuity import ContinuityTracker, moment_of
from verification.scene.features import OrbExtractor
from verification.scene.masking import background_view_from_mask
from verification.scene.sampling import SceneSampler

SIZE = (640, 480)
FPS = 10.0


def frame(room: np.ndarray, camera: Camera) -> np.ndarray:
    return expose(film(room, camera, SIZE), camera)


def drive(frames: list[np.ndarray], fps: float = FPS):
    """Sampler + continuity over frames; returns (analysed times, jumps, tracker)."""
    sampler, tracker, orb = SceneSampler(), ContinuityTracker(), OrbExtractor()
    analysed, abrupt_at = [], None
    for k, rgb in enumerate(frames):
        pts = round(k / fps, 3)
        decision, thumb = sampler.look(rgb, pts)
        if decision.abrupt and abrupt_at is None and analysed:
            abrupt_at = pts
        if not decision.analyse:
            continue
        view = background_view_from_mask(rgb, ellipse_person(SIZE))
        tracker.update(moment_of(pts, view, orb.extract(view)), abrupt_at)
        sampler.analysed(thumb, pts, view.background)
        analysed.append(pts)
        abrupt_at = None
    return analysed, tracker.jumps, tracker


def test_a_still_scene_is_analysed_once_a_second(desk) -> None:
    still = frame(desk, Camera())
    analysed, jumps, tracker = drive([still] * int(5 * FPS))
    assert analysed == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert jumps == [] and len(tracker.segments) == 1


def test_a_cut_is_analysed_at_once_and_is_a_verified_jump(desk, garage) -> None:
    frames = [frame(desk, Camera())] * 23 + [frame(garage, Camera())] * 17
    analysed, jumps, tracker = drive(frames)
    assert 2.3 in analysed  # the cut at 2.3 s triggers an analysis before the routine one
    assert len(jumps) == 1
    assert jumps[0].verified and jumps[0].at == 2.3 and jumps[0].before == 2.0
    assert len(tracker.segments) == 2 and tracker.segments[1].start == 2.3


def test_a_slow_pan_is_not_a_jump(desk) -> None:
    frames = [frame(desk, Camera(shift_x=-0.04 + 0.002 * k, roll_deg=0.05 * k))
              for k in range(40)]
    analysed, jumps, _ = drive(frames)
    assert jumps == []


def test_constant_change_cannot_multiply_the_cost(desk, garage, corridor) -> None:
    rooms = [desk, garage, corridor]
    frames = [frame(rooms[k % 3], Camera()) for k in range(int(3 * FPS))]  # a cut every frame
    analysed, _, _ = drive(frames)
    assert len(analysed) <= 2 * 3 + 1  # one routine and at most one early analysis a second


def test_a_cut_between_plain_walls_is_judged_by_colour_and_unverified() -> None:
    grey = np.full((480, 640, 3), (150, 150, 150), np.uint8)
    red = np.full((480, 640, 3), (200, 40, 40), np.uint8)
    ramp = np.linspace(0, 60, 640, dtype=np.float32)[None, :, None]
    frames = ([np.clip(grey + ramp, 0, 255).astype(np.uint8)] * 15
              + [np.clip(red + ramp[:, ::-1], 0, 255).astype(np.uint8)] * 15)
    _, jumps, _ = drive(frames)
    assert len(jumps) == 1 and not jumps[0].verified
    assert jumps[0].colour_similarity < 0.7


def test_a_flickering_feed_keeps_a_bounded_number_of_keyframes(desk, garage) -> None:
    from verification.scene.continuity import MAX_KEPT_KEYFRAMES

    a, b = frame(desk, Camera()), frame(garage, Camera())
    frames = [a if (k // 3) % 2 == 0 else b for k in range(int(12 * FPS))]
    _, jumps, tracker = drive(frames)
    assert len(jumps) >= MAX_KEPT_KEYFRAMES
    kept = [s for s in tracker.segments if s.keyframe is not None]
    assert len(kept) <= MAX_KEPT_KEYFRAMES and tracker.segments[-1].keyframe is not None
