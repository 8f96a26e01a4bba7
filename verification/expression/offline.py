"""The expression stage over a recording, outside a live session (CLI timeline, evaluation).

Why: ``verification expression timeline`` and the evaluation need the per-answer summary without
the whole verdict machinery; they run exactly the live code path - the face stage's
:class:`~verification.face.observation.FaceTracker` (detect, track, mesh, blendshapes) feeding
an :class:`~verification.expression.cue.ExpressionCue` - frame by frame, with the recording's
audio through the cue's VAD.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from verification.expression.cue import ExpressionCue, ExpressionCueConfig
from verification.expression.reading import ExpressionModels
from verification.expression.timeline import ExpressionTimeline
from verification.face.observation import FaceTracker
from verification.pipeline.ringbuffer import AudioRead
from verification.prompt_script import PromptScript
from verification.runtime import ModelRegistry
from verification.types import AudioChunk, VideoFrame


@dataclass(frozen=True)
class StageCost:
    """Wall time of the expression stage, for the cost benchmark."""

    frames: int
    face_stage_ms: float  # mean wall time per frame: detector, mesh, blendshapes (shared)
    expression_ms: float  # mean wall time per frame: this cue (two CNN crops + chip + flow)
    session_s: float  # total wall time of the expression cue over the recording
    face_stage_cpu_ms: float = 0.0  # the same two in CPU time of the calling thread
    expression_cpu_ms: float = 0.0


class ExpressionSession:
    """A face tracker and an expression cue, fed frame by frame and audio block by block."""

    def __init__(self, registry: ModelRegistry, script: Sequence[Any] | Mapping[str, Any] | None
                 = None, config: ExpressionCueConfig | None = None) -> None:
        self.tracker = FaceTracker.from_registry(registry, with_encoder=False)
        self.cue = ExpressionCue(ExpressionModels.from_registry(registry), registry.adapter("vad"),
                                 PromptScript.from_context(script), config)
        self._frames = 0
        self._face_ms = 0.0
        self._face_cpu_ms = 0.0

    def feed_frame(self, image: np.ndarray, pts: float, index: int = 0) -> None:
        started, started_cpu = time.perf_counter(), time.thread_time()
        observation = self.tracker.observe(image, pts, index)
        self._face_ms += (time.perf_counter() - started) * 1000.0
        self._face_cpu_ms += (time.thread_time() - started_cpu) * 1000.0
        self._frames += 1
        self.cue.observe(observation, VideoFrame(image, pts, index))

    def feed_audio(self, samples: np.ndarray, start: float) -> None:
        self.cue.observe_audio(AudioRead(np.asarray(samples, np.float32), start, ()))

    def timeline(self) -> ExpressionTimeline:
        return self.cue.timeline()

    @property
    def cost(self) -> StageCost:
        frames = max(self._frames, 1)
        return StageCost(frames=self._frames, face_stage_ms=self._face_ms / frames,
                         expression_ms=self.cue.cost_ms_per_frame,
                         session_s=self.cue.cost_ms_per_frame * self._frames / 1000.0,
                         face_stage_cpu_ms=self._face_cpu_ms / frames,
                         expression_cpu_ms=self.cue.cpu_ms_per_frame)


def analyse_recording(recording: Path, script: Sequence[Any] | Mapping[str, Any] | None = None,
                      fps: float | None = None, provider: str = "cpu",
                      registry: ModelRegistry | None = None) -> tuple[ExpressionTimeline,
                                                                      StageCost]:
    """Run the expression stage over a recording (``fps=None``: every frame)."""
    from verification.runtime import ThreadBudget
    from verification.video.decode import iter_media, probe

    probe(recording)  # an unreadable recording fails here, before models load
    registry = registry or ModelRegistry.from_manifest(
        provider=provider, budget=ThreadBudget.for_machine())  # type: ignore[arg-type]
    session = ExpressionSession(registry, script)
    for item in iter_media(recording, video_fps=fps):
        if isinstance(item, VideoFrame):
            session.feed_frame(item.image, item.pts, item.index)
        elif isinstance(item, AudioChunk):
            session.feed_audio(item.samples, item.pts)
    return session.timeline(), session.cost
