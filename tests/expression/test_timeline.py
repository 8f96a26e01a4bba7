"""Per-answer summary: steps from the script, the person's baseline, events placed in answers."""

from __future__ import annotations

import numpy as np

from verification.expression.spotting import SpottedEvent, SpottingResult
from verification.expression.timeline import (
    ACTION_NAMES,
    FrameRecord,
    build_timeline,
    segments_from_script,
)
from verification.face.expression import LABELS
from verification.prompt_script import PromptScript

SCRIPT = PromptScript.from_json([
    {"type": "face_in_oval", "t": 0.0},
    {"type": "smile", "t": 3.0},
    {"type": "question", "t": 6.0, "text": {"en": "purpose of the loan", "zh-CN": "贷款用途"}},
    {"type": "question", "t": 12.0, "question": "the order behind it"},
])


def records(smile_from: float = 100.0, fps: float = 10.0, end: float = 18.0) -> list[FrameRecord]:
    out = []
    neutral = np.zeros(len(LABELS))
    neutral[LABELS.index("neutral")] = 1.0
    happy = np.zeros(len(LABELS))
    happy[LABELS.index("happy")] = 1.0
    for i in range(int(end * fps)):
        t = i / fps
        smiling = t >= smile_from
        actions = np.zeros(len(ACTION_NAMES))
        actions[ACTION_NAMES.index("smiling")] = 0.6 if smiling else 0.02 + 0.01 * (i % 3)
        out.append(FrameRecord(t, True, happy if smiling else neutral, 0.9, actions))
    return out


def spotting(*events: SpottedEvent, fps: float = 25.0) -> SpottingResult:
    return SpottingResult(tuple(events), {}, 100, fps, {}, 0)


def event(apex: float) -> SpottedEvent:
    return SpottedEvent(onset=apex - 0.1, apex=apex, offset=apex + 0.1, kind="micro",
                        regions=("mouth", "brow_left"), amplitude=0.012, relative=9.0,
                        blendshapes=(("mouthPressLeft", 0.2), ("mouthPressRight", 0.2),
                                     ("browDownLeft", 0.1), ("browDownRight", 0.1)),
                        expression=None)


def test_segments_answers_baseline_and_challenges():
    segments = segments_from_script(SCRIPT, end=18.0)
    kinds = [(s.step_type, s.kind, s.title, s.start, s.end) for s in segments]
    assert kinds == [
        ("face_in_oval", "baseline", "face in oval", 0.0, 3.0),
        ("smile", "other", "smile", 3.0, 6.0),  # a smile challenge is not the baseline
        ("question", "answer", "purpose of the loan", 6.0, 12.0),
        ("question", "answer", "the order behind it", 12.0, 18.0),
    ]


def test_events_land_in_their_answer_with_the_issue_wording():
    timeline = build_timeline(records(), spotting(event(12.4)), SCRIPT, speech=[])
    first, second = timeline.answers
    assert first.events == ()
    (item,) = second.events
    assert item.label == ("brief lip press and brow lowering at 12.4 s while answering "
                          "'the order behind it'")
    assert item.to_json()["step"]["title"] == "the order behind it"


def test_baseline_comparison_calls_out_more_smiling():
    timeline = build_timeline(records(smile_from=13.0), spotting(), SCRIPT, speech=[])
    first, second = timeline.answers
    assert first.comparisons == ()
    (comparison,) = second.comparisons
    assert comparison["action"] == "smiling" and comparison["difference"] > 0.1
    assert "more smiling than at baseline" in second.summary
    assert timeline.baseline.source == "steps face in oval"
    assert timeline.baseline.to_json()["dominant_expression"] == "neutral"


def test_without_a_script_the_whole_recording_is_one_segment():
    timeline = build_timeline(records(), spotting(event(5.0)), PromptScript(), speech=[])
    (only,) = timeline.answers
    assert only.segment.title == "the recording" and len(only.events) == 1
    assert only.events[0].label == "brief lip press and brow lowering at 5.0 s"
    assert timeline.baseline.source == "the whole recording"


def test_json_and_text_shapes():
    timeline = build_timeline(records(), spotting(event(7.0)), SCRIPT, speech=[(6.5, 9.0)])
    data = timeline.to_json()
    assert set(data) >= {"advisory", "reliable", "analysed_fps", "notes", "baseline", "answers",
                         "events", "spotting"}
    answer = data["answers"][0]
    assert set(answer) >= {"question", "start", "end", "trajectory", "events",
                           "compared_to_baseline", "summary", "dominant_expression"}
    assert answer["trajectory"][0]["expression"] == "neutral"
    assert "trajectory" not in timeline.to_json(trajectory=False)["answers"][0]
    text = timeline.to_text()
    assert "never a decision" in text and "'purpose of the loan'" in text


def test_low_frame_rate_says_so():
    timeline = build_timeline(records(), spotting(fps=5.0), SCRIPT, speech=[])
    assert not timeline.reliable
    assert "frame rate too low" in timeline.answers[0].summary
