"""Background check (``Check.BACKGROUND``): what is behind the applicant, and who else was there.

Per interview, about once a second and whenever the scene changes
(``verification.scene.sampling``), one *moment* is analysed with the applicant masked out:

* objects (NanoDet) -> attack and coaching cues (another person, a phone, a screen by the
  face), folded into time spans, and the labels seen on the background for the scene profile;
* ORB features of the background -> continuity: a cut or a switched source is a *jump*;
* the applicant's face descriptor (a few moments) -> "same applicant?" across interviews.

At the end: the scene profile against the declared business type (advisory), and - when the
fingerprint index is configured - every distinct background of this interview is searched
against all earlier interviews, then stored. The same place with a *different* applicant is
strong evidence for review, listing the other session ids.

Evidence only ever sends the session to review (none of the codes is a hard gate): a bedroom
behind a machine shop or a phone in view has innocent explanations a reviewer can judge.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from verification.face.alignment import BlazeFacePoints
from verification.face.detector import BlazeFaceDetector, FaceDetection
from verification.face.embedding import DLIB_SAME_PERSON_THRESHOLD, DlibFaceEmbedder
from verification.pipeline.analyzer import Analyzer, AnalyzerStream, SessionContext
from verification.runtime import InferenceExecutor, ModelRegistry
from verification.scene.config import SceneSettings
from verification.scene.continuity import ContinuityTracker, Jump, moment_of
from verification.scene.cues import CUE_CODES, Cue, moment_objects
from verification.scene.features import OrbExtractor
from verification.scene.fingerprint import BackgroundFingerprint, Fingerprinter
from verification.scene.index import IndexEntry, PlaceHit, SceneIndex
from verification.scene.masking import ApplicantMasker, BackgroundView
from verification.scene.objects import NanoDetObjectDetector
from verification.scene.profile import SceneMapping, SceneProfileBuilder, judge_fit
from verification.scene.sampling import SceneSampler
from verification.types import Check, Evidence, Outcome, TimeWindow, VideoFrame

log = logging.getLogger(__name__)

MODEL = "scene_objects+person_segmentation"
MIN_CUE_MOMENTS = 2  # a cue seen in one moment only is reported, but not as decisive
MIN_MOMENTS = 3  # fewer analysed moments: the background check is inconclusive
MAX_FACE_SAMPLES = 5
MIN_FACE_WIDTH_PX = 40
MIN_FINGERPRINT_FEATURES = 40  # fewer: a plain wall, not distinctive enough to search for

CUE_TEXT = {
    "other_person_in_view": "another person in view",
    "phone_in_view": "a phone in view",
    "screen_near_face": "a screen next to the applicant's face",
}


@dataclass
class _CueSpan:
    code: str
    start: float
    end: float
    moments: int
    best: Cue
    labels: set[str] = field(default_factory=set)


def declared_business_type(geo: Mapping[str, Any]) -> str | None:
    """``geo["declared"]["type"]`` when it is a non-empty string (the geo JSON's contract)."""
    declared = geo.get("declared") if isinstance(geo, Mapping) else None
    value = declared.get("type") if isinstance(declared, Mapping) else None
    return value.strip() if isinstance(value, str) and value.strip() else None


class BackgroundStream(AnalyzerStream):
    wants_video = True

    def __init__(self, analyzer: BackgroundAnalyzer, context: SessionContext,
                 executor: InferenceExecutor) -> None:
        super().__init__("background", executor)
        self._a = analyzer
        self._context = context
        self._declared = declared_business_type(context.geo)
        self._sampler = SceneSampler(analyzer.settings.sample_interval_s)
        self._profile = SceneProfileBuilder(analyzer.mapping)
        self._continuity = ContinuityTracker()
        self._spans: dict[str, _CueSpan] = {}
        self._faces: list[np.ndarray] = []
        self._abrupt_at: float | None = None
        self._moments = 0
        self._first: float | None = None
        self._last = 0.0
        self._latency_ms = 0.0
        self._background_shares: list[float] = []
        self._contradicted = 0

    # -- per frame ---------------------------------------------------------------------------
    def process_frame(self, frame: VideoFrame) -> Iterable[Evidence]:
        decision, thumb = self._sampler.look(frame.image, frame.pts)
        if decision.abrupt and self._abrupt_at is None and self._moments > 0:
            self._abrupt_at = frame.pts
        if not decision.analyse:
            return []
        started = time.perf_counter()
        out = self._analyse(frame, thumb)
        self._latency_ms += (time.perf_counter() - started) * 1000.0
        return out

    def _analyse(self, frame: VideoFrame, thumb: np.ndarray) -> list[Evidence]:
        a = self._a
        view = a.masker.mask(frame.image)
        faces = a.face_detector.detect(frame.image)
        applicant, extra = _applicant_face(faces.faces, view)
        objects = a.detector.detect(frame.image)
        moment = moment_objects(objects, view, applicant.box_xyxy if applicant else None, extra)
        self._profile.add(set(moment.background_labels))
        out = self._update_spans(moment.cues, frame.pts)
        orb = a.orb.extract(view)
        jump = self._continuity.update(moment_of(frame.pts, view, orb), self._abrupt_at)
        if jump is not None:
            out.append(self._jump_evidence(jump))
        if (applicant is not None and len(faces) == 1 and len(self._faces) < MAX_FACE_SAMPLES
                and applicant.box[2] >= MIN_FACE_WIDTH_PX):  # one face: surely the applicant's
            points = BlazeFacePoints.from_keypoints(applicant.keypoints)
            self._faces.append(a.embedder.embed(frame.image, points).vector)
        self._sampler.analysed(thumb, frame.pts, view.background)
        self._abrupt_at = None
        self._moments += 1
        self._first = frame.pts if self._first is None else self._first
        self._last = frame.pts
        self._background_shares.append(view.background_share)
        return out

    # -- cues ----------------------------------------------------------------------------------
    def _update_spans(self, cues: tuple[Cue, ...], pts: float) -> list[Evidence]:
        out = []
        seen: dict[str, list[Cue]] = {}
        for cue in cues:
            seen.setdefault(cue.code, []).append(cue)
        for code in CUE_CODES:
            span = self._spans.get(code)
            if code in seen:
                best = max(seen[code], key=lambda c: c.score)
                if span is None:
                    self._spans[code] = _CueSpan(code, pts, pts, 1, best, {best.label})
                else:
                    span.end = pts
                    span.moments += 1
                    span.labels.update(c.label for c in seen[code])
                    if best.score > span.best.score:
                        span.best = best
            elif span is not None:
                out.append(self._cue_evidence(self._spans.pop(code), pts))
        return out

    def _cue_evidence(self, span: _CueSpan, closed_at: float | None) -> Evidence:
        persistent = span.moments >= MIN_CUE_MOMENTS
        end = span.end if closed_at is None else max(span.end, closed_at)
        text = CUE_TEXT[span.code]
        if persistent:
            self._contradicted += 1
        return Evidence(
            Check.BACKGROUND, Outcome.CONTRADICTS if persistent else Outcome.INCONCLUSIVE,
            TimeWindow(span.start, end),
            f"{text} ({', '.join(sorted(span.labels))}) in {span.moments} analysed moment(s)",
            score=span.best.score, model="scene_objects", provider=self._a.detector.model.provider,
            code=span.code if persistent else f"{span.code}_brief",
            details={"moments": span.moments, "labels": sorted(span.labels),
                     "best_score": round(span.best.score, 3),
                     "best_box_xyxy": [round(v, 1) for v in span.best.box_xyxy]})

    # -- continuity ---------------------------------------------------------------------------
    def _jump_evidence(self, jump: Jump) -> Evidence:
        if jump.verified:
            self._contradicted += 1
        return Evidence(
            Check.BACKGROUND, Outcome.CONTRADICTS if jump.verified else Outcome.INCONCLUSIVE,
            TimeWindow(jump.before, max(jump.at, jump.before)),
            f"the background jumped at {jump.at:.1f} s (a cut or a switched video source?)",
            model="person_segmentation", code="background_jump" if jump.verified
            else "background_jump_unverified",
            details={"at": round(jump.at, 3), "inliers": jump.inliers,
                     "colour_similarity": round(jump.colour_similarity, 3),
                     "features": list(jump.features), "reason": jump.reason})

    # -- end of interview ---------------------------------------------------------------------
    def summarize(self) -> Iterable[Evidence]:
        out = [self._cue_evidence(span, None) for span in self._spans.values()]
        self._spans.clear()
        if self._moments == 0:
            out.append(Evidence(Check.BACKGROUND, Outcome.NOT_CHECKED, TimeWindow(0.0, 0.0),
                                "no video frames were analysed", code="no_video"))
            return out
        window = TimeWindow(self._first or 0.0, self._last)
        out.append(self._fit_evidence(window))
        out.extend(self._fingerprint_evidence(window))
        out.append(self._summary(window))
        return out

    def _fit_evidence(self, window: TimeWindow) -> Evidence:
        fit = judge_fit(self._profile.build(), self._declared, self._a.mapping)
        outcome = {"fits": Outcome.SUPPORTS, "conflicts": Outcome.CONTRADICTS}.get(
            fit.fit, Outcome.INCONCLUSIVE)
        if outcome is Outcome.CONTRADICTS:
            self._contradicted += 1
        code = {"fits": "scene_business_fit", "conflicts": "scene_business_mismatch"}.get(
            fit.fit, "scene_profile")
        return Evidence(Check.BACKGROUND, outcome, window, "; ".join(fit.reasons),
                        model="scene_objects", code=code, details=fit.details())

    def _fingerprint_evidence(self, window: TimeWindow) -> list[Evidence]:
        index = self._a.index
        if index is None:
            return []
        started = time.perf_counter()
        fingerprints = self._keyframe_fingerprints()
        if not fingerprints:
            return [Evidence(Check.BACKGROUND, Outcome.INCONCLUSIVE, window,
                             "the background is too plain or too hidden to fingerprint",
                             code="background_not_distinctive")]
        face = np.mean(self._faces, axis=0).astype(np.float32) if self._faces else None
        session = self._context.session_id
        hits: dict[str, PlaceHit] = {}
        for fingerprint in fingerprints:
            result = index.search(fingerprint, exclude_sessions={session},
                                  candidates=self._a.settings.candidates)
            for hit in result.hits:
                best = hits.get(hit.session_id)
                if best is None or hit.match.inliers > best.match.inliers:
                    hits[hit.session_id] = hit
        index.add([IndexEntry(session, fp, face) for fp in fingerprints])
        latency = (time.perf_counter() - started) * 1000.0
        return [self._seen_before_evidence(window, hits, face, len(fingerprints), latency)]

    def _keyframe_fingerprints(self) -> list[BackgroundFingerprint]:
        segments = sorted(self._continuity.segments, key=lambda s: -s.duration)
        out = []
        kept = [s for s in segments if s.keyframe is not None]
        for segment in kept[: self._a.settings.max_keyframes]:
            fingerprint = self._a.fingerprinter.from_view(segment.keyframe.view)
            if len(fingerprint.local) >= MIN_FINGERPRINT_FEATURES:
                out.append(fingerprint)
        return out

    def _seen_before_evidence(self, window: TimeWindow, hits: dict[str, PlaceHit],
                              face: np.ndarray | None, keyframes: int,
                              latency_ms: float) -> Evidence:
        rows = []
        different, same, unknown = [], [], []
        for session_id, hit in sorted(hits.items(), key=lambda kv: -kv[1].match.inliers):
            distance = (float(np.linalg.norm(face - hit.face))
                        if face is not None and hit.face is not None else None)
            if distance is None:
                unknown.append(session_id)
                applicant = "unknown"
            elif distance > DLIB_SAME_PERSON_THRESHOLD:
                different.append(session_id)
                applicant = "different"
            else:
                same.append(session_id)
                applicant = "same"
            rows.append({"session_id": session_id, "applicant": applicant,
                         "face_distance": None if distance is None else round(distance, 3),
                         "inliers": hit.match.inliers,
                         "similarity": round(hit.match.similarity, 3),
                         "stored_at": hit.created_at})
        details = {"keyframes": keyframes, "matches": rows, "search_ms": round(latency_ms, 1),
                   "face_known": face is not None}
        common = {"model": "person_segmentation", "latency_ms": latency_ms, "details": details}
        if different:
            self._contradicted += 1
            return Evidence(Check.BACKGROUND, Outcome.CONTRADICTS, window,
                            f"the same background was seen in {len(different)} earlier "
                            f"interview(s) with a different applicant: {', '.join(different)}",
                            score=1.0, code="background_seen_with_other_applicant", **common)
        if unknown:
            return Evidence(Check.BACKGROUND, Outcome.INCONCLUSIVE, window,
                            f"the same background was seen in {len(unknown)} earlier "
                            f"interview(s); whether the applicant differs is unknown (no face): "
                            f"{', '.join(unknown)}", code="background_seen_before", **common)
        if same:
            return Evidence(Check.BACKGROUND, Outcome.INCONCLUSIVE, window,
                            f"the same background and applicant were seen before: "
                            f"{', '.join(same)}",
                            code="background_seen_before_same_applicant", **common)
        return Evidence(Check.BACKGROUND, Outcome.SUPPORTS, window,
                        "this background was not seen in any earlier interview",
                        code="background_not_seen_before", **common)

    def _summary(self, window: TimeWindow) -> Evidence:
        share = float(np.median(self._background_shares)) if self._background_shares else 0.0
        details = {"moments": self._moments, "median_background_share": round(share, 3),
                   "jumps": len(self._continuity.jumps),
                   "segments": len(self._continuity.segments),
                   "declared_type": self._declared, "index": self._a.index is not None,
                   "mean_latency_ms": round(self._latency_ms / max(self._moments, 1), 1)}
        common = {"model": MODEL, "code": "background_summary", "details": details,
                  "latency_ms": self._latency_ms / max(self._moments, 1)}
        if self._moments < MIN_MOMENTS:
            return Evidence(Check.BACKGROUND, Outcome.INCONCLUSIVE, window,
                            f"only {self._moments} moment(s) of background analysed", **common)
        if share < 0.1:
            return Evidence(Check.BACKGROUND, Outcome.INCONCLUSIVE, window,
                            "the applicant hides almost all of the background", **common)
        if self._contradicted:
            return Evidence(Check.BACKGROUND, Outcome.INCONCLUSIVE, window,
                            f"{self._contradicted} background finding(s) need review "
                            f"({self._moments} moments analysed)", **common)
        return Evidence(Check.BACKGROUND, Outcome.SUPPORTS, window,
                        f"one consistent background, no other person, phone or screen by the "
                        f"face in {self._moments} analysed moments", score=1.0, **common)


def _applicant_face(faces: tuple[FaceDetection, ...],
                    view: BackgroundView) -> tuple[FaceDetection | None, int]:
    """The applicant's face (the largest one on the applicant's mask) and the faces elsewhere."""
    if not faces:
        return None, 0
    height, width = view.background.shape
    on_person, elsewhere = [], []
    for face in faces:
        cx, cy = face.center
        x = min(width - 1, max(0, int(cx * view.scale)))
        y = min(height - 1, max(0, int(cy * view.scale)))
        (elsewhere if view.background[y, x] else on_person).append(face)
    # when the mask missed every face, the largest face is taken to be the applicant's
    pool = on_person or elsewhere
    applicant = max(pool, key=lambda f: f.box[2] * f.box[3])
    return applicant, sum(1 for f in elsewhere if f is not applicant)


class BackgroundAnalyzer(Analyzer):
    """Process-wide: shares the models, the business mapping and the fingerprint index."""

    name = "background"
    checks = (Check.BACKGROUND,)

    def __init__(self, registry: ModelRegistry, settings: SceneSettings | None = None) -> None:
        self.settings = settings or SceneSettings.from_env()
        segmenter = registry.adapter(self.settings.segmentation_model)
        self.detector: NanoDetObjectDetector = registry.adapter("scene_objects")
        self.face_detector: BlazeFaceDetector = registry.adapter("face_detector")
        self.embedder: DlibFaceEmbedder = registry.adapter("face_embedding")
        self.masker = ApplicantMasker(segmenter)
        self.fingerprinter = Fingerprinter(self.masker)
        self.orb = OrbExtractor()
        self.mapping = (SceneMapping.load(self.settings.mapping_path)
                        if self.settings.mapping_path else SceneMapping.default())
        self.index = (SceneIndex.open(self.settings.index_dir, self.settings.template_sealer)
                      if self.settings.index_dir is not None else None)

    def open_stream(self, context: SessionContext, executor: InferenceExecutor) -> AnalyzerStream:
        return BackgroundStream(self, context, executor)
