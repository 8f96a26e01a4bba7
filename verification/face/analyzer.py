"""The ``face`` analyzer: one face stage per interview, and the evidence it draws from it.

Per analysed frame its stream runs :class:`~verification.face.observation.FaceTracker` once
(detect -> track -> mesh -> blendshapes -> geometry -> quality, a descriptor about every
second) and turns the observations into evidence:

* **presence** (``Check.FACE_PRESENCE``), as time spans: ``no_face`` (>= 2 s; shorter:
  ``no_face_brief``), ``multiple_faces`` (a second face of comparable size for >= 1 s, a hard
  gate: someone coaching; shorter: ``multiple_faces_brief``; a much smaller face far behind:
  ``background_face``), ``face_too_small``, ``face_partly_out_of_frame``, and the summary
  ``face_presence_summary`` (exactly one face in >= 80 % of frames);
* **quality** (``Check.MEDIA_QUALITY``): ``quality_<guidance>`` spans (too dark, blurry, ...;
  codes in :mod:`verification.face.quality`), ``face_quality_summary``, and ``reference_frame``:
  the best-quality frame of the session (time, metrics and a JPEG face crop for reviewers);
* **face match** (``Check.FACE_MATCH``) against the ID photo: the ID photo's own problems
  (``id_photo_no_face``, ``id_photo_multiple_faces`` - the largest face is used -, and
  ``unreadable`` added by the caller that failed to decode it), then one summary over the
  descriptors of good-quality frames: ``face_match`` (median similarity >= the calibrated
  threshold), ``face_match_uncertain`` (between the thresholds: review), ``face_mismatch``
  (below the population-wide FAR-0.1 % point: a hard gate), ``face_match_poor_quality``;
* **continuity** (``Check.FACE_PRESENCE``): each good descriptor is compared with the
  session's first good ones; two in a row below the mismatch threshold are ``identity_changed``
  (a hard gate, with the time of the change); otherwise ``face_continuity`` supports.

Face cues (:mod:`verification.face.cues`: liveness challenges, presentation-attack cues, lip
sync) get every observation through the hook, so the mesh runs once per frame for all of them.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from verification.errors import VerificationError
from verification.face.cues import FaceCue, FaceCueFactory
from verification.face.match import FaceMatcher
from verification.face.observation import FaceObservation, FaceTracker, TrackerConfig
from verification.face.quality import (
    BLURRY,
    EYES_CLOSED,
    FACE_NOT_CENTERED,
    FACE_OCCLUDED,
    HOLD_STILL,
    LOOK_AT_CAMERA,
    MOVE_BACK,
    MOVE_CLOSER,
    TOO_BRIGHT,
    TOO_DARK,
)
from verification.face.spans import Span, SpanTracker
from verification.pipeline.analyzer import Analyzer, AnalyzerStream, SessionContext
from verification.pipeline.ringbuffer import AudioRead
from verification.runtime import InferenceExecutor, ModelRegistry
from verification.types import Check, Evidence, Outcome, TimeWindow, VideoFrame

log = logging.getLogger(__name__)

PRESENCE_MODEL = "face_detector+face_mesh"
MATCH_MODEL = "face_embedding"
# Guidance that makes a frame's descriptor unreliable for matching or continuity.
UNFIT_FOR_MATCHING = frozenset({TOO_DARK, TOO_BRIGHT, BLURRY, MOVE_CLOSER, LOOK_AT_CAMERA,
                                FACE_OCCLUDED, EYES_CLOSED})
# Guidance reported as quality spans (move_closer is reported as face_too_small).
QUALITY_SPAN_CODES = (TOO_DARK, TOO_BRIGHT, BLURRY, MOVE_BACK, FACE_NOT_CENTERED, LOOK_AT_CAMERA,
                      FACE_OCCLUDED, HOLD_STILL, EYES_CLOSED)


@dataclass(frozen=True)
class FaceAnalyzerConfig:
    """Cadences and the durations that turn spans into evidence (seconds of media time)."""

    tracker: TrackerConfig = TrackerConfig()
    embed_interval_s: float = 1.0  # a descriptor about every second
    min_no_face_s: float = 2.0  # shorter gaps (looking away) are inconclusive, not contradicting
    min_second_face_s: float = 1.0
    background_face_ratio: float = 0.25  # other face smaller than this share of ours: background
    min_condition_s: float = 0.5  # too small / partly out of frame
    min_quality_span_s: float = 1.0
    min_present_share: float = 0.8
    anchor_size: int = 3  # good descriptors that define "the applicant" for continuity
    identity_change_run: int = 2  # consecutive descriptors below the mismatch threshold
    min_match_frames: int = 2
    max_descriptors: int = 7200  # two hours at one a second
    recent_observations: int = 300
    reference_crop_px: int = 256


@dataclass(frozen=True, eq=False)
class ReferenceFrame:
    """The session's best-quality frame: for reviewers and for matching later."""

    pts: float
    image: np.ndarray  # RGB uint8, the full frame
    observation: FaceObservation
    score: float

    def face_jpeg(self, max_side: int = 256) -> bytes:
        """A JPEG of the face with some margin, at most ``max_side`` pixels on its long side."""
        x, y, w, h = self.observation.box or (0.0, 0.0, *map(float, self.image.shape[1::-1]))
        cx, cy, side = x + w / 2, y + h / 2, max(w, h) * 1.6
        height, width = self.image.shape[:2]
        x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        x1, y1 = int(min(width, cx + side / 2)), int(min(height, cy + side / 2))
        crop = self.image[y0:y1, x0:x1]
        scale = min(1.0, max_side / max(crop.shape[:2]))
        if scale < 1.0:
            crop = cv2.resize(crop, (max(1, int(crop.shape[1] * scale)),
                                     max(1, int(crop.shape[0] * scale))),
                              interpolation=cv2.INTER_AREA)
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, 88])
        return data.tobytes() if ok else b""


@dataclass
class _Descriptor:
    pts: float
    vector: np.ndarray  # normalised (whitened, unit length)
    usable: bool
    similarity_to_id: float | None


@dataclass
class _Continuity:
    anchor: list[np.ndarray] = field(default_factory=list)
    run: list[tuple[float, float]] = field(default_factory=list)  # (pts, similarity) below
    reported_run: bool = False
    min_similarity: float | None = None
    compared: int = 0
    changes: int = 0


class FaceStream(AnalyzerStream):
    wants_video = True

    def __init__(self, analyzer: FaceAnalyzer, context: SessionContext,
                 executor: InferenceExecutor) -> None:
        super().__init__("face", executor)
        self._analyzer = analyzer
        self._cfg = analyzer.config
        self._context = context
        self._matcher = analyzer.matcher
        self._tracker = FaceTracker(analyzer.detector, analyzer.mesh, analyzer.blendshapes,
                                    analyzer.matcher.encoder, analyzer.config.tracker)
        self._lock = threading.Lock()
        self._cues: list[FaceCue] = []
        for factory in analyzer.cue_factories:
            try:
                self._cues.append(factory(context))
            except Exception:
                log.exception("face cue factory %r failed; the cue is skipped", factory)
        self.wants_audio = any(getattr(c, "wants_audio", False) for c in self._cues)
        self._reference_ready = False
        self._id_vector: np.ndarray | None = None
        self._id_failed = False
        self._spans = SpanTracker()
        self._counts = {"none": 0, "one": 0, "many": 0}
        self._first: float | None = None
        self._last = 0.0
        self._last_embed: float | None = None
        self._significant_others = False
        self._descriptors: deque[_Descriptor] = deque(maxlen=self._cfg.max_descriptors)
        self._continuity = _Continuity()
        self._best: ReferenceFrame | None = None
        self._good_frames = 0
        self._face_frames = 0
        self._latency_sum = 0.0
        self._recent: deque[FaceObservation] = deque(maxlen=self._cfg.recent_observations)

    # -- public views ------------------------------------------------------------------------
    @property
    def reference_frame(self) -> ReferenceFrame | None:
        return self._best

    def recent_observations(self) -> tuple[FaceObservation, ...]:
        """The latest observations (bounded), oldest first."""
        with self._lock:
            return tuple(self._recent)

    # -- hooks -------------------------------------------------------------------------------
    def process_frame(self, frame: VideoFrame) -> Iterable[Evidence]:
        with self._lock:
            out = self._prepare_reference()
            due = self._last_embed is None or frame.pts - self._last_embed >= \
                self._cfg.embed_interval_s - 1e-6
            obs = self._tracker.observe(frame.image, frame.pts, frame.index, embed=due)
            self._recent.append(obs)
            self._first = frame.pts if self._first is None else self._first
            self._last = frame.pts
            self._latency_sum += obs.latency_ms
            out.extend(self._presence(obs))
            if obs.embedding is not None:
                self._last_embed = frame.pts
                out.extend(self._descriptor(obs))
            self._keep_best(obs, frame)
            for cue in self._cues:
                out.extend(_safe(cue, "observe", obs, frame))
            return out

    def process_audio(self, audio: AudioRead) -> Iterable[Evidence]:
        with self._lock:
            out: list[Evidence] = []
            for cue in self._cues:
                if getattr(cue, "wants_audio", False):
                    out.extend(_safe(cue, "observe_audio", audio))
            return out

    def summarize(self) -> Iterable[Evidence]:
        with self._lock:
            out = self._prepare_reference()
            for span in self._spans.close_all(self._last):
                out.extend(self._span_evidence(span))
            out.extend(self._presence_summary())
            out.extend(self._continuity_summary())
            out.extend(self._match_summary())
            out.extend(self._quality_summary())
            for cue in self._cues:
                out.extend(_safe(cue, "summarize"))
            return out

    # -- ID photo ----------------------------------------------------------------------------
    def _prepare_reference(self) -> list[Evidence]:
        if self._reference_ready:
            return []
        self._reference_ready = True
        photo = self._context.id_photo
        if photo is None:
            return []
        zero = TimeWindow(0.0, 0.0)
        try:
            still = self._matcher.encode_image(photo)
        except VerificationError as err:
            self._id_failed = True
            code = "id_photo_no_face" if err.code == "no_face" else "unreadable"
            text = "the ID photo shows no face" if code == "id_photo_no_face" \
                else f"the ID photo cannot be used ({err})"
            return [Evidence(Check.FACE_MATCH, Outcome.NOT_CHECKED, zero, text, code=code,
                             model=PRESENCE_MODEL)]
        self._id_vector = self._matcher.calibration.normalize(still.embedding.vector)
        if still.n_faces > 1:
            return [Evidence(Check.FACE_MATCH, Outcome.INCONCLUSIVE, zero,
                             f"the ID photo shows {still.n_faces} faces; the largest is used",
                             code="id_photo_multiple_faces", model=PRESENCE_MODEL,
                             details={"faces": still.n_faces, "box": list(still.box)})]
        return []

    # -- presence and quality spans ---------------------------------------------------------
    def _presence(self, obs: FaceObservation) -> list[Evidence]:
        state = "none" if not obs.face else "many" if obs.n_faces > 1 else "one"
        active: dict[str, float] = {}
        if obs.detected:
            self._significant_others = self._others_significant(obs)
        if not obs.face:
            active["no_face"] = 1.0
        if obs.face and obs.n_faces > 1:
            active["multiple_faces" if self._significant_others else "background_face"] = \
                float(obs.n_faces)
        if obs.face:
            self._face_frames += 1
            quality = obs.quality
            if quality is not None:
                if MOVE_CLOSER in quality.guidance:
                    active["face_too_small"] = 1.0
                if quality.outside_share > self._cfg.tracker.quality.max_outside_share:
                    active["face_partly_out_of_frame"] = quality.outside_share
                for code in QUALITY_SPAN_CODES:
                    if code in quality.guidance:
                        active[f"quality_{code}"] = 1.0
                if not quality.guidance:
                    self._good_frames += 1
        self._counts[state] += 1
        out: list[Evidence] = []
        for span in self._spans.update(obs.pts, active):
            out.extend(self._span_evidence(span))
        return out

    def _others_significant(self, obs: FaceObservation) -> bool:
        if obs.box is None:
            return bool(obs.other_boxes)
        ours = obs.box[3]
        return any(h >= self._cfg.background_face_ratio * ours for _, _, _, h in obs.other_boxes)

    def _span_evidence(self, span: Span) -> list[Evidence]:
        cfg = self._cfg
        window = TimeWindow(span.start, max(span.start, span.end))
        duration = window.end - window.start
        common = {"model": PRESENCE_MODEL, "provider": self._analyzer.provider,
                  "details": {"frames": span.frames, "peak": round(span.peak, 3)}}
        name = span.name
        if name == "no_face":
            hard = duration >= cfg.min_no_face_s
            return [Evidence(Check.FACE_PRESENCE,
                             Outcome.CONTRADICTS if hard else Outcome.INCONCLUSIVE, window,
                             f"no face in view for {duration:.1f} s",
                             code="no_face" if hard else "no_face_brief", **common)]
        if name == "multiple_faces":
            hard = duration >= cfg.min_second_face_s
            return [Evidence(Check.FACE_PRESENCE,
                             Outcome.CONTRADICTS if hard else Outcome.INCONCLUSIVE, window,
                             f"{int(span.peak)} faces in view for {duration:.1f} s",
                             code="multiple_faces" if hard else "multiple_faces_brief", **common)]
        if name == "background_face":
            if duration < cfg.min_second_face_s:
                return []
            return [Evidence(Check.FACE_PRESENCE, Outcome.INCONCLUSIVE, window,
                             f"a small face in the background for {duration:.1f} s",
                             code="background_face", **common)]
        if name in ("face_too_small", "face_partly_out_of_frame"):
            if duration < cfg.min_condition_s:
                return []
            text = "face too small (too far from the camera)" if name == "face_too_small" \
                else "face partly out of the frame"
            return [Evidence(Check.FACE_PRESENCE, Outcome.INCONCLUSIVE, window,
                             f"{text} for {duration:.1f} s", code=name, **common)]
        if name.startswith("quality_"):
            if duration < cfg.min_quality_span_s:
                return []
            guidance = name.removeprefix("quality_")
            return [Evidence(Check.MEDIA_QUALITY, Outcome.INCONCLUSIVE, window,
                             f"face quality: {guidance.replace('_', ' ')} for {duration:.1f} s",
                             code=name, **{**common, "details": {**common["details"],
                                                                 "guidance": guidance}})]
        return []

    def _presence_summary(self) -> list[Evidence]:
        analysed = sum(self._counts.values())
        if analysed == 0:
            return [Evidence(Check.FACE_PRESENCE, Outcome.NOT_CHECKED, TimeWindow(0.0, 0.0),
                             "no video frames were analysed", code="no_video")]
        share = self._counts["one"] / analysed
        outcome = Outcome.SUPPORTS if share >= self._cfg.min_present_share else Outcome.CONTRADICTS
        return [Evidence(Check.FACE_PRESENCE, outcome, TimeWindow(self._first or 0.0, self._last),
                         f"exactly one face in {share:.0%} of {analysed} analysed frames",
                         score=share, model=PRESENCE_MODEL, provider=self._analyzer.provider,
                         latency_ms=self._latency_sum / analysed, code="face_presence_summary",
                         details=dict(self._counts))]

    # -- descriptors: match and continuity --------------------------------------------------
    def _descriptor(self, obs: FaceObservation) -> list[Evidence]:
        assert obs.embedding is not None
        calibration = self._matcher.calibration
        vector = calibration.normalize(obs.embedding.vector)
        usable = obs.quality is not None and not (set(obs.quality.guidance) & UNFIT_FOR_MATCHING)
        similarity = None if self._id_vector is None else float(vector @ self._id_vector)
        self._descriptors.append(_Descriptor(obs.pts, vector, usable, similarity))
        if not usable:
            return []
        state = self._continuity
        if len(state.anchor) < self._cfg.anchor_size:
            state.anchor.append(vector)
            return []
        anchor = np.mean(state.anchor, axis=0)
        anchor /= np.linalg.norm(anchor)
        sim = float(vector @ anchor)
        state.compared += 1
        state.min_similarity = sim if state.min_similarity is None \
            else min(state.min_similarity, sim)
        if sim >= calibration.mismatch_threshold:
            state.run.clear()
            state.reported_run = False
            return []
        state.run.append((obs.pts, sim))
        if len(state.run) < self._cfg.identity_change_run or state.reported_run:
            return []
        state.reported_run = True
        state.changes += 1
        start = state.run[0][0]
        return [Evidence(Check.FACE_PRESENCE, Outcome.CONTRADICTS, TimeWindow(start, obs.pts),
                         f"a different person from {start:.1f} s (similarity to the applicant "
                         f"seen earlier {min(s for _, s in state.run):.2f})",
                         score=float(min(s for _, s in state.run)), model=MATCH_MODEL,
                         provider=self._analyzer.match_provider, code="identity_changed",
                         details={"threshold": round(calibration.mismatch_threshold, 4),
                                  "similarities": [[round(t, 3), round(s, 4)]
                                                   for t, s in state.run]})]

    def _continuity_summary(self) -> list[Evidence]:
        state = self._continuity
        if state.compared == 0 or state.changes:
            return []
        window = TimeWindow(self._first or 0.0, self._last)
        return [Evidence(Check.FACE_PRESENCE, Outcome.SUPPORTS, window,
                         f"the same face throughout ({state.compared + len(state.anchor)} "
                         f"descriptors, lowest similarity {state.min_similarity:.2f})",
                         score=state.min_similarity, model=MATCH_MODEL,
                         provider=self._analyzer.match_provider, code="face_continuity")]

    def _match_summary(self) -> list[Evidence]:
        calibration = self._matcher.calibration
        window = TimeWindow(self._first or 0.0, self._last)
        if self._context.id_photo is None:
            return [Evidence(Check.FACE_MATCH, Outcome.NOT_CHECKED, TimeWindow(0.0, 0.0),
                             "no ID photo was given", code="no_id_photo")]
        if self._id_vector is None:
            return []  # the ID photo's own evidence says why
        scored = [d for d in self._descriptors if d.similarity_to_id is not None]
        if not scored:
            return [Evidence(Check.FACE_MATCH, Outcome.NOT_CHECKED, window,
                             "no face to compare with the ID photo", code="face_match_no_face",
                             model=MATCH_MODEL)]
        usable = [d for d in scored if d.usable]
        chosen = usable or scored
        sims = np.array([d.similarity_to_id for d in chosen])
        median = float(np.median(sims))
        details = {"threshold": round(calibration.threshold, 4),
                   "mismatch_threshold": round(calibration.mismatch_threshold, 4),
                   "frames": len(chosen), "good_frames": len(usable),
                   "median": round(median, 4), "min": round(float(sims.min()), 4),
                   "max": round(float(sims.max()), 4),
                   "similarities": [[round(d.pts, 3), round(d.similarity_to_id, 4)]
                                    for d in chosen[:120]]}
        common = {"score": median, "model": MATCH_MODEL, "provider": self._analyzer.match_provider,
                  "details": details}
        if not usable:
            return [Evidence(Check.FACE_MATCH, Outcome.INCONCLUSIVE, window,
                             f"only poor-quality frames to match (median similarity {median:.2f})",
                             code="face_match_poor_quality", **common)]
        if median >= calibration.threshold:
            return [Evidence(Check.FACE_MATCH, Outcome.SUPPORTS, window,
                             f"the face matches the ID photo (median similarity {median:.2f} over "
                             f"{len(usable)} good frames)", code="face_match", **common)]
        if median < calibration.mismatch_threshold and len(usable) >= self._cfg.min_match_frames:
            return [Evidence(Check.FACE_MATCH, Outcome.CONTRADICTS, window,
                             f"the face does not match the ID photo (median similarity "
                             f"{median:.2f})", code="face_mismatch", **common)]
        return [Evidence(Check.FACE_MATCH, Outcome.INCONCLUSIVE, window,
                         f"the face match is uncertain (median similarity {median:.2f})",
                         code="face_match_uncertain", **common)]

    # -- reference frame ---------------------------------------------------------------------
    def _keep_best(self, obs: FaceObservation, frame: VideoFrame) -> None:
        if obs.quality is None or obs.n_faces > 1:
            return
        if self._best is None or obs.quality.score > self._best.score:
            self._best = ReferenceFrame(pts=frame.pts, image=frame.image.copy(), observation=obs,
                                        score=obs.quality.score)

    def _quality_summary(self) -> list[Evidence]:
        out: list[Evidence] = []
        window = TimeWindow(self._first or 0.0, self._last)
        if self._face_frames:
            share = self._good_frames / self._face_frames
            outcome = Outcome.SUPPORTS if share >= 0.5 else Outcome.INCONCLUSIVE
            out.append(Evidence(Check.MEDIA_QUALITY, outcome, window,
                                f"face quality good in {share:.0%} of {self._face_frames} frames "
                                f"with a face", score=share, model=PRESENCE_MODEL,
                                code="face_quality_summary"))
        best = self._best
        if best is not None:
            obs = best.observation
            similarity = None
            if self._id_vector is not None and obs.embedding is not None:
                similarity = float(self._matcher.calibration.normalize(obs.embedding.vector)
                                   @ self._id_vector)
            jpeg = best.face_jpeg(self._cfg.reference_crop_px)
            out.append(Evidence(
                Check.MEDIA_QUALITY, Outcome.SUPPORTS if obs.quality and obs.quality.good
                else Outcome.INCONCLUSIVE, TimeWindow(best.pts, best.pts),
                f"reference frame at {best.pts:.2f} s (quality {best.score:.2f})",
                score=best.score, model=PRESENCE_MODEL, code="reference_frame",
                details={"pts": round(best.pts, 3), "box": [round(v, 1) for v in obs.box or ()],
                         "quality": obs.quality.to_json() if obs.quality else None,
                         "pose": obs.pose.to_json() if obs.pose else None,
                         "similarity_to_id": None if similarity is None else round(similarity, 4),
                         "face_jpeg_base64": base64.b64encode(jpeg).decode("ascii")}))
        return out


def _safe(cue: FaceCue, method: str, *args: object) -> list[Evidence]:
    """Call one cue hook; a failing cue is logged (with its traceback the first time only, so a
    broken cue cannot flood the log at the frame rate) and skipped for this call."""
    try:
        return list(getattr(cue, method)(*args) or ())
    except Exception:
        failures = getattr(cue, "_face_cue_failures", 0)
        name = getattr(cue, "name", type(cue).__name__)
        if failures == 0:
            log.exception("face cue %s failed in %s", name, method)
        else:
            log.debug("face cue %s failed in %s again (%d)", name, method, failures + 1)
        try:
            cue._face_cue_failures = failures + 1  # type: ignore[attr-defined]
        except AttributeError:
            pass
        return []


class FaceAnalyzer(Analyzer):
    """Holds the shared face models and the match calibration; one :class:`FaceStream` each."""

    name = "face"

    def __init__(self, registry: ModelRegistry, cues: Sequence[FaceCueFactory] = (),
                 config: FaceAnalyzerConfig | None = None,
                 cue_checks: Sequence[Check] = ()) -> None:
        self.config = config or FaceAnalyzerConfig()
        self.detector = registry.adapter("face_detector")
        self.mesh = registry.adapter("face_mesh")
        self.blendshapes = registry.adapter("face_blendshapes")
        self.matcher = FaceMatcher.from_registry(registry)
        self.cue_factories = tuple(cues)
        self.checks = (Check.FACE_PRESENCE, Check.FACE_MATCH, Check.MEDIA_QUALITY, *cue_checks)

    @property
    def provider(self) -> str:
        return self.mesh.model.provider

    @property
    def match_provider(self) -> str:
        return self.matcher.encoder.model.provider

    def open_stream(self, context: SessionContext, executor: InferenceExecutor) -> FaceStream:
        return FaceStream(self, context, executor)
