"""Face matching: still-image encoding (ID photo, CLI), calibrated similarity and decision.

Why this shape: the live face and the ID photo must go through the same steps, and the score
must mean the same thing everywhere (CLI, session, evaluation). The steps:

1. detect (BlazeFace) -> mesh from the detection ROI -> mesh again from the landmarks ROI (the
   tighter, eye-aligned crop MediaPipe uses on video; it gives better alignment points on a
   still image) -> the 5 dlib-style points -> aligned 150-px chip;
2. dlib ResNet descriptor, averaged with the descriptor of the mirrored chip
   (:mod:`verification.face.encoder`);
3. **cohort whitening** (score normalisation at the embedding level): L2-normalise, subtract
   the cohort mean and whiten with the cohort's regularised covariance, L2-normalise again.
   dlib's space is crowded for the groups it saw less of in training (on the London set the
   within-group impostor distances of Black and East-Asian faces are the smallest); whitening
   spreads the directions the cohort barely varies along. Measured by cross-validation over
   identities (``benchmarks/eval_face_match.py``, same held-out pairs for every method):
   overall decidability 7.9 -> 8.0 and, at each method's global FAR-0.1 % point, the FAR
   within Black pairs 5.6 % -> 1.4 %, but within East-Asian pairs 4.6 % -> 11.4 % (5 of 44
   pairs). Whitening alone does not fix the East-Asian gap; the per-group threshold below
   does. It also separates faces outside the cohort's studio conditions far better (webcam
   frames of one person vs GRID speakers: plain cosine leaves a 0.04 gap, whitened 0.37);
4. similarity = cosine of the normalised embeddings = ``1 - d**2 / 2`` for their Euclidean
   distance ``d``: a monotone function of the embedding distance; higher = more alike;
   ``match`` = similarity >= the calibrated threshold.

The threshold holds FAR at 0.1 % *within every ethnic group* of the calibration set that has
enough pairs (estimated on people the whitening never saw), not just on average: a global
threshold lets most false accepts fall on the groups the model serves worst.

The cohort statistics and the threshold live in ``models/calibration/face_match.npz`` (next
to the manifest), written by ``benchmarks/eval_face_match.py --write``: the threshold is set
at FAR 0.1 % on impostor scores of identities the whitening never saw (cross-validation).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from verification.errors import InvalidInputError, ModelFileMissingError, VerificationError
from verification.face.detector import BlazeFaceDetector
from verification.face.embedding import FaceEmbedding
from verification.face.encoder import FaceEncoder
from verification.face.geometry import five_points
from verification.face.mesh import FaceLandmarks, FaceMesh
from verification.video.images import load_image

log = logging.getLogger(__name__)

CALIBRATION_FILE = Path("calibration") / "face_match.npz"


class NoFaceError(VerificationError):
    """The image shows no face the mesh confirms."""

    code = "no_face"


@dataclass(frozen=True, eq=False)
class MatchCalibration:
    """Cohort whitening and the decision threshold (see the module docstring)."""

    mean: np.ndarray  # (128,) mean of the L2-normalised cohort descriptors
    whitening: np.ndarray  # (128, 128) symmetric, applied after centring
    threshold: float  # similarity at or above which two faces match
    info: dict = field(default_factory=dict)
    # Below this similarity a live session calls the face a different person outright (hard
    # evidence); between it and ``threshold`` the match is left to a reviewer. It is the
    # population-wide FAR-0.1 % point: impostors of any group rarely score above it, and
    # genuine pairs (even webcam vs studio photo) score far above it.
    reject_threshold: float | None = None

    @property
    def mismatch_threshold(self) -> float:
        return self.threshold if self.reject_threshold is None else self.reject_threshold

    def normalize(self, vector: np.ndarray) -> np.ndarray:
        """Raw (flip-averaged) descriptor(s) -> unit vector(s) in the whitened space."""
        v = np.asarray(vector, dtype=np.float64)
        v = v / np.linalg.norm(v, axis=-1, keepdims=True)
        w = (v - self.mean) @ self.whitening
        return w / np.linalg.norm(w, axis=-1, keepdims=True)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        """Cosine of the normalised embeddings of two raw descriptors."""
        return float(self.normalize(a) @ self.normalize(b))

    @classmethod
    def identity(cls, threshold: float = 0.0) -> MatchCalibration:
        """Plain cosine of the descriptors (no cohort): the baseline the evaluation compares."""
        return cls(mean=np.zeros(128), whitening=np.eye(128), threshold=threshold,
                   info={"cohort": "none"})

    @classmethod
    def load(cls, path: Path) -> MatchCalibration:
        try:
            data = np.load(path, allow_pickle=False)
        except OSError as err:
            raise ModelFileMissingError(
                f"face-match calibration {path} is missing or unreadable ({err}); run "
                f"benchmarks/eval_face_match.py --write") from None
        info = json.loads(str(data["info"]))
        reject = float(data["reject_threshold"]) if "reject_threshold" in data else None
        return cls(mean=data["mean"].astype(np.float64),
                   whitening=data["whitening"].astype(np.float64),
                   threshold=float(data["threshold"]), info=info, reject_threshold=reject)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, mean=self.mean.astype(np.float32),
                 whitening=self.whitening.astype(np.float32),
                 threshold=np.float64(self.threshold),
                 reject_threshold=np.float64(self.mismatch_threshold),
                 info=json.dumps(self.info, sort_keys=True))


def fit_cohort_whitening(vectors: np.ndarray,
                         regularization: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and ``(C + r * mean_eigenvalue * I) ** -1/2`` of L2-normalised cohort descriptors."""
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    mean = v.mean(axis=0)
    cov = np.cov((v - mean).T)
    evals, evecs = np.linalg.eigh(cov)
    evals = np.clip(evals, 0.0, None) + regularization * float(evals.mean())
    return mean, evecs @ np.diag(evals ** -0.5) @ evecs.T


@dataclass(frozen=True, eq=False)
class StillFace:
    """The face chosen in a still image and its descriptor.

    ``n_faces`` counts faces the mesh confirmed; with several, the largest is used and
    ``warnings`` says so.
    """

    embedding: FaceEmbedding
    box: tuple[float, float, float, float]
    n_faces: int
    presence: float
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class MatchResult:
    similarity: float
    match: bool


def default_calibration_path(registry) -> Path:  # noqa: ANN001
    return Path(registry.manifest.path).parent / CALIBRATION_FILE


class FaceMatcher:
    """Encode still images and compare descriptors with the calibrated similarity."""

    def __init__(self, detector: BlazeFaceDetector, mesh: FaceMesh, encoder: FaceEncoder,
                 calibration: MatchCalibration) -> None:
        self.detector = detector
        self.mesh = mesh
        self.encoder = encoder
        self.calibration = calibration

    @classmethod
    def from_registry(cls, registry, calibration_path: Path | None = None) -> FaceMatcher:  # noqa: ANN001
        calibration = MatchCalibration.load(calibration_path or default_calibration_path(registry))
        return cls(registry.adapter("face_detector"), registry.adapter("face_mesh"),
                   FaceEncoder(registry.adapter("face_embedding")), calibration)

    @property
    def threshold(self) -> float:
        return self.calibration.threshold

    def faces(self, image: np.ndarray) -> list[FaceLandmarks]:
        """Every face the mesh confirms, refined once from its landmarks ROI, largest first."""
        out = []
        for detection in self.detector.detect(image):
            first = self.mesh.landmarks(image, detection)
            if not first.present:
                continue
            refined = self.mesh.landmarks(image, self.mesh.next_roi(first))
            landmarks = refined if refined.present else first
            if any(_overlaps(landmarks, other) for other in out):
                continue
            out.append(landmarks)
        out.sort(key=lambda lm: _area(lm.points), reverse=True)
        return out

    def encode_image(self, image: np.ndarray) -> StillFace:
        """The largest face of an RGB image; :class:`NoFaceError` when there is none."""
        faces = self.faces(image)
        if not faces:
            raise NoFaceError("no face found in the image")
        face = faces[0]
        warnings = (f"{len(faces)} faces in the image; the largest was used",) \
            if len(faces) > 1 else ()
        embedding = self.encoder.encode(image, five_points(face.points))
        xy = face.points[:, :2]
        x0, y0 = xy.min(axis=0)
        x1, y1 = xy.max(axis=0)
        return StillFace(embedding=embedding,
                         box=(float(x0), float(y0), float(x1 - x0), float(y1 - y0)),
                         n_faces=len(faces), presence=face.presence, warnings=warnings)

    def encode_file(self, path: str | Path) -> StillFace:
        """Decode and encode an image file (raises ``UnreadableMediaError`` / ``NoFaceError``)."""
        return self.encode_image(load_image(path))

    def compare(self, a: FaceEmbedding | np.ndarray, b: FaceEmbedding | np.ndarray) -> MatchResult:
        va = a.vector if isinstance(a, FaceEmbedding) else np.asarray(a)
        vb = b.vector if isinstance(b, FaceEmbedding) else np.asarray(b)
        if va.shape != vb.shape or va.ndim != 1:
            raise InvalidInputError("descriptors must be two vectors of the same length")
        similarity = self.calibration.similarity(va, vb)
        return MatchResult(similarity=similarity, match=similarity >= self.threshold)


def _area(points: np.ndarray) -> float:
    span = points[:, :2].max(axis=0) - points[:, :2].min(axis=0)
    return float(span[0] * span[1])


def _overlaps(a: FaceLandmarks, b: FaceLandmarks) -> bool:
    ca = a.points[:, :2].mean(axis=0)
    x0, y0 = b.points[:, :2].min(axis=0)
    x1, y1 = b.points[:, :2].max(axis=0)
    return bool(x0 <= ca[0] <= x1 and y0 <= ca[1] <= y1)
