"""The expression cue: per-frame expression, micro-expression spotting and the per-answer
summary, riding on the face stage's observations (one mesh per frame for every face cue).

Plug-in: ``FaceAnalyzer(registry, cues=[ExpressionCue.factory(registry)],
cue_checks=[Check.MICRO_EXPRESSION])`` (see :mod:`verification.analyzers`). Per analysed frame
(in the inference executor) it classifies fer's and face-api's crops and their mirrors
(~4.5 ms), warps the rigid face chip and, once the frame ``k`` seconds later has arrived,
measures the transient flow of the frame ``k`` seconds ago (two DIS flows on 128-px chips).
Audio blocks feed a streaming VAD. Everything is decided at the end of the interview, against
the person's own baseline.

Evidence (all ``Check.MICRO_EXPRESSION``, all ``inconclusive``: cues for a reviewer, never a
decision; the fusion policy lists the check as advisory and never gates on it):

* ``micro_expression`` / ``brief_expression``: one per spotted movement, with its window
  (onset-offset), plain-language label, regions, dominant blendshapes and expression, amplitude
  and the interview step it fell in;
* ``expression_timeline``: the per-answer summary (trajectory, cues, baseline comparison);
* ``micro_expression_low_frame_rate`` when frames came too sparsely to spot brief movements;
* ``expression_no_face`` (``not_checked``) when no face was seen at all.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from verification.expression.motion import MotionSampler
from verification.expression.reading import ExpressionModels, read_expression
from verification.expression.regions import face_chip
from verification.expression.smoothing import ExpressionSmoother
from verification.expression.speech import SpeechTracker, articulation_windows, uncovered
from verification.expression.spotting import MotionSample, SpottingConfig, spot_events
from verification.expression.timeline import (
    ACTION_NAMES,
    ExpressionTimeline,
    FrameRecord,
    action_values,
    build_timeline,
)
from verification.face.expression import LABELS
from verification.face.observation import FaceObservation
from verification.pipeline.analyzer import SessionContext
from verification.pipeline.ringbuffer import AudioRead
from verification.prompt_script import PromptScript
from verification.types import Check, Evidence, Outcome, TimeWindow, VideoFrame
from verification.voice.vad import SileroVad

log = logging.getLogger(__name__)

MODEL = "face_expression+face_expression_faceapi+face_blendshapes+dis_flow"


@dataclass(frozen=True)
class ExpressionCueConfig:
    spotting: SpottingConfig = field(default_factory=SpottingConfig)
    smoothing_tau_s: float = 0.4
    flow_preset: str = "medium"  # DIS preset: "medium", "fast" or "ultrafast"
    max_frames: int = 36_000  # 20 minutes at 30 fps; older frames are dropped (and noted)
    max_event_evidence: int = 200  # the timeline evidence lists all events anyway


class ExpressionCue:
    """Per-interview state; see the module docstring."""

    name = "expression"
    wants_audio = True

    def __init__(self, models: ExpressionModels, vad: SileroVad | None,
                 script: PromptScript | None = None,
                 config: ExpressionCueConfig | None = None) -> None:
        self.config = config or ExpressionCueConfig()
        self._models = models
        self._script = script or PromptScript()
        self._speech = SpeechTracker(vad) if vad is not None else None
        self._sampler = MotionSampler(self.config.spotting.half_interval_s,
                                      flow_preset=self.config.flow_preset)
        self._smoother = ExpressionSmoother(self.config.smoothing_tau_s)
        self._records: deque[FrameRecord] = deque(maxlen=self.config.max_frames)
        self._samples: deque[MotionSample] = deque(maxlen=self.config.max_frames)
        self._mouth: deque[tuple[float, float]] = deque(maxlen=self.config.max_frames)
        self._frames = 0
        self._face_frames = 0
        self._cost_ms = 0.0
        self._cpu_ms = 0.0
        self._timeline: ExpressionTimeline | None = None

    @classmethod
    def factory(cls, registry, config: ExpressionCueConfig | None = None  # noqa: ANN001
                ) -> Callable[[SessionContext], ExpressionCue]:
        """A cue factory for :class:`~verification.face.analyzer.FaceAnalyzer` (models are
        loaded once here, shared by every interview)."""
        # The cue rides on the face stage: its models are loaded (and checked) first, so a
        # broken face model is reported as such before this cue's own models load.
        for name in ("face_detector", "face_mesh", "face_blendshapes"):
            registry.adapter(name)
        models = ExpressionModels.from_registry(registry)
        vad = registry.adapter("vad")

        def make(context: SessionContext) -> ExpressionCue:
            return cls(models, vad, PromptScript.from_context(context.script), config)

        return make

    # -- per frame ---------------------------------------------------------------------------
    def observe(self, observation: FaceObservation, frame: VideoFrame) -> Iterable[Evidence]:
        started, started_cpu = time.perf_counter(), time.thread_time()
        self._frames += 1
        self._timeline = None
        pts = observation.pts
        reading = None
        if observation.face and observation.landmarks is not None:
            reading = read_expression(self._models, frame.image, observation)
        if reading is None:
            self._sampler.gap()
            confidence = self._smoother.miss(pts)
            self._records.append(FrameRecord(pts, False, np.zeros(len(LABELS)), confidence,
                                             np.full(len(ACTION_NAMES), np.nan)))
        else:
            self._face_frames += 1
            smoothed, confidence = self._smoother.update(pts, reading.probabilities,
                                                         reading.confidence)
            self._records.append(FrameRecord(pts, True, smoothed, confidence,
                                             action_values(reading.blendshapes)))
            if observation.mouth_opening is not None:
                self._mouth.append((pts, float(observation.mouth_opening)))
            chip = face_chip(frame.image, observation.landmarks, pts)
            sample = self._sampler.push(chip, reading.blendshapes, reading.probabilities)
            if sample is not None:
                self._samples.append(sample)
        self._cost_ms += (time.perf_counter() - started) * 1000.0
        self._cpu_ms += (time.thread_time() - started_cpu) * 1000.0
        return ()

    def observe_audio(self, audio: AudioRead) -> Iterable[Evidence]:
        if self._speech is not None:
            self._timeline = None
            self._speech.observe(audio)
        return ()

    # -- end of interview ----------------------------------------------------------------------
    @property
    def cost_ms_per_frame(self) -> float:
        """Mean wall time of this cue per analysed frame (fer + chip + flow), milliseconds."""
        return self._cost_ms / self._frames if self._frames else 0.0

    @property
    def cpu_ms_per_frame(self) -> float:
        """The same in CPU time of the calling thread (robust to a busy machine; OpenCV's or
        onnxruntime's own worker threads, if configured, are not counted)."""
        return self._cpu_ms / self._frames if self._frames else 0.0

    def samples(self) -> tuple[MotionSample, ...]:
        """The motion samples measured so far (for evaluation and ablations)."""
        return tuple(self._samples)

    def speech(self) -> list[tuple[float, float]]:
        """Voice-activity segments so far (media seconds)."""
        if self._speech is None or not self._speech.heard:
            return []
        return list(self._speech.finish()[0])

    def timeline(self) -> ExpressionTimeline:
        if self._timeline is None:
            self._timeline = self._build()
        return self._timeline

    def _build(self) -> ExpressionTimeline:
        notes: list[str] = []
        records = list(self._records)
        first = records[0].pts if records else 0.0
        last = records[-1].pts if records else 0.0
        speech: list[tuple[float, float]] = []
        covered: list[tuple[float, float]] = []
        if self._speech is not None and self._speech.heard:
            speech, covered = self._speech.finish()
        unknown: list[tuple[float, float]] = []
        if records:
            gaps = uncovered(first, last + 1e-3, covered)
            if gaps:
                if not covered:
                    notes.append("no audio: mouth movements that look like talking are treated "
                                 "as speech")
                times = np.array([t for t, _ in self._mouth])
                opening = np.array([m for _, m in self._mouth])
                talking = articulation_windows(times, opening)
                unknown = [(max(a, g0), min(b, g1)) for a, b in talking for g0, g1 in gaps
                           if min(b, g1) > max(a, g0)]
        if len(self._records) == self._records.maxlen:
            notes.append(f"only the last {self._records.maxlen} analysed frames are summarised")
        result = spot_events(list(self._samples), speech, self.config.spotting, unknown)
        if not result.reliable and result.samples:
            notes.append(f"brief movements were looked for at {result.fps:.1f} analysed frames "
                         f"per second; below {self.config.spotting.min_fps:.0f} a movement "
                         f"shorter than half a second can fall between frames")
        end = last + 1e-3 if records else 0.0
        return build_timeline(records, result, self._script, speech, end=end, notes=notes)

    def summarize(self) -> Iterable[Evidence]:
        if self._face_frames == 0:
            return [Evidence(Check.MICRO_EXPRESSION, Outcome.NOT_CHECKED, TimeWindow(0.0, 0.0),
                             "no face was seen: no expression cues", code="expression_no_face",
                             model=MODEL)]
        timeline = self.timeline()
        provider = getattr(self._models.fer.model, "provider", None)
        out: list[Evidence] = []
        for item in timeline.events[:self.config.max_event_evidence]:
            event = item.event
            out.append(Evidence(
                Check.MICRO_EXPRESSION, Outcome.INCONCLUSIVE,
                TimeWindow(event.onset, max(event.onset, event.offset)),
                f"{item.label} (advisory cue)",
                model=MODEL, provider=provider,
                code="micro_expression" if event.kind == "micro" else "brief_expression",
                details=item.to_json()))
        records = list(self._records)
        window = TimeWindow(records[0].pts, records[-1].pts)
        if not timeline.reliable:
            out.append(Evidence(
                Check.MICRO_EXPRESSION, Outcome.INCONCLUSIVE, window,
                f"analysed at {timeline.analysed_fps:.1f} frames per second: too few to spot "
                f"brief movements (needs {self.config.spotting.min_fps:.0f}); expression "
                f"trajectory only", code="micro_expression_low_frame_rate", model=MODEL,
                provider=provider, details={"analysed_fps": round(timeline.analysed_fps, 2)}))
        answers = len(timeline.answers)
        count = len(timeline.events)
        details = timeline.to_json()
        details["cost_ms_per_frame"] = round(self.cost_ms_per_frame, 3)
        details["cpu_ms_per_frame"] = round(self.cpu_ms_per_frame, 3)
        details["frames"] = self._frames
        out.append(Evidence(
            Check.MICRO_EXPRESSION, Outcome.INCONCLUSIVE, window,
            f"expression cues for reviewers (advisory): {count} brief movement"
            f"{'' if count == 1 else 's'} over {answers} answer{'' if answers == 1 else 's'}",
            model=MODEL, provider=provider, latency_ms=self.cost_ms_per_frame,
            code="expression_timeline", details=details))
        return out
