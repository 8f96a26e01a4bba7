"""Per-frame face observations: detect -> track -> mesh -> blendshapes -> geometry -> quality.

API summary (what other analyzers build on)
-------------------------------------------
``FaceTracker(detector, mesh, blendshapes, encoder=None, config=TrackerConfig())``
    One per interview stream (it keeps the track between frames); plain CPU work, no asyncio,
    call it from the executor. Build it from a registry with :meth:`FaceTracker.from_registry`.
    ``FaceFrameAnalyzer`` is the same class.

``tracker.observe(image, pts, index=0, embed=False) -> FaceObservation``
    ``image`` RGB uint8; ``pts`` media seconds. ``embed=True`` also computes the face
    descriptor (flip-averaged dlib ResNet, :mod:`verification.face.encoder`) when a face is
    found. ``tracker.reset()`` forgets the track.

``FaceObservation`` (frozen) fields:
    ``pts``, ``index``, ``image_size`` (w, h); ``detected`` (the detector ran on this frame);
    ``tracked`` (the face came from the previous frame's mesh ROI); ``n_faces`` (faces confirmed
    by the mesh at the latest detection; on tracked frames the count from that detection);
    ``face`` (bool property: a primary face was found); ``box`` (x, y, w, h of the mesh points,
    pixels) or None; ``other_boxes`` (the other confirmed faces at this frame's detection);
    ``landmarks`` ((478, 3) float32 pixels, see :mod:`verification.face.mesh`) or None;
    ``presence`` (mesh face-presence score, 0 when no face); ``blendshapes``
    (:class:`~verification.face.blendshapes.BlendshapeScores`) or None; ``pose``
    (:class:`~verification.face.geometry.HeadPose`, degrees: yaw > 0 = applicant turns to
    their left, pitch > 0 = looks up, roll > 0 = tilts to their left shoulder) or None;
    ``eye_openness_left`` / ``eye_openness_right`` (eye aspect ratio, applicant's sides; open
    about 0.3, closed < 0.15) or None; ``mouth_opening`` (inner-lip gap / inter-ocular
    distance; closed about 0, wide open 0.3-0.6) or None; ``geometry`` (the full
    :class:`~verification.face.geometry.FaceGeometry`, incl. the 5 alignment points);
    ``quality`` (:class:`~verification.face.quality.FaceQuality`: metrics, ``guidance`` codes,
    ``score`` in [0, 1]) or None; ``guidance`` (tuple of guidance codes, also ``no_face`` /
    ``multiple_faces``); ``embedding`` (:class:`~verification.face.embedding.FaceEmbedding`) or
    None; ``latency_ms`` (model time spent on this frame).

Tracking follows MediaPipe's FaceLandmarker in video mode: the first frame (and every
``detect_every``-th frame, and any frame where the tracked face's presence drops below the
mesh's threshold) runs BlazeFace; a new face's mesh starts from the detection ROI; afterwards
each frame's mesh starts from the previous frame's landmarks ROI. Detection is cheap (about
2 ms) next to the mesh (about 15-30 ms), but a detection every frame would also need a mesh
per extra face to confirm it (the detector alone fires on clutter), so other faces are looked
for at the detection cadence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from verification.face.blendshapes import BlendshapeScores, FaceBlendshapes
from verification.face.detector import BlazeFaceDetector, FaceDetection
from verification.face.embedding import FaceEmbedding
from verification.face.encoder import FaceEncoder
from verification.face.geometry import (
    FaceGeometry,
    HeadPose,
    measure,
    pose_landmark_indices,
)
from verification.face.mesh import FaceLandmarks, FaceMesh, FaceRoi
from verification.face.quality import (
    MULTIPLE_FACES,
    NO_FACE,
    FaceQuality,
    QualityConfig,
    assess_face,
)

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class TrackerConfig:
    """How often to look for faces, and the thresholds that decide what a face is."""

    detect_every: int = 5  # run the detector at least every N frames (1 = every frame)
    min_detection_score: float = 0.5  # BlazeFace score (MediaPipe's default)
    min_presence: float = 0.5  # mesh face-presence to keep a face (MediaPipe's default)
    max_faces: int = 4  # at most this many detections are confirmed with a mesh per frame
    blendshapes: bool = True
    quality: QualityConfig = QualityConfig()

    def __post_init__(self) -> None:
        if self.detect_every < 1:
            raise ValueError("detect_every must be >= 1")


@dataclass(frozen=True, eq=False)  # holds numpy arrays: compare by identity
class FaceObservation:
    """What the face stage saw in one frame (see the module docstring for every field)."""

    pts: float
    index: int
    image_size: tuple[int, int]
    detected: bool
    tracked: bool
    n_faces: int
    box: Box | None
    other_boxes: tuple[Box, ...]
    landmarks: np.ndarray | None
    presence: float
    blendshapes: BlendshapeScores | None
    geometry: FaceGeometry | None
    quality: FaceQuality | None
    guidance: tuple[str, ...]
    embedding: FaceEmbedding | None
    latency_ms: float

    @property
    def face(self) -> bool:
        return self.landmarks is not None

    @property
    def pose(self) -> HeadPose | None:
        return None if self.geometry is None else self.geometry.pose

    @property
    def eye_openness_left(self) -> float | None:
        return None if self.geometry is None else self.geometry.eye_openness_left

    @property
    def eye_openness_right(self) -> float | None:
        return None if self.geometry is None else self.geometry.eye_openness_right

    @property
    def mouth_opening(self) -> float | None:
        return None if self.geometry is None else self.geometry.mouth_opening

    def blendshape(self, name: str) -> float | None:
        return None if self.blendshapes is None else self.blendshapes.score(name)


def _box_of(points: np.ndarray) -> Box:
    xy = points[:, :2]
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    return (float(x0), float(y0), float(x1 - x0), float(y1 - y0))


def _iou(a: Box, b: Box) -> float:
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _same_face(detection: FaceDetection, box: Box) -> bool:
    """A detection belongs to a meshed face when it overlaps it or its centre lies inside."""
    cx, cy = detection.center
    inside = box[0] <= cx <= box[0] + box[2] and box[1] <= cy <= box[1] + box[3]
    return inside or _iou(detection.box, box) > 0.3


_RIGID = np.array(pose_landmark_indices())


class FaceTracker:
    """Per-stream face state machine; see the module docstring for the API."""

    def __init__(self, detector: BlazeFaceDetector, mesh: FaceMesh,
                 blendshapes: FaceBlendshapes | None = None, encoder: FaceEncoder | None = None,
                 config: TrackerConfig | None = None) -> None:
        self.detector = detector
        self.mesh = mesh
        self.blendshapes = blendshapes
        self.encoder = encoder
        self.config = config or TrackerConfig()
        self.reset()

    @classmethod
    def from_registry(cls, registry, config: TrackerConfig | None = None,  # noqa: ANN001
                      with_encoder: bool = True) -> FaceTracker:
        encoder = FaceEncoder(registry.adapter("face_embedding")) if with_encoder else None
        return cls(registry.adapter("face_detector"), registry.adapter("face_mesh"),
                   registry.adapter("face_blendshapes"), encoder, config)

    def reset(self) -> None:
        self._roi: FaceRoi | None = None
        self._since_detect = 0
        self._n_faces = 0
        self._previous: tuple[float, np.ndarray, float] | None = None  # pts, rigid pts, iod

    # -- one frame ---------------------------------------------------------------------------
    def observe(self, image: np.ndarray, pts: float, index: int = 0,
                embed: bool = False) -> FaceObservation:
        cfg = self.config
        height, width = image.shape[:2]
        latency = 0.0
        primary: FaceLandmarks | None = None
        tracked = False
        if self._roi is not None and self._roi.image_size != (width, height):
            # The stream changed resolution (WebRTC adapts it to the bandwidth): start over.
            self._roi, self._previous = None, None
        if self._roi is not None:
            candidate = self.mesh.landmarks(image, self._roi)
            latency += candidate.latency_ms
            if candidate.presence >= cfg.min_presence:
                primary, tracked = candidate, True
        detected = primary is None or self._since_detect + 1 >= cfg.detect_every
        others: list[FaceLandmarks] = []
        if detected:
            primary, others, spent = self._detect(image, primary)
            latency += spent
            self._since_detect = 0
            self._n_faces = (primary is not None) + len(others)
        else:
            self._since_detect += 1

        if primary is None:
            self._roi = None
            self._previous = None
            return FaceObservation(
                pts=pts, index=index, image_size=(width, height), detected=detected,
                tracked=False, n_faces=self._n_faces, box=None,
                other_boxes=tuple(_box_of(o.points) for o in others), landmarks=None,
                presence=0.0, blendshapes=None, geometry=None, quality=None,
                guidance=(NO_FACE,) if self._n_faces == 0 else (MULTIPLE_FACES,),
                embedding=None, latency_ms=latency)

        points = primary.points
        self._roi = self.mesh.next_roi(primary)
        shapes = None
        if cfg.blendshapes and self.blendshapes is not None:
            shapes = self.blendshapes.scores(primary)
            latency += shapes.latency_ms
        geometry = measure(points)
        motion = self._motion(pts, points, geometry.inter_ocular_px)
        quality = assess_face(image, points, geometry, motion, cfg.quality)
        embedding = None
        if embed and self.encoder is not None:
            embedding = self.encoder.encode(image, geometry.five_points)
            latency += embedding.latency_ms
        guidance = quality.guidance
        if self._n_faces > 1:
            guidance = (MULTIPLE_FACES, *guidance)
        return FaceObservation(
            pts=pts, index=index, image_size=(width, height), detected=detected,
            tracked=tracked, n_faces=max(self._n_faces, 1), box=geometry.box,
            other_boxes=tuple(_box_of(o.points) for o in others), landmarks=points,
            presence=primary.presence, blendshapes=shapes, geometry=geometry, quality=quality,
            guidance=guidance, embedding=embedding, latency_ms=latency)

    # -- helpers -----------------------------------------------------------------------------
    def _detect(self, image: np.ndarray, primary: FaceLandmarks | None
                ) -> tuple[FaceLandmarks | None, list[FaceLandmarks], float]:
        """Run the detector; confirm each new face with a mesh. Returns (primary, others, ms)."""
        cfg = self.config
        detections = self.detector.detect(image)
        latency = detections.latency_ms
        faces = [d for d in detections if d.score >= cfg.min_detection_score]
        if primary is not None:
            box = _box_of(primary.points)
            faces = [d for d in faces if not _same_face(d, box)]
        faces.sort(key=lambda d: d.box[2] * d.box[3], reverse=True)
        confirmed: list[FaceLandmarks] = []
        for detection in faces[:cfg.max_faces]:
            if any(_same_face(detection, _box_of(c.points)) for c in confirmed):
                continue
            landmarks = self.mesh.landmarks(image, detection)
            latency += landmarks.latency_ms
            if landmarks.presence >= cfg.min_presence:
                confirmed.append(landmarks)
        if primary is None and confirmed:
            # A new track starts on the largest face (the applicant is nearest the camera).
            confirmed.sort(key=lambda lm: _area(_box_of(lm.points)), reverse=True)
            primary, confirmed = confirmed[0], confirmed[1:]
            self._previous = None
        return primary, confirmed, latency

    def _motion(self, pts: float, points: np.ndarray, iod: float) -> float | None:
        """Rigid-point movement since the previous frame, in inter-ocular distances/second."""
        rigid = points[_RIGID, :2].astype(np.float64)
        previous, self._previous = self._previous, (pts, rigid, iod)
        if previous is None or pts <= previous[0] or iod <= 0:
            return None
        shift = float(np.linalg.norm(rigid - previous[1], axis=1).mean())
        return shift / iod / (pts - previous[0])


def _area(box: Box) -> float:
    return box[2] * box[3]


FaceFrameAnalyzer = FaceTracker

__all__ = ["FaceFrameAnalyzer", "FaceObservation", "FaceTracker", "TrackerConfig"]
