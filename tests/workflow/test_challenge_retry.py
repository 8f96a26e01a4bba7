"""Live challenge verdicts drive retries: a failed challenge is asked again with a new one.

The media test runs the real face stage (detector, mesh, blendshapes) on a looping GRID clip —
a real person talking at the camera who turns their head on no prompt — through the real
challenge cue, the bounded verdict handoff and the interview driver with its database. The
cue reports each head-movement challenge as failed when its window closes; the step asks a
*different* action; after its retries the interview ends early as ``challenges_failed`` and the
product's policy rejects with a reason that names the evidence.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks import liveness_attacks as la
from verification.face.challenges.cue import ChallengeCue
from verification.face.observation import FaceTracker
from verification.pipeline.live_verdicts import CHALLENGE, DIGITS, LiveVerdict, LiveVerdictBox
from verification.runtime import ModelRegistry, ThreadBudget
from verification.types import Check, Outcome
from verification.workflow import repository as repo
from verification.workflow.engine import FINISHED, EngineState, InterviewEngine
from verification.workflow.events import (
    ChallengeResult,
    DigitsResult,
    EvidenceOut,
    FlowEntry,
    Joined,
    Prompt,
    Tick,
)
from verification.workflow.live_results import verdict_events
from verification.workflow.products import ProductCatalog

from .conftest import Clock, make_workflow, new_request

DATA = Path(__file__).resolve().parents[1] / "data"
FPS = 5.0
TICK = 0.1

SCRIPT_YAML = """
name: retrytest
version: 1
failure_budget: {max_failures: 5, window_s: 180}
steps:
  - id: liveness
    kind: liveness
    timeout_s: 40
    max_attempts: 3
    params:
      count: [1, 1]
      actions: [turn_left, turn_right, nod]
      window_s: 3.0
      delay_s: [0.5, 0.8]
      verdict_wait_s: 3.0
      action_prompts:
        turn_left: {zh-CN: 请向左转头, en: Turn your head to the left}
        turn_right: {zh-CN: 请向右转头, en: Turn your head to the right}
        nod: {zh-CN: 请点头, en: Nod your head}
    prompt: {zh-CN: 请按提示完成动作, en: Please follow the instructions}
  - id: digits
    kind: digits
    timeout_s: 20
    max_attempts: 2
    params: {count: [4, 4], extra_window_s: 1.0, verdict_wait_s: 3.0, min_speech_s: 0.5}
    prompt: {zh-CN: "请读出：{digits}", en: "Read aloud: {digits}"}
  - id: done
    kind: done
    timeout_s: 5
    prompt: {zh-CN: 已提交, en: Submitted}
"""
PRODUCTS_YAML = """
products:
  retrytest:
    script: retrytest
    policy:
      version: retrytest-1
      required: [interview, face_liveness]
      advisory: [micro_expression, background, poi, lbs]
"""


@pytest.fixture(scope="module")
def looping_clip() -> list:
    """Face observations of a real GRID clip (3 s at 5 fps), computed once, replayed in a loop."""
    registry = ModelRegistry.from_manifest(provider="cpu", budget=ThreadBudget(1, 1))
    tracker = FaceTracker.from_registry(registry, with_encoder=False)
    frames, _audio, fps = la.read_clip(DATA / "video" / "bbaf2n.mpg")
    step = int(round(fps / FPS))
    return [tracker.observe(image, i / FPS, i) for i, image in enumerate(frames[::step])]


@pytest.fixture()
def catalog(tmp_path: Path) -> ProductCatalog:
    folder = tmp_path / "workflow"
    folder.mkdir()
    (folder / "retrytest.yaml").write_text(SCRIPT_YAML)
    (folder / "products.yaml").write_text(PRODUCTS_YAML)
    return ProductCatalog.load(folder)


def _flows(effects, code: str) -> list[FlowEntry]:
    return [e for e in effects if isinstance(e, FlowEntry) and e.code == code]


def test_a_looping_clip_fails_each_challenge_live_and_is_asked_a_new_one_until_rejected(
        sqlite_engine, tmp_path, catalog, looping_clip):
    clock = Clock()
    workflow = make_workflow(sqlite_engine, tmp_path, clock)
    workflow.catalog = catalog
    session_id = workflow.create_session(new_request(product="retrytest",
                                                     application_id="app-retry")).session_id

    async def interview():  # noqa: ANN202 - the live loop, on the simulated clock
        from verification.workflow.driver import InterviewDriver

        driver = await InterviewDriver.open(workflow, session_id, 120.0)
        driver.engine.rng = random.Random(11)
        driver.set_device("10.0.0.7", "Mozilla/5.0 test")
        cue = ChallengeCue.factory(driver.context)  # the face stage's cue, as the server runs it
        t0 = clock.t
        messages = list((await driver.joined(0.0)).messages)
        evidence, finished, frame = [], None, 0
        for k in range(1, int(60 / TICK)):
            clock.t = t0 + k * TICK
            media_t = round(k * TICK, 3)
            if k % int(1 / (FPS * TICK)) == 0:  # a frame every 0.2 s of media time
                observation = replace(looping_clip[frame % len(looping_clip)], pts=media_t,
                                      index=frame)
                evidence += list(cue.observe(observation, None))
                frame += 1
            out = await driver.step(media_t)
            messages += out.messages
            await driver.flush_evidence(evidence)
            if out.finished:
                finished = out.finished
                break
        evidence += list(cue.summarize())
        await driver.conclude(finished or "time_limit", evidence)
        return driver, messages, finished

    driver, messages, finished = asyncio.run(interview())
    assert finished == "challenges_failed"
    challenges = [m for m in messages if m["kind"] == "liveness" and "challenge" in m["data"]]
    actions = [m["data"]["action"] for m in challenges]
    attempts = [m["attempt"] for m in challenges]
    assert attempts == [1, 2, 3], challenges  # one challenge per attempt, three attempts
    assert len(set(actions)) == 3, actions  # every retry asks a different action

    timeline = workflow.timeline(session_id)["events"]
    failed = [e for e in timeline if e["code"] == "challenge_failed_attempt"]
    assert [e["details"]["action"] for e in failed] == actions
    for entry in failed:  # each attempt recorded with its media window and the server time
        assert entry["window"] is not None and entry["recorded_at"]
        assert entry["details"]["reason"] in ("not_performed", "wrong_action", "too_fast")
    issued = [e for e in timeline if e["code"] == "challenge_issued"]
    assert len(issued) == 3
    # each live verdict came as its 3 s window closed (media time: prompt -> verdict), and
    # the retry was issued right after it
    for entry, issue in zip(failed, issued, strict=True):
        assert entry["window"]["start"] == pytest.approx(issue["window"]["start"])
        assert 3.0 <= entry["window"]["end"] - entry["window"]["start"] <= 3.0 + 1.0

    view = workflow.session_view(session_id)
    verdict = view["verdict"]
    assert view["end_reason"] == "challenges_failed"
    assert verdict["decision"] == "reject"
    gate = next(r for r in verdict["reasons"] if r["code"] == "challenge_failed")
    ids = {e["id"] for e in timeline}
    assert gate["evidence_ids"] and set(gate["evidence_ids"]) <= ids
    gate_item = next(e for e in timeline if e["id"] in gate["evidence_ids"]
                     and e["details"].get("failed_attempts"))
    assert [a["action"] for a in gate_item["details"]["failed_attempts"]] == actions
    # the failures are counted for the applicant and the device (the failure budget)
    with workflow.sessions() as db:
        counted = repo.failure_times(db, ["applicant:app-retry"], clock.t - 180)
    assert len(counted) == 3


def _engine(catalog: ProductCatalog, seed: int = 3) -> InterviewEngine:
    return InterviewEngine(catalog.get("retrytest").script, rng=random.Random(seed))


def _feed(engine: InterviewEngine, state: EngineState, *events):  # noqa: ANN202
    effects = []
    for event in events:
        transition = engine.handle(state, event)
        state, effects = transition.state, effects + list(transition.effects)
    return state, effects


def _next_prompt(engine, state, t, key):  # noqa: ANN001, ANN202
    for _ in range(200):
        t = round(t + TICK, 3)
        state, effects = _feed(engine, state, Tick(t, t))
        prompts = [e for e in effects if isinstance(e, Prompt) and key in e.data]
        if prompts:
            return state, prompts[0], t
    raise AssertionError(f"no {key} prompt")


def test_a_retry_that_passes_moves_on_and_a_digit_reading_failing_twice_ends_early(catalog):
    engine = _engine(catalog)
    state, _ = _feed(engine, EngineState(), Joined(0.0, 0.0))
    state, first, t = _next_prompt(engine, state, 0.0, "challenge")
    state, effects = _feed(engine, state, ChallengeResult(t + 3.2, first.data["challenge"],
                                                          False, media_t=t + 3.2,
                                                          reason="not_performed"))
    state, second, t = _next_prompt(engine, state, t + 3.2, "challenge")
    assert second.attempt == 2 and second.data["action"] != first.data["action"]
    state, effects = _feed(engine, state, ChallengeResult(t + 1.0, second.data["challenge"],
                                                          True, media_t=t + 1.0))
    assert _flows(effects, "challenge_passed")
    assert engine.current_step(state).id == "digits"
    digits = [e for e in effects if isinstance(e, Prompt) and "digits" in e.data][0]
    state, effects = _feed(engine, state, DigitsResult(t + 6, digits.data["prompt_id"], False,
                                                       media_t=t + 6,
                                                       reason="digits_not_spoken"))
    retry = [e for e in effects if isinstance(e, Prompt) and "digits" in e.data][0]
    assert retry.attempt == 2 and retry.data["prompt_id"] != digits.data["prompt_id"]
    assert _flows(effects, "digits_failed_attempt")[0].details["reason"] == "digits_not_spoken"
    state, effects = _feed(engine, state, DigitsResult(t + 12, retry.data["prompt_id"], False,
                                                       media_t=t + 12,
                                                       reason="lip_sync_mismatch"))
    assert state.status == FINISHED and state.finish_reason == "challenges_failed"
    gate = [e.evidence for e in effects if isinstance(e, EvidenceOut)
            and e.evidence.code == "challenge_failed"][0]
    assert gate.check is Check.LIP_SYNC and gate.outcome is Outcome.CONTRADICTS
    assert [a["reason"] for a in gate.details["failed_attempts"]] == [
        "digits_not_spoken", "lip_sync_mismatch"]


def test_an_undecided_digit_reading_is_left_to_the_recording(catalog):
    engine = _engine(catalog, seed=5)
    state, _ = _feed(engine, EngineState(), Joined(0.0, 0.0))
    state, first, t = _next_prompt(engine, state, 0.0, "challenge")
    state, effects = _feed(engine, state, ChallengeResult(t + 1.0, first.data["challenge"],
                                                          True, media_t=t + 1.0))
    digits = [e for e in effects if isinstance(e, Prompt) and "digits" in e.data][0]
    state, effects = _feed(engine, state, DigitsResult(t + 7, digits.data["prompt_id"], False,
                                                       media_t=t + 7, decided=False))
    assert _flows(effects, "digits_deferred") and engine.current_step(state).id == "done"


def test_verdicts_are_matched_to_the_prompt_that_asked_and_the_handoff_is_bounded():
    steps = [{"type": "challenge", "action": "nod", "id": "liveness-1-1", "t": 4.25},
             {"type": "digits", "id": "digits-1", "digits": "4071", "t": 12.5, "window_s": 6}]
    box = LiveVerdictBox(capacity=2)
    box.put(LiveVerdict(CHALLENGE, 4.25, False, "not_performed", 7.4, action="nod"))
    box.put(LiveVerdict(CHALLENGE, 4.25, True, "passed", 5.0, action="turn_left"))  # no mark
    box.put(LiveVerdict(DIGITS, 12.5, None, "digit_challenge_inconclusive", 20.0,
                        digits="4071"))
    assert box.dropped == 1  # the oldest went; memory stays bounded if the loop stalls
    events = verdict_events(box.drain(), steps, now=100.0)
    assert box.drain() == []
    assert len(events) == 1 and isinstance(events[0], DigitsResult)
    assert events[0].prompt_id == "digits-1" and not events[0].decided
    box.put(LiveVerdict(CHALLENGE, 4.25, False, "too_fast", 7.4, action="nod"))
    (event,) = verdict_events(box.drain(), steps, now=101.0)
    assert isinstance(event, ChallengeResult) and event.challenge_id == "liveness-1-1"
    assert not event.performed and event.reason == "too_fast" and event.at == 101.0


def test_the_voice_stage_reports_a_digit_reading_live_once_its_window_has_passed(looping_clip):
    """The lip-sync cue (real VAD) hears nothing while digits are shown: it reports the
    reading as failed through the handoff as soon as video and audio cover the window."""
    import numpy as np

    from verification.pipeline.analyzer import SessionContext
    from verification.pipeline.ringbuffer import AudioRead
    from verification.voice.lipsync_cue import LipSyncCueFactory

    registry = ModelRegistry.from_manifest(provider="cpu", budget=ThreadBudget(1, 1))
    steps: list[dict] = []
    box = LiveVerdictBox()
    cue = LipSyncCueFactory(registry)(SessionContext("s", script={"steps": steps},
                                                     live_verdicts=box))
    reported_at = None
    for i in range(int(12 * FPS)):
        t = i / FPS
        if i == 5:  # the driver appends the mark when the step shows the digits (t = 1.0)
            steps.append({"type": "digits", "id": "digits-1", "digits": "4071", "t": t,
                          "window_s": 4.0})
        observation = replace(looping_clip[i % len(looping_clip)], pts=t, index=i)
        cue.observe(observation, None)
        cue.observe_audio(AudioRead(np.zeros(int(16000 / FPS), np.float32), t, ()))
        verdicts = box.drain()
        if verdicts:
            reported_at = t
            break
    assert reported_at is not None and reported_at <= 1.0 + 4.0 + 2.5  # window end + margins
    (verdict,) = verdicts
    assert verdict.kind == DIGITS and verdict.digits == "4071" and verdict.passed is False
    assert verdict.outcome == "digits_not_spoken"
    (event,) = verdict_events([verdict], steps, now=50.0)
    assert isinstance(event, DigitsResult) and event.prompt_id == "digits-1"
    assert event.decided and not event.matched
