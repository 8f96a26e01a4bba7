"""The interview engine as a pure state machine: scripts run, fail, retry, pause and resume."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from verification.types import Check, Outcome
from verification.workflow.engine import FINISHED, PAUSED, RUNNING, EngineState, InterviewEngine
from verification.workflow.events import (
    ChallengeResult,
    DeviceReport,
    Disconnected,
    EvidenceOut,
    FailureCounted,
    Finished,
    FlowEntry,
    Joined,
    Prompt,
    ScriptMark,
    Speech,
    Tap,
    Tick,
)
from verification.workflow.products import ProductCatalog
from verification.workflow.simulation import Simulator, cooperative

TERMS = {"amount": "50,000", "currency": "CNY", "annual_rate_pct": "7.2", "term_months": "12",
         "fees": "0"}


@pytest.fixture(scope="module")
def catalog() -> ProductCatalog:
    return ProductCatalog.load()


def engine(catalog: ProductCatalog, product: str = "default", seed: int = 1,
           resume_window_s: float = 120.0) -> InterviewEngine:
    return InterviewEngine(catalog.get(product).script, TERMS, random.Random(seed),
                           resume_window_s)


def feed(eng: InterviewEngine, state: EngineState, *events):  # noqa: ANN201
    effects = []
    for event in events:
        transition = eng.handle(state, event)
        state = transition.state
        effects += transition.effects
    return state, effects


def test_cooperative_applicant_finishes_every_product_within_90_s(catalog):
    for product in catalog.names():
        for seed in range(5):
            run = Simulator(engine(catalog, product, seed)).run()
            assert run.finished is not None and run.finished.reason == "completed", product
            assert run.duration_s <= 90.0, (product, seed, run.duration_s)
            evidence = [e.evidence for e in run.of_type(EvidenceOut)]
            assert [(e.check, e.outcome, e.code) for e in evidence] == [
                (Check.INTERVIEW, Outcome.SUPPORTS, "script_completed")]
            # the applicant's last prompt says "submitted", never a decision
            last = run.prompts()[-1]
            assert last.data["final"] and "Submitted" in last.text["en"]


def test_default_script_follows_the_product_notes(catalog):
    run = Simulator(engine(catalog)).run()
    started = [e.step_id for e in run.of_type(FlowEntry) if e.code == "step_started"]
    assert started == ["device_check", "geolocation", "consent", "loan_terms", "face",
                       "liveness", "digits", "questions", "done"]
    marks = [dict(m.step) for m in run.of_type(ScriptMark)]
    challenges = [m for m in marks if m["type"] == "challenge"]
    assert 2 <= len(challenges) <= 3 and len({m["action"] for m in challenges}) == len(challenges)
    digits = [m for m in marks if m["type"] == "digits"]
    assert len(digits) == 1 and 4 <= len(digits[0]["digits"]) <= 6
    assert digits[0]["digits"].isdigit() and digits[0]["window_s"] > 0
    questions = [m for m in marks if m["type"] == "question" and "end" in m]
    assert 2 <= len(questions) <= 4 and questions[0]["id"] == "loan_purpose"  # required first
    assert all(m["t"] >= 0 for m in marks)
    # the loan terms were shown with the numbers and confirmed by tap + speech
    terms = next(p for p in run.prompts() if p.step_id == "loan_terms")
    assert "50,000" in terms.text["zh-CN"] and terms.data["terms"]["annual_rate_pct"] == "7.2"
    confirmed = [e for e in run.of_type(FlowEntry) if e.code == "confirmed"]
    assert [e.step_id for e in confirmed] == ["consent", "loan_terms"]
    for entry in confirmed:
        tap_media = entry.details["tap"]["media_t"]
        assert tap_media is not None and entry.details["speech"]
        assert entry.details["text"]["en"]  # what was agreed to is recorded verbatim


def test_challenges_and_digits_are_random_per_session_and_reproducible_with_a_seed(catalog):
    def marks(seed: int) -> list:
        return [dict(m.step) for m in Simulator(engine(catalog, seed=seed)).run()
                .of_type(ScriptMark) if m.step["type"] in ("challenge", "digits")]

    def shape(ms: list) -> list:
        return [(m.get("action"), m.get("digits")) for m in ms]
    assert shape(marks(3)) == shape(marks(3))
    assert len({tuple(shape(marks(s))) for s in range(6)}) >= 5


def test_confirmation_needs_tap_and_speech_and_times_out_into_a_bounded_retry(catalog):
    eng = engine(catalog, "express")
    state, _ = feed(eng, EngineState(), Joined(0.0, 0.0), DeviceReport(0.5, True, True))
    assert eng.current_step(state).id == "consent"
    state, effects = feed(eng, state, Tap(2.0, "consent", "agree", media_t=2.0),
                          Tick(20.0, 20.0), Tick(26.0, 26.0))
    # tapped but never spoke: the attempt fails, the retry asks again and keeps the tap
    failed = [e for e in effects if isinstance(e, FlowEntry) and e.code == "step_attempt_failed"]
    assert failed and failed[0].details["result"] == "no_spoken_confirmation"
    assert state.attempt == 2 and state.sub["tap"] is not None
    retry = [e for e in effects if isinstance(e, Prompt)][-1]
    assert retry.attempt == 2 and retry.step_id == "consent"
    state, effects = feed(eng, state, Speech(28.0, 26.5, 27.5, media_t=27.5), Tick(28.1, 28.1))
    assert eng.current_step(state).id == "face"
    # three silent attempts at a step end the interview as incomplete (review, not reject)
    state, effects = feed(eng, state, *(Tick(t, t) for t in (50.0, 72.0, 94.0)))
    assert state.status == FINISHED and state.finish_reason == "step_failed"
    evidence = [e.evidence for e in effects if isinstance(e, EvidenceOut)]
    assert [(e.check, e.outcome, e.code) for e in evidence] == [
        (Check.INTERVIEW, Outcome.CONTRADICTS, "interview_incomplete")]


def test_declining_consent_ends_the_interview(catalog):
    eng = engine(catalog, "express")
    state, effects = feed(eng, EngineState(), Joined(0.0, 0.0), DeviceReport(0.5, True, True),
                          Tap(3.0, "consent", "decline", media_t=3.0))
    assert state.status == FINISHED and state.finish_reason == "declined"
    assert any(isinstance(e, Finished) and e.reason == "declined" for e in effects)
    codes = [e.evidence.code for e in effects if isinstance(e, EvidenceOut)]
    assert codes == ["consent_declined"]


def _at_liveness(eng: InterviewEngine) -> tuple[EngineState, float]:
    # express: device, consent, face take ~10 s; no live verdicts: the tests below give them
    run = Simulator(eng, lambda p, at: [] if p.kind == "liveness" else cooperative(p, at)
                    ).run(limit_s=12.0)
    state = run.state
    assert eng.current_step(state).id == "liveness", eng.current_step(state).id
    return state, 1_000_012.0


def _issue_next(eng: InterviewEngine, state: EngineState, t: float):  # noqa: ANN202
    """Tick until the next challenge prompt; returns (state, prompt, time)."""
    for _ in range(100):
        t += 0.1
        state, effects = feed(eng, state, Tick(t, t - 1_000_000.0))
        prompts = [e for e in effects if isinstance(e, Prompt) and "challenge" in e.data]
        if prompts:
            return state, prompts[0], t
    raise AssertionError("no challenge issued")


def test_a_failed_challenge_is_retried_with_a_new_action_and_failing_beyond_retries_rejects(
        catalog):
    eng = engine(catalog, "express", seed=4)
    state, t = _at_liveness(eng)
    seen = []
    for _ in range(3):
        state, prompt, t = _issue_next(eng, state, t)
        seen.append(prompt.data["action"])
        state, effects = feed(eng, state, ChallengeResult(t + 1.0, prompt.data["challenge"],
                                                          False))
        t += 1.0
        assert any(isinstance(e, FailureCounted) for e in effects)
    assert len(set(seen)) == 3  # a failed action is never asked again
    assert state.status == FINISHED and state.finish_reason == "challenges_failed"
    gates = [e.evidence for e in effects if isinstance(e, EvidenceOut)
             and e.evidence.code == "challenge_failed"]
    assert gates and gates[0].check is Check.FACE_LIVENESS
    assert gates[0].outcome is Outcome.CONTRADICTS


def test_failure_budget_counts_prior_failures_of_the_applicant_or_device(catalog):
    eng = engine(catalog, "express", seed=2)
    state, t = _at_liveness(eng)
    # four failures within the last three minutes (another session), one more exhausts it
    state = replace(state, failures=tuple(t - 60 + i for i in range(4)))
    state, prompt, t = _issue_next(eng, state, t)
    state, effects = feed(eng, state, ChallengeResult(t + 0.5, prompt.data["challenge"], False))
    assert state.finish_reason == "failure_budget_exhausted"
    assert [e.evidence.code for e in effects if isinstance(e, EvidenceOut)] == [
        "challenge_failed", "interview_incomplete"]
    # failures older than the window do not count
    eng2 = engine(catalog, "express", seed=2)
    state2, t2 = _at_liveness(eng2)
    state2 = replace(state2, failures=tuple(t2 - 400 + i for i in range(4)))
    state2, prompt2, t2 = _issue_next(eng2, state2, t2)
    state2, _ = feed(eng2, state2, ChallengeResult(t2 + 0.5, prompt2.data["challenge"], False))
    assert state2.status == RUNNING and state2.attempt == 2


def test_passed_challenges_advance_early(catalog):
    eng = engine(catalog, "express", seed=5)
    state, t = _at_liveness(eng)
    state, prompt, t = _issue_next(eng, state, t)
    before = state.sub["i"]
    window_end = state.sub["until"]
    state, effects = feed(eng, state, ChallengeResult(t + 0.8, prompt.data["challenge"], True))
    assert [e.code for e in effects if isinstance(e, FlowEntry)][0] == "challenge_passed"
    assert t + 0.8 < window_end  # judged before its window closed ...
    assert eng.current_step(state).id != "liveness" or state.sub["i"] == before + 1  # ... moved on


def test_drop_and_rejoin_within_the_window_resumes_the_same_step(catalog):
    eng = engine(catalog, seed=7)
    run = Simulator(eng).run(limit_s=30.0)
    state = run.state
    step = eng.current_step(state).id
    t = 1_000_030.0
    state, effects = feed(eng, state, Disconnected(t, 30.0))
    assert state.status == PAUSED
    # nothing times out while the applicant is away, however long the step's timeout
    state, effects = feed(eng, state, *(Tick(t + d, None) for d in (10.0, 60.0, 119.0)))
    assert state.status == PAUSED and not effects
    # the persisted state survives a server restart (JSON round trip)
    restored = EngineState.from_json(state.to_json())
    assert restored.to_json() == state.to_json()
    restored, effects = feed(eng, restored, Joined(t + 119.5, 31.0))
    assert restored.status == RUNNING and eng.current_step(restored).id == step
    assert [e.code for e in effects if isinstance(e, FlowEntry)][0] == "resumed"
    assert any(isinstance(e, Prompt) and e.step_id == step for e in effects)
    # ... and the interview still completes
    run2 = Simulator(eng, t0=t + 119.5).run(state=restored, join=False)
    assert run2.finished is not None and run2.finished.reason == "completed"


def test_a_drop_longer_than_the_window_abandons_the_interview(catalog):
    eng = engine(catalog, seed=7, resume_window_s=120.0)
    state = Simulator(eng).run(limit_s=20.0).state
    state, _ = feed(eng, state, Disconnected(2_000.0))
    state, effects = feed(eng, state, Tick(2_121.0))
    assert state.status == FINISHED and state.finish_reason == "abandoned"
    assert [e.evidence.code for e in effects if isinstance(e, EvidenceOut)] == [
        "interview_incomplete"]


def test_speech_onset_keeps_a_long_answer_open(catalog):
    """A long answer is one turn: the silence timer waits while the VAD says speech is on."""
    def slow_talker(prompt, at):  # noqa: ANN001, ANN202
        if "question" in prompt.data:
            from verification.workflow.events import SpeechOnset
            return [(at + 1.2, SpeechOnset(at + 1.2, at + 1.0)),
                    (at + 13.4, Speech(at + 13.4, at + 1.0, at + 13.0))]
        return cooperative(prompt, at)

    run = Simulator(engine(catalog, "express"), slow_talker).run()
    answers = [e for e in run.of_type(FlowEntry) if e.code == "answer"]
    assert run.finished.reason == "completed" and len(answers) == 2
    assert all(a.window.end - a.window.start == pytest.approx(12.0) for a in answers)


def test_the_page_taps_arrive_as_typed_messages():
    from signaling.control import Tap as TapMessage
    from signaling.control import parse_page_message

    assert parse_page_message('{"type": "tap", "step": "consent", "choice": "agree"}') == \
        TapMessage("consent", "agree")
    for bad in ('{"type": "tap", "step": "consent", "choice": "maybe"}',
                '{"type": "tap", "choice": "agree"}', '{"type": "tap", "step": ""}'):
        assert parse_page_message(bad) is None
