"""Micro-expression spotting rules on synthetic motion time series (no models, fast)."""

from __future__ import annotations

import pytest

from verification.expression.spotting import SpottingConfig, spot_events

from .conftest import quiet_samples, with_movement

CFG = SpottingConfig()


def test_a_still_face_gives_no_events():
    result = spot_events(quiet_samples(), config=CFG)
    assert result.events == ()
    assert result.reliable and result.fps == pytest.approx(25.0)


def test_a_brief_lip_corner_pull_is_one_micro_event_with_onset_apex_offset():
    samples = with_movement(quiet_samples(), 4.0, 0.3, "mouth_corner_left", 0.02,
                            blendshapes={"mouthSmileLeft": 0.1})
    result = spot_events(samples, config=CFG)
    assert len(result.events) == 1
    event = result.events[0]
    assert event.kind == "micro"
    assert event.regions[0] == "mouth_corner_left"
    assert 4.1 <= event.apex <= 4.2
    assert 4.0 <= event.onset < event.apex < event.offset <= 4.3
    assert event.duration <= CFG.max_duration_s
    assert event.amplitude == pytest.approx(0.02, rel=0.05)
    assert event.relative > CFG.threshold
    assert event.blendshapes[0][0] == "mouthSmileLeft"


def test_a_large_brief_movement_is_a_brief_expression_not_a_micro_one():
    samples = with_movement(quiet_samples(), 4.0, 0.3, "mouth_corner_left", 0.09)
    (event,) = spot_events(samples, config=CFG).events
    assert event.kind == "brief_expression"


def test_a_movement_below_one_pixel_is_not_reported():
    # 0.8 % of a 70-px eye distance is 0.56 px: measurable, but nobody could see it
    samples = with_movement(quiet_samples(noise=0.0002), 4.0, 0.3, "brow_left", 0.008)
    assert spot_events(samples, config=CFG).events == ()
    # the same relative movement on a face twice as large in the frame is 1.1 px
    big = with_movement(quiet_samples(noise=0.0002, iod_px=140.0), 4.0, 0.3, "brow_left", 0.008)
    assert len(spot_events(big, config=CFG).events) == 1


def test_lower_face_movement_during_speech_is_excluded_upper_face_is_not():
    samples = with_movement(quiet_samples(), 4.0, 0.3, "mouth", 0.03)
    samples = with_movement(samples, 7.0, 0.3, "brow_right", 0.03)
    result = spot_events(samples, speech=[(3.5, 8.0)], config=CFG)
    assert [e.regions[0] for e in result.events] == ["brow_right"]
    assert result.excluded["speech"] > 0
    # without the voice activity the lip movement would have been read as a cue
    assert len(spot_events(samples, config=CFG).events) == 2


def test_mouth_movement_just_before_the_voice_starts_is_speech_too():
    # the lips move ~0.3 s before the voice starts (and settle after it stops)
    samples = with_movement(quiet_samples(), 3.6, 0.25, "mouth_corner_right", 0.03)
    assert spot_events(samples, speech=[(4.0, 6.0)], config=CFG).events == ()


def test_unknown_speech_stretches_exclude_the_lower_face():
    samples = with_movement(quiet_samples(), 4.0, 0.3, "mouth", 0.03)
    assert spot_events(samples, unknown_speech=[(3.0, 5.0)], config=CFG).events == ()


def test_brow_movement_with_a_blink_is_the_blink():
    samples = with_movement(quiet_samples(), 4.0, 0.25, "brow_left", 0.03, blink=0.6)
    samples = with_movement(samples, 4.0, 0.25, "eye_left", 0.08)
    result = spot_events(samples, config=CFG)
    assert result.events == ()
    assert result.excluded["blink"] > 0


def test_head_motion_frames_are_skipped():
    samples = with_movement(quiet_samples(), 4.0, 0.3, "nose", 0.03, rigid=0.2)
    result = spot_events(samples, config=CFG)
    assert result.events == ()
    assert result.excluded["head_motion"] > 0


def test_a_slow_movement_is_not_a_micro_expression():
    samples = with_movement(quiet_samples(), 3.0, 2.0, "mouth_corner_left", 0.03)
    result = spot_events(samples, config=CFG)
    assert result.events == ()
    assert result.long_movements == 1


def test_a_strong_blendshape_rise_alone_activates_its_region():
    samples = with_movement(quiet_samples(), 4.0, 0.3, "nose", 0.0,
                            blendshapes={"noseSneerLeft": 0.5, "noseSneerRight": 0.45})
    (event,) = spot_events(samples, config=CFG).events
    assert event.regions[0] == "nose"
    assert {name for name, _ in event.blendshapes} == {"noseSneerLeft", "noseSneerRight"}


def test_threshold_is_relative_to_the_persons_own_noise():
    # a restless face (median noise about 0.4 % IOD) needs a larger movement than a still one
    movement = 0.02
    still = with_movement(quiet_samples(noise=0.0005), 4.0, 0.3, "brow_left", movement)
    restless = with_movement(quiet_samples(noise=0.006), 4.0, 0.3, "brow_left", movement)
    assert len(spot_events(still, config=CFG).events) == 1
    assert spot_events(restless, config=CFG).events == ()


def test_low_frame_rate_is_reported_unreliable():
    result = spot_events(quiet_samples(fps=5.0), config=CFG)
    assert result.fps == pytest.approx(5.0)
    assert not result.reliable


def test_max_duration_is_configurable():
    samples = with_movement(quiet_samples(), 4.0, 0.45, "mouth_corner_left", 0.03)
    assert len(spot_events(samples, config=CFG).events) == 1
    short = SpottingConfig(max_duration_s=0.2)
    assert spot_events(samples, config=short).events == ()


def test_no_samples():
    result = spot_events([], config=CFG)
    assert result.events == () and not result.reliable


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        SpottingConfig(max_duration_s=0)
