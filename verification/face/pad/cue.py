"""Passive presentation-attack cues as a face cue: measure each analysed frame, decide at the end.

Frames are measured at most :data:`MAX_RATE_HZ` times a second (the motion cues compare frames
~0.2 s apart, where both a head's sway and a hand's tremor show; more frames add cost, not
information). Only numbers are kept, never images, and only for a bounded number of frames.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Iterable

import numpy as np

from verification.face.observation import FaceObservation
from verification.face.pad.decision import PadAssessment, PadConfig, assess, to_evidence
from verification.face.pad.measures import (
    FrameMeasure,
    PairMeasure,
    face_crop,
    grey_of,
    measure_frame,
    measure_pair,
)
from verification.pipeline.analyzer import SessionContext
from verification.types import Evidence, VideoFrame

log = logging.getLogger(__name__)

MAX_RATE_HZ = 5.0
MAX_GAP_S = 0.75  # frames further apart are not compared (a gap in the video)
MAX_FIT_ERROR = 0.12  # a distorted mesh (lost track; real faces 0.02-0.05) is not measured
MAX_RECORDS = 5 * 60 * 60  # an hour at 5 Hz


class PresentationAttackCue:
    """Per-interview passive liveness (a :class:`~verification.face.cues.FaceCue`)."""

    name = "presentation_attack"

    def __init__(self, config: PadConfig | None = None) -> None:
        self.config = config or PadConfig()
        self._frames: deque[FrameMeasure] = deque(maxlen=MAX_RECORDS)
        self._pairs: deque[PairMeasure] = deque(maxlen=MAX_RECORDS)
        self._previous: tuple[float, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._spent_ms = 0.0

    @classmethod
    def factory(cls, context: SessionContext) -> PresentationAttackCue:
        return cls()

    def observe(self, observation: FaceObservation, frame: VideoFrame) -> Iterable[Evidence]:
        geometry = observation.geometry
        if observation.landmarks is None or geometry is None or observation.n_faces > 1 \
                or geometry.pose.fit_error > MAX_FIT_ERROR:
            self._previous = None
            return ()
        t = observation.pts
        if self._previous is not None and t - self._previous[0] < 1.0 / MAX_RATE_HZ - 1e-3:
            return ()
        started = time.perf_counter()
        points = observation.landmarks
        grey = grey_of(frame.image)
        box = geometry.box
        shapes = observation.blendshapes
        blink = math.nan if shapes is None else \
            (shapes.score("eyeBlinkLeft") + shapes.score("eyeBlinkRight")) / 2
        self._frames.append(measure_frame(t, frame.image, grey, points, box,
                                          geometry.mouth_opening, geometry.eyes_open, blink,
                                          five_points=geometry.five_points, pose=geometry.pose))
        crop = face_crop(grey, box)
        if self._previous is not None and t - self._previous[0] <= MAX_GAP_S:
            t0, grey0, crop0, points0 = self._previous
            self._pairs.append(measure_pair(t0, t, grey0, grey, crop0, crop, points0, points))
        self._previous = (t, grey, crop, points)
        self._spent_ms += (time.perf_counter() - started) * 1000.0
        return ()

    def assessment(self) -> PadAssessment:
        return assess(list(self._frames), list(self._pairs), self.config)

    def summarize(self) -> Iterable[Evidence]:
        result = self.assessment()
        per_frame = self._spent_ms / len(self._frames) if self._frames else None
        log.debug("passive liveness: %s (%s)", result.decision, ", ".join(result.reasons))
        return to_evidence(result, per_frame)
