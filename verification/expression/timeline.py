"""The per-answer expression summary for reviewers: trajectory, cues and the person's baseline.

Why: a reviewer asks "how did the applicant look while answering *this* question, compared with
how they look at rest?", not "what was the expression at frame 1,742?". The interview script
(:mod:`verification.prompt_script`, steps ``{"type", "t", ...}``) cuts the recording into steps;
each step lasts until the next one starts. Question steps (type ``question``/``answer``/``ask``,
or any step with a ``question`` field) are the answers; the *baseline* is the same person during
the neutral steps: everything that is neither a question nor an expressive challenge (smile,
open mouth, blink, head turns, nods), unless a step says ``"baseline": true/false``. Without a
script the whole recording is one segment and its own baseline (the comparison then says how
the recording's stretches differ from its median).

Comparisons use the blendshape action groups below, mean over the segment's frames with a face
(mouth actions only over frames without speech, since talking moves the lips), and call a
difference out when it is at least ``MIN_ACTION_DIFFERENCE`` blendshape units *and* two baseline
standard deviations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from verification.expression.labels import event_label, join_words
from verification.expression.spotting import SpottedEvent, SpottingResult
from verification.face.blendshapes import BLENDSHAPE_NAMES
from verification.face.challenges.actions import Action
from verification.face.expression import LABELS
from verification.prompt_script import PromptScript, ScriptStep

QUESTION_TYPES = frozenset({"question", "answer", "ask", "interview_question", "free_answer"})
EXPRESSIVE_STEP_TYPES = frozenset({a.value for a in Action} | {"challenge", "expression"})
ADVISORY_NOTE = ("Expression cues are advisory: they describe visible facial movements for a "
                 "human reviewer and never decide an application.")

# action name -> (blendshapes averaged, mouth action: measured only without speech)
ACTION_GROUPS: dict[str, tuple[tuple[str, ...], bool]] = {
    "smiling": (("mouthSmileLeft", "mouthSmileRight"), False),
    "brow lowering": (("browDownLeft", "browDownRight"), False),
    "brow raising": (("browInnerUp", "browOuterUpLeft", "browOuterUpRight"), False),
    "eye narrowing": (("eyeSquintLeft", "eyeSquintRight"), False),
    "nose wrinkling": (("noseSneerLeft", "noseSneerRight"), False),
    "lip pressing": (("mouthPressLeft", "mouthPressRight"), True),
    "lip-corner depression": (("mouthFrownLeft", "mouthFrownRight"), True),
}
ACTION_NAMES: tuple[str, ...] = tuple(ACTION_GROUPS)
_ACTION_IDX = [np.array([BLENDSHAPE_NAMES.index(n) for n in names])
               for names, _ in ACTION_GROUPS.values()]
MIN_ACTION_DIFFERENCE = 0.1
MIN_FRAMES = 5
TRAJECTORY_STEP_S = 0.5
MAX_TRAJECTORY_POINTS = 240


def action_values(blendshapes: np.ndarray) -> np.ndarray:
    """The :data:`ACTION_GROUPS` values of one frame's 52 blendshapes."""
    shapes = np.asarray(blendshapes, dtype=np.float64)
    return np.array([float(shapes[idx].mean()) for idx in _ACTION_IDX])


@dataclass(frozen=True, eq=False)
class FrameRecord:
    """What the timeline keeps of one analysed frame."""

    pts: float
    face: bool
    probabilities: np.ndarray  # (7,) smoothed fused expression (zeros without a face)
    confidence: float  # smoothed confidence
    actions: np.ndarray  # (len(ACTION_GROUPS),) raw values (NaN without a face)


@dataclass(frozen=True)
class Segment:
    """A stretch of the interview: one step (or the whole recording)."""

    index: int
    kind: str  # "answer" | "baseline" | "other"
    step_type: str
    title: str
    start: float
    end: float

    def contains(self, t: float) -> bool:
        return self.start <= t < self.end

    @property
    def context(self) -> str | None:
        if self.step_type == "recording":
            return None
        if self.kind == "answer":
            return f"while answering '{self.title}'"
        return f"during '{self.title}'"


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, dict) and value:
        return _text(value.get("en")) or _text(next(iter(value.values())))
    return None


def _title(step: ScriptStep, number: int, is_question: bool) -> str:
    for key in ("question", "topic", "text", "prompt", "title", "label"):
        text = _text(step.get(key))
        if text:
            return text
    return f"question {number}" if is_question else step.type.replace("_", " ")


def segments_from_script(script: PromptScript, end: float) -> list[Segment]:
    """One segment per step (until the next step), classified answer / baseline / other."""
    steps = [s for s in script.steps if s.t < end] if end > 0 else list(script.steps)
    if not steps:
        return [Segment(0, "answer", "recording", "the recording", 0.0, max(end, 0.0))]
    out: list[Segment] = []
    questions = 0
    for i, step in enumerate(steps):
        stop = steps[i + 1].t if i + 1 < len(steps) else max(end, step.t)
        is_question = step.type in QUESTION_TYPES or step.get("question") is not None
        if is_question:
            questions += 1
        flag = step.get("baseline")
        if is_question:
            kind = "answer"
        elif flag is True or (flag is None and step.type not in EXPRESSIVE_STEP_TYPES):
            kind = "baseline"
        else:
            kind = "other"
        out.append(Segment(i, kind, step.type, _title(step, questions, is_question),
                           step.t, stop))
    if steps[0].t > 0:
        out.insert(0, Segment(-1, "baseline", "before_first_step", "before the first step",
                              0.0, steps[0].t))
    return out


@dataclass(frozen=True)
class TimelineEvent:
    event: SpottedEvent
    label: str
    segment: Segment | None

    def to_json(self) -> dict[str, Any]:
        out = {**self.event.to_json(), "label": self.label}
        if self.segment is not None:
            out["step"] = {"index": self.segment.index, "type": self.segment.step_type,
                           "title": self.segment.title, "kind": self.segment.kind}
        return out


@dataclass(frozen=True)
class SegmentSummary:
    segment: Segment
    frames: int
    face_share: float
    expression: dict[str, float]  # confidence-weighted share of frames by top class
    actions: dict[str, float]
    comparisons: tuple[dict[str, Any], ...]
    events: tuple[TimelineEvent, ...]
    trajectory: tuple[dict[str, Any], ...]
    summary: str

    def to_json(self) -> dict[str, Any]:
        seg = self.segment
        return {"index": seg.index, "step_type": seg.step_type, "question": seg.title,
                "kind": seg.kind, "start": round(seg.start, 3), "end": round(seg.end, 3),
                "frames": self.frames, "face_share": round(self.face_share, 3),
                "dominant_expression": _dominant(self.expression),
                "expression": {k: round(v, 3) for k, v in self.expression.items()},
                "actions": {k: round(v, 3) for k, v in self.actions.items()},
                "compared_to_baseline": list(self.comparisons),
                "events": [e.to_json() for e in self.events],
                "trajectory": list(self.trajectory), "summary": self.summary}


@dataclass(frozen=True)
class BaselineSummary:
    source: str
    windows: tuple[tuple[float, float], ...]
    frames: int
    expression: dict[str, float]
    actions: dict[str, float]
    spread: dict[str, float]
    events_per_minute: float | None

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "windows": [[round(a, 3), round(b, 3)]
                                                   for a, b in self.windows],
                "frames": self.frames, "dominant_expression": _dominant(self.expression),
                "expression": {k: round(v, 3) for k, v in self.expression.items()},
                "actions": {k: round(v, 3) for k, v in self.actions.items()},
                "events_per_minute": None if self.events_per_minute is None
                else round(self.events_per_minute, 2)}


@dataclass(frozen=True)
class ExpressionTimeline:
    reliable: bool
    analysed_fps: float
    notes: tuple[str, ...]
    baseline: BaselineSummary
    answers: tuple[SegmentSummary, ...]
    events: tuple[TimelineEvent, ...]
    spotting: dict[str, Any] = field(default_factory=dict)

    def to_json(self, trajectory: bool = True) -> dict[str, Any]:
        answers = [a.to_json() for a in self.answers]
        if not trajectory:
            for a in answers:
                a.pop("trajectory")
        return {"advisory": ADVISORY_NOTE, "reliable": self.reliable,
                "analysed_fps": round(self.analysed_fps, 2), "notes": list(self.notes),
                "baseline": self.baseline.to_json(), "answers": answers,
                "events": [e.to_json() for e in self.events], "spotting": self.spotting}

    def to_text(self) -> str:
        lines = ["Expression timeline - advisory cues for a human reviewer, never a decision"]
        lines.extend(f"note: {n}" for n in self.notes)
        b = self.baseline
        rate = "" if b.events_per_minute is None else f"; {b.events_per_minute:.1f} cues/min"
        lines.append(f"baseline ({b.source}, {b.frames} frames): "
                     f"{_describe_expression(b.expression)}{rate}")
        for a in self.answers:
            seg = a.segment
            lines.append(f"{seg.title!r} {seg.start:.1f}-{seg.end:.1f} s: {a.summary}")
            for e in a.events:
                ev = e.event
                lines.append(f"  {ev.apex:6.1f} s  {e.label} ({ev.kind}, "
                             f"{ev.amplitude * 100:.1f}% of eye distance, "
                             f"{ev.relative:.0f}x own level)")
        if not self.answers:
            lines.append("no answers to summarise")
        return "\n".join(lines)


def _dominant(shares: dict[str, float]) -> str | None:
    return max(shares, key=shares.get) if shares else None


def _describe_expression(shares: dict[str, float]) -> str:
    if not shares:
        return "no face seen"
    ordered = sorted(shares.items(), key=lambda kv: -kv[1])
    head = f"mostly {ordered[0][0]} ({ordered[0][1]:.0%})"
    rest = [f"{k} {v:.0%}" for k, v in ordered[1:3] if v >= 0.1]
    return head + (", " + ", ".join(rest) if rest else "")


def _in_windows(times: np.ndarray, windows: Sequence[tuple[float, float]]) -> np.ndarray:
    mask = np.zeros(len(times), bool)
    for a, b in windows:
        mask |= (times >= a) & (times < b)
    return mask


def _expression_shares(probs: np.ndarray, conf: np.ndarray) -> dict[str, float]:
    if len(probs) == 0 or conf.sum() <= 0:
        return {}
    top = probs.argmax(axis=1)
    weights = np.bincount(top, weights=conf, minlength=len(LABELS)) / conf.sum()
    return {LABELS[i]: float(w) for i, w in enumerate(weights) if w > 0}


def _action_means(actions: np.ndarray, speaking: np.ndarray) -> tuple[dict[str, float],
                                                                        dict[str, float]]:
    means: dict[str, float] = {}
    spreads: dict[str, float] = {}
    for j, (name, (_, mouth)) in enumerate(ACTION_GROUPS.items()):
        values = actions[~speaking, j] if mouth else actions[:, j]
        values = values[np.isfinite(values)]
        if len(values) >= MIN_FRAMES:
            means[name] = float(values.mean())
            spreads[name] = float(values.std())
    return means, spreads


def build_timeline(records: Sequence[FrameRecord], spotting: SpottingResult,
                   script: PromptScript, speech: Sequence[tuple[float, float]],
                   end: float | None = None, notes: Sequence[str] = ()) -> ExpressionTimeline:
    """The per-answer summary from the per-frame records and the spotted events."""
    notes = list(notes)
    times = np.array([r.pts for r in records], dtype=np.float64)
    end = float(end if end is not None else (times.max() + 1e-3 if len(times) else 0.0))
    face = np.array([r.face for r in records], bool)
    probs = np.stack([r.probabilities for r in records]) if records else np.zeros((0, 7))
    conf = np.array([r.confidence for r in records], dtype=np.float64)
    actions = np.stack([r.actions for r in records]) if records else \
        np.zeros((0, len(ACTION_NAMES)))
    speaking = _in_windows(times, speech)

    segments = segments_from_script(script, end)
    answers = [s for s in segments if s.kind == "answer"]
    if not answers:
        notes.append("the script has no question steps: the whole recording is summarised")
        answers = [Segment(0, "answer", "recording", "the recording", 0.0, end)]
    baseline_segments = [s for s in segments if s.kind == "baseline"]
    if answers[0].step_type == "recording" or not baseline_segments:
        windows = [(0.0, end)]
        source = "the whole recording (no neutral steps)" if answers[0].step_type != \
            "recording" else "the whole recording"
    else:
        windows = [(s.start, s.end) for s in baseline_segments]
        source = "steps " + join_words(list(dict.fromkeys(s.title for s in baseline_segments)))

    def segment_of(t: float) -> Segment | None:
        for s in segments:
            if s.contains(t):
                return s
        return answers[0] if answers[0].step_type == "recording" else None

    events = []
    for ev in spotting.events:
        seg = segment_of(ev.apex)
        events.append(TimelineEvent(ev, event_label(ev, seg.context if seg else None), seg))

    base_mask = _in_windows(times, windows) & face
    base_actions, base_spread = _action_means(actions[base_mask], speaking[base_mask])
    base_minutes = sum(b - a for a, b in windows) / 60.0
    base_events = sum(1 for e in events if any(a <= e.event.apex < b for a, b in windows))
    baseline = BaselineSummary(
        source=source, windows=tuple(windows), frames=int(base_mask.sum()),
        expression=_expression_shares(probs[base_mask], conf[base_mask]),
        actions=base_actions, spread=base_spread,
        events_per_minute=base_events / base_minutes if base_minutes > 0 and
        spotting.reliable else None)

    summaries = []
    for seg in answers:
        sel = (times >= seg.start) & (times < seg.end)
        sel_face = sel & face
        shares = _expression_shares(probs[sel_face], conf[sel_face])
        means, _ = _action_means(actions[sel_face], speaking[sel_face])
        comparisons = _compare(means, baseline) if seg.step_type != "recording" or \
            baseline.frames else ()
        seg_events = tuple(e for e in events if seg.start <= e.event.apex < seg.end)
        summaries.append(SegmentSummary(
            segment=seg, frames=int(sel.sum()),
            face_share=float(sel_face.sum() / sel.sum()) if sel.any() else 0.0,
            expression=shares, actions=means, comparisons=tuple(comparisons),
            events=seg_events, trajectory=_trajectory(times[sel], probs[sel], conf[sel],
                                                       face[sel]),
            summary=_summary_text(shares, comparisons, seg_events, int(sel_face.sum()),
                                  spotting.reliable)))

    stats = {"samples": spotting.samples, "noise_iod": {k: round(v, 5) for k, v in
                                                          spotting.noise.items()},
             "excluded_region_frames": dict(spotting.excluded),
             "long_movements": spotting.long_movements}
    return ExpressionTimeline(reliable=spotting.reliable, analysed_fps=spotting.fps,
                              notes=tuple(notes), baseline=baseline, answers=tuple(summaries),
                              events=tuple(events), spotting=stats)


def _compare(means: dict[str, float], baseline: BaselineSummary) -> list[dict[str, Any]]:
    out = []
    for name, value in means.items():
        if name not in baseline.actions:
            continue
        base = baseline.actions[name]
        diff = value - base
        spread = max(baseline.spread.get(name, 0.0), 0.02)
        if abs(diff) >= MIN_ACTION_DIFFERENCE and abs(diff) >= 2.0 * spread:
            word = "more" if diff > 0 else "less"
            out.append({"action": name, "answer": round(value, 3), "baseline": round(base, 3),
                        "difference": round(diff, 3),
                        "label": f"{word} {name} than at baseline ({value:.2f} vs {base:.2f})"})
    out.sort(key=lambda c: -abs(c["difference"]))
    return out


def _summary_text(shares: dict[str, float], comparisons: Sequence[dict[str, Any]],
                  events: Sequence[TimelineEvent], frames: int, reliable: bool) -> str:
    if frames == 0:
        return "no face seen"
    parts = [_describe_expression(shares)]
    if comparisons:
        parts.append("; ".join(c["label"] for c in comparisons[:3]))
    else:
        parts.append("no clear difference from baseline")
    if events:
        parts.append(f"{len(events)} brief movement cue{'s' if len(events) > 1 else ''}")
    elif reliable:
        parts.append("no brief movement cues")
    else:
        parts.append("frame rate too low to look for brief movements")
    return "; ".join(parts)


def _trajectory(times: np.ndarray, probs: np.ndarray, conf: np.ndarray,
                face: np.ndarray) -> tuple[dict[str, Any], ...]:
    if len(times) == 0:
        return ()
    span = float(times[-1] - times[0])
    step = max(TRAJECTORY_STEP_S, span / MAX_TRAJECTORY_POINTS)
    out = []
    next_t = times[0]
    for t, p, c, f in zip(times, probs, conf, face, strict=True):
        if t + 1e-9 < next_t:
            continue
        next_t = t + step
        if not f:
            out.append({"t": round(float(t), 2), "face": False})
            continue
        top = int(np.argmax(p))
        out.append({"t": round(float(t), 2), "expression": LABELS[top],
                    "probability": round(float(p[top]), 3),
                    "smile": round(float(p[LABELS.index("happy")]), 3),
                    "confidence": round(float(c), 3)})
    return tuple(out)
