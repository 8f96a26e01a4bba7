"""Face presence: is exactly one face in view, and when was there none or several?

Per-frame detections are folded into *spans* (no face / one face / several faces) so evidence
reads like a timeline ("no face 12.4-15.0 s") instead of one item per frame. A second face is
hard evidence only when it persists (a one-frame false positive must not reject anybody).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from verification.face.detector import BlazeFaceDetector
from verification.face.mesh import FaceMesh
from verification.pipeline.analyzer import Analyzer, AnalyzerStream, SessionContext
from verification.runtime import InferenceExecutor, ModelRegistry
from verification.types import Check, Evidence, Outcome, TimeWindow, VideoFrame

MIN_SECOND_FACE_FRAMES = 3
MIN_PRESENT_SHARE = 0.8


@dataclass
class _Span:
    state: str  # "none" | "one" | "many"
    start: float
    end: float
    frames: int
    max_faces: int
    latency_ms: float


class FacePresenceStream(AnalyzerStream):
    wants_video = True

    def __init__(self, detector: BlazeFaceDetector, mesh: FaceMesh,
                 executor: InferenceExecutor) -> None:
        super().__init__("face_presence", executor)
        self._detector = detector
        self._mesh = mesh
        self._span: _Span | None = None
        self._counts = {"none": 0, "one": 0, "many": 0}
        self._first: float | None = None
        self._last = 0.0

    def _count_faces(self, frame: VideoFrame) -> tuple[int, float]:
        """Faces confirmed by the mesh's presence score, as MediaPipe's own graph does: the
        detector alone fires on clutter (a desk scene scores 0.5), the mesh rejects it."""
        detections = self._detector.detect(frame.image)
        latency = detections.latency_ms
        confirmed = 0
        for face in detections:
            landmarks = self._mesh.landmarks(frame.image, face)
            latency += landmarks.latency_ms
            confirmed += int(landmarks.present)
        return confirmed, latency

    def process_frame(self, frame: VideoFrame) -> Iterable[Evidence]:
        count, latency_ms = self._count_faces(frame)
        state = "none" if count == 0 else "one" if count == 1 else "many"
        self._counts[state] += 1
        self._first = frame.pts if self._first is None else self._first
        self._last = frame.pts
        out = []
        span = self._span
        if span is None or span.state != state:
            if span is not None:
                out.extend(self._close(span, frame.pts))
            self._span = _Span(state, frame.pts, frame.pts, 1, count, latency_ms)
        else:
            span.end = frame.pts
            span.frames += 1
            span.max_faces = max(span.max_faces, count)
            span.latency_ms += latency_ms
        return out

    def _close(self, span: _Span, end: float) -> list[Evidence]:
        window = TimeWindow(span.start, max(end, span.end))
        common = {"model": "face_detector+face_mesh", "provider": self._detector.model.provider,
                  "latency_ms": span.latency_ms / span.frames,
                  "details": {"frames": span.frames, "max_faces": span.max_faces}}
        if span.state == "none":
            return [Evidence(Check.FACE_PRESENCE, Outcome.CONTRADICTS, window,
                             f"no face in view for {window.end - window.start:.1f} s",
                             code="no_face", **common)]
        if span.state == "many":
            persistent = span.frames >= MIN_SECOND_FACE_FRAMES
            return [Evidence(Check.FACE_PRESENCE,
                             Outcome.CONTRADICTS if persistent else Outcome.INCONCLUSIVE, window,
                             f"{span.max_faces} faces in view over {span.frames} frames",
                             code="multiple_faces" if persistent else "multiple_faces_brief",
                             **common)]
        return []

    def summarize(self) -> Iterable[Evidence]:
        out = []
        if self._span is not None:
            out.extend(self._close(self._span, self._last))
        analysed = sum(self._counts.values())
        if analysed == 0:
            out.append(Evidence(Check.FACE_PRESENCE, Outcome.NOT_CHECKED, TimeWindow(0.0, 0.0),
                                "no video frames were analysed", code="no_video"))
            return out
        share = self._counts["one"] / analysed
        window = TimeWindow(self._first or 0.0, self._last)
        outcome = Outcome.SUPPORTS if share >= MIN_PRESENT_SHARE else Outcome.CONTRADICTS
        out.append(Evidence(Check.FACE_PRESENCE, outcome, window,
                            f"exactly one face in {share:.0%} of {analysed} analysed frames",
                            score=share, model="face_detector+face_mesh",
                            code="face_presence_summary",
                            details=dict(self._counts)))
        return out


class FacePresenceAnalyzer(Analyzer):
    name = "face_presence"
    checks = (Check.FACE_PRESENCE,)

    def __init__(self, registry: ModelRegistry) -> None:
        self._detector: BlazeFaceDetector = registry.adapter("face_detector")
        self._mesh: FaceMesh = registry.adapter("face_mesh")

    def open_stream(self, context: SessionContext, executor: InferenceExecutor) -> AnalyzerStream:
        return FacePresenceStream(self._detector, self._mesh, executor)
