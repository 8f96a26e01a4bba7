"""The expression cue end to end on the face stage's hook: a synthetic micro-expression (a
0.3-s lip-corner pull toward the same person's smiling portrait) in an otherwise still clip.

Media: London Set portraits 001 neutral / smiling from tests/data/faces (CC BY 4.0, see
tests/data/LICENSES.md), animated by ``benchmarks/expression_synthetic.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.expression_synthetic import (
    ExpressionRenderer,
    InsertedEvent,
    make_pair,
    render_clip,
)
from verification.expression.cue import ExpressionCue
from verification.expression.reading import ExpressionModels
from verification.face.analyzer import FaceAnalyzer
from verification.fusion.policy import DefaultPolicy, PolicyConfig
from verification.pipeline.analyzer import SessionContext
from verification.pipeline.ringbuffer import AudioRead
from verification.runtime import InferenceExecutor, ThreadBudget
from verification.types import Check, CheckStatus, Outcome, VideoFrame
from verification.video.images import load_image

from .conftest import DATA

EVENT = InsertedEvent(start=4.0, duration=0.3, intensity=0.75)
SCRIPT = {"steps": [{"type": "face_in_oval", "t": 0.0},
                    {"type": "question", "t": 3.0, "text": "purpose of the loan"}]}


@pytest.fixture(scope="module")
def evidence(registry):
    pair = make_pair(load_image(DATA / "faces" / "london_001_neutral.jpg"),
                     load_image(DATA / "faces" / "london_001_smiling.jpg"),
                     registry.adapter("face_detector"), registry.adapter("face_mesh"))
    analyzer = FaceAnalyzer(registry, cues=[ExpressionCue.factory(registry)],
                            cue_checks=[Check.MICRO_EXPRESSION])
    executor = InferenceExecutor(ThreadBudget(workers=1))
    try:
        stream = analyzer.open_stream(SessionContext("test", script=SCRIPT), executor)
        assert stream.wants_audio  # the cue asked the face stage for audio (its VAD)
        out = []
        silence = np.zeros(640, np.float32)
        for index, (t, image) in enumerate(render_clip(ExpressionRenderer(pair), 6.0, [EVENT],
                                                       seed=5)):
            out += stream.process_audio(AudioRead(silence, t, ()))
            out += stream.process_frame(VideoFrame(image, t, index))
        out += stream.summarize()
    finally:
        executor.shutdown()
    return [e for e in out if e.check is Check.MICRO_EXPRESSION]


def test_the_inserted_movement_is_the_only_cue(evidence):
    cues = [e for e in evidence if e.code in ("micro_expression", "brief_expression")]
    assert len(cues) == 1, [e.summary for e in cues]
    cue = cues[0]
    assert EVENT.start - 0.1 <= cue.details["apex"] <= EVENT.start + EVENT.duration + 0.1
    assert cue.window.end - cue.window.start <= 0.5
    assert "lip-corner pull" in cue.summary
    assert "while answering 'purpose of the loan'" in cue.summary
    assert cue.details["step"]["title"] == "purpose of the loan"
    assert {"mouth_corner_left", "mouth_corner_right"} & set(cue.details["regions"])


def test_all_expression_evidence_is_advisory(evidence):
    assert evidence and all(e.outcome is Outcome.INCONCLUSIVE for e in evidence)
    timeline = next(e for e in evidence if e.code == "expression_timeline")
    details = timeline.details
    assert details["reliable"] and details["analysed_fps"] == pytest.approx(25.0, abs=0.5)
    (answer,) = details["answers"]
    assert answer["question"] == "purpose of the loan" and len(answer["events"]) == 1
    assert details["baseline"]["source"] == "steps face in oval"
    assert details["baseline"]["dominant_expression"] == "neutral"
    assert details["cost_ms_per_frame"] > 0


def test_fusion_reports_but_never_decides_on_it(evidence):
    verdict = DefaultPolicy(PolicyConfig()).decide(evidence)
    assert verdict.checks[Check.MICRO_EXPRESSION].status is CheckStatus.INCONCLUSIVE
    assert all(r.check is not Check.MICRO_EXPRESSION for r in verdict.reasons)


def test_no_face_is_not_checked(registry):
    from verification.face.observation import FaceTracker

    tracker = FaceTracker.from_registry(registry, with_encoder=False)
    cue = ExpressionCue(ExpressionModels.from_registry(registry), registry.adapter("vad"))
    blank = np.full((240, 320, 3), 128, np.uint8)
    for i in range(3):
        cue.observe(tracker.observe(blank, i * 0.04, i), VideoFrame(blank, i * 0.04, i))
    (item,) = cue.summarize()
    assert item.outcome is Outcome.NOT_CHECKED and item.code == "expression_no_face"
