"""The load-aware analysis-rate controller: behaviour only (no timing, no media)."""

from __future__ import annotations

import pytest

from signaling.analysis_rate import (
    LIP_SYNC_STEP_TYPES,
    AnalysisRateController,
    CostSample,
    RatePolicy,
    SessionRate,
    focus_open,
)
from signaling.load import AdmissionController, LoadSnapshot


def controller(*, full: float = 5.0, floor: float = 1.0, budget: float = 0.7,
               cores: int = 2, frame_cpu_s: float = 0.04,
               fixed: float = 0.15) -> AnalysisRateController:
    rates = AnalysisRateController(RatePolicy(full, floor, budget, cores))
    rates.frame_cpu_s, rates.fixed_cores = frame_cpu_s, fixed
    return rates


def test_few_interviews_run_at_the_full_rate() -> None:
    rates = controller()
    sessions = [rates.register() for _ in range(2)]
    plan = rates.plan()
    assert plan.relaxed_fps == 5.0 and plan.fits
    assert [s.fps for s in sessions] == [5.0, 5.0]


def test_more_interviews_share_the_budget_at_a_lower_rate() -> None:
    rates = controller()
    sessions = [rates.register() for _ in range(6)]
    plan = rates.plan()
    # budget 1.4 cores - 6 x 0.15 fixed = 0.5 cores for frames = 12.5 frames/s over 6 -> 2.08
    assert plan.relaxed_fps == 2.0
    assert all(s.fps == 2.0 for s in sessions)
    assert plan.predicted_cores <= plan.budget_cores


def test_rate_falls_as_interviews_are_added_and_recovers_when_they_leave() -> None:
    rates = controller()
    sessions = [rates.register()]
    seen = [rates.plan().relaxed_fps]
    for _ in range(7):
        sessions.append(rates.register())
        seen.append(rates.plan().relaxed_fps)
    assert seen == sorted(seen, reverse=True) and seen[0] == 5.0 and seen[-1] < 5.0
    for session in sessions[1:]:
        rates.unregister(session)
    assert rates.plan().relaxed_fps == 5.0 and rates.sessions == 1


def test_focus_windows_keep_the_full_rate_and_the_others_pay_for_it() -> None:
    rates = controller()
    sessions = [rates.register() for _ in range(6)]
    before = rates.plan().relaxed_fps
    sessions[0].focus = True
    plan = rates.plan()
    assert sessions[0].fps == 5.0
    assert all(s.fps == plan.relaxed_fps for s in sessions[1:])
    assert plan.relaxed_fps < before and plan.focused == 1


def test_a_digit_reading_gets_the_lip_sync_rate() -> None:
    rates = AnalysisRateController(RatePolicy(5.0, 2.0, 0.7, 2, lip_sync_fps=12.5))
    rates.frame_cpu_s, rates.fixed_cores = 0.04, 0.15
    sessions = [rates.register() for _ in range(4)]
    before = rates.plan().relaxed_fps
    sessions[0].focus = sessions[0].lip_sync = True  # digits on screen
    sessions[1].focus = True  # a challenge
    plan = rates.plan()
    assert sessions[0].fps == 12.5 and sessions[1].fps == 5.0
    assert sessions[2].fps == sessions[3].fps == plan.relaxed_fps <= before
    frames_per_s = 12.5 + 5 + 2 * plan.relaxed_fps
    assert plan.predicted_cores == pytest.approx(4 * 0.15 + 0.04 * frames_per_s)


def test_digit_readings_are_lip_sync_windows_challenges_are_not() -> None:
    steps = [{"type": "challenge", "t": 10.0, "window": 4.0},
             {"type": "digits", "digits": "4081", "t": 28.0, "window_s": 7.4}]
    assert focus_open(steps, 30.0, LIP_SYNC_STEP_TYPES)
    assert not focus_open(steps, 12.0, LIP_SYNC_STEP_TYPES)


def test_never_below_the_floor_and_says_when_the_floor_does_not_fit() -> None:
    rates = controller(floor=1.0)
    sessions = [rates.register() for _ in range(12)]
    plan = rates.plan()
    assert all(s.fps == 1.0 for s in sessions)
    assert not plan.fits and plan.predicted_cores > plan.budget_cores


def test_planned_rates_are_whole_steps_so_noise_does_not_jitter_them() -> None:
    rates = controller()
    for _ in range(5):
        rates.register()
    fps = rates.plan().relaxed_fps
    assert (fps * 2) == int(fps * 2)


def test_costs_are_learnt_from_measurements() -> None:
    rates = controller(frame_cpu_s=0.04, fixed=0.19)
    for _ in range(30):  # 4 interviews at 5 fps: 20 frames a second costing 20 ms each,
        # 1.0 core in all (of 2) -> fixed (1.0 - 0.4) / 4 = 0.15 core an interview
        rates.observe(CostSample(interval_s=1.0, sessions=4, cpu_share=0.5, frame_cpu_s=0.4,
                                 frames=20))
    assert rates.frame_cpu_s == pytest.approx(0.02, rel=1e-3)
    assert rates.fixed_cores == pytest.approx(0.15, rel=1e-3)


def test_samples_without_frames_or_interviews_do_not_move_the_frame_cost() -> None:
    rates = controller(frame_cpu_s=0.04)
    rates.observe(CostSample(1.0, 0, 0.3, 0.0, 0))
    rates.observe(CostSample(1.0, 2, 0.3, 0.001, 1))
    assert rates.frame_cpu_s == 0.04


def test_high_latency_lowers_the_rate_even_when_the_cpu_model_says_it_fits() -> None:
    rates = controller()  # 2 interviews fit at 5 fps by the CPU model
    sessions = [rates.register() for _ in range(2)]
    seen = [rates.plan(latency_p95_ms=600).relaxed_fps for _ in range(16)]
    assert seen[0] < 5.0  # backs off at once
    assert seen == sorted(seen, reverse=True)  # and keeps backing off while latency stays high
    assert seen[-1] == 1.0 and all(s.fps == 1.0 for s in sessions)  # down to the floor
    sessions[0].focus = True
    rates.plan(latency_p95_ms=600)
    assert sessions[0].fps == 5.0  # a challenge window still gets the full rate


def test_rate_climbs_back_when_latency_is_low() -> None:
    rates = controller()
    rates.register()
    for _ in range(12):
        rates.plan(latency_p95_ms=600)
    low = rates.plan(latency_p95_ms=50).relaxed_fps
    seen = [rates.plan(latency_p95_ms=50).relaxed_fps for _ in range(60)]
    assert seen[-1] == 5.0 and seen == sorted(seen) and seen[0] >= low


def test_latency_between_the_thresholds_holds_the_rate() -> None:
    rates = controller()
    rates.register()
    rates.plan(latency_p95_ms=600)
    held = [rates.plan(latency_p95_ms=160).relaxed_fps for _ in range(10)]
    assert len(set(held)) == 1 and held[0] < 5.0


def test_an_audio_backlog_lowers_the_rate_too() -> None:
    rates = controller()
    rates.register()
    assert rates.plan(latency_p95_ms=80, audio_p95_ms=3000).relaxed_fps < 5.0
    for _ in range(40):  # frames fast but audio still behind: no climbing back
        rates.plan(latency_p95_ms=80, audio_p95_ms=800)
    assert rates.last_plan is not None and rates.last_plan.relaxed_fps < 5.0


def test_a_new_interview_starts_at_the_current_relaxed_rate() -> None:
    rates = controller()
    for _ in range(6):
        rates.register()
    plan = rates.plan()
    assert rates.register().fps == plan.relaxed_fps


def test_session_rate_interval() -> None:
    rate = SessionRate(2.0)
    assert rate.interval == 0.5


def test_policy_rejects_a_floor_above_the_full_rate() -> None:
    with pytest.raises(ValueError):
        RatePolicy(full_fps=5.0, floor_fps=6.0, cpu_budget=0.7, cores=2)


@pytest.mark.parametrize(("t", "expected"), [
    (8.5, False),  # before the challenge's baseline second
    (9.2, True),  # baseline second before the prompt
    (12.0, True),  # inside the window
    (15.5, True),  # late actions are still looked for
    (16.5, False),
    (30.0, True),  # the digit reading (window_s as the interview flow writes it)
    (50.0, False),  # a question is not a focus window
])
def test_focus_follows_challenge_and_digit_windows(t: float, expected: bool) -> None:
    steps = [{"type": "challenge", "action": "blink", "t": 10.0, "window": 4.0},
             {"type": "digits", "digits": "4081", "t": 28.0, "window_s": 7.4},
             {"type": "question", "id": "q1", "t": 48.0, "end": 55.0}]
    assert focus_open(steps, t) is expected


def test_focus_ignores_malformed_steps() -> None:
    steps = [{"type": "challenge", "t": "soon"}, "junk", {"type": "digits", "t": True}]
    assert focus_open(steps, 1.0) is False  # type: ignore[arg-type]
    assert focus_open(None, 1.0) is False


def snapshot(sessions: int, cpu: float) -> LoadSnapshot:
    return LoadSnapshot(sessions=sessions, warming=0, cpu_share=cpu, cpu_per_session=0.17,
                        loop_lag_p95_ms=1.0, latency_p50_ms=50.0, latency_p95_ms=100.0,
                        rss_bytes=0)


def test_admission_with_rate_control_predicts_from_the_floor_rates() -> None:
    admission = AdmissionController(max_sessions=64, latency_budget_ms=250, cpu_threshold=0.85,
                                    admission_interval_s=0)
    rates = controller(floor=1.0, fixed=0.15, frame_cpu_s=0.04)  # 0.19 core an interview
    admission.rates = rates
    # The machine is busy (slowed-down interviews fill the budget) but the floors leave room:
    assert admission.decide(snapshot(5, 0.7)).admit
    # 9 interviews at the floor would need 1.71 of 2 cores: over the 85 % threshold
    decision = admission.decide(snapshot(8, 0.7))
    assert not decision.admit and "CPU" in decision.reason
