"""Synthetic test video for micro-expression spotting, built from one person's two portraits.

Why: no labelled micro-expression video can be shipped here, but the London set has a neutral
and a smiling portrait of each person. A short, low-intensity transition from the neutral
portrait toward the smiling one (onset - apex - offset), inserted into an otherwise neutral clip,
is a micro-expression whose time, duration and intensity are known exactly.

How a frame is made:

* the 478-point mesh is measured on both portraits; the smiling portrait and its points are
  mapped into the neutral portrait's frame by a similarity fit of the rigid points (so only the
  expression differs);
* at intensity ``a`` the target points are ``neutral + a * (smiling - neutral)``; both portraits
  are warped onto them with a piecewise-affine warp over a Delaunay triangulation of the mesh
  (image corners and edge midpoints pinned), and their textures are blended ``(1 - a) : a``
  inside the face (teeth and cheek folds appear as the smile grows);
* "small natural motion": the whole frame follows a slow random walk (Ornstein-Uhlenbeck) of
  translation (about 1.5 px), rotation (0.6 deg) and scale (0.6 %), plus sensor noise
  (sigma 2 grey levels) and JPEG compression (quality 85), at 25 fps.

An event's intensity profile is ``A * sin^2(pi * (t - t0) / D)`` over its duration ``D``: it
rises from rest to the apex ``A`` at mid-event and returns to rest.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from verification.face.alignment import similarity_transform
from verification.face.geometry import pose_landmark_indices


@dataclass(frozen=True)
class InsertedEvent:
    """A synthetic micro-expression: start time, duration (s) and apex intensity in [0, 1]."""

    start: float
    duration: float
    intensity: float

    @property
    def apex(self) -> float:
        return self.start + self.duration / 2.0

    def level(self, t: float) -> float:
        if not self.start <= t <= self.start + self.duration:
            return 0.0
        return self.intensity * math.sin(math.pi * (t - self.start) / self.duration) ** 2


@dataclass(frozen=True, eq=False)
class PortraitPair:
    """A person's neutral portrait and smiling portrait mapped into the neutral frame."""

    neutral: np.ndarray  # RGB uint8
    smiling: np.ndarray  # RGB uint8, warped into the neutral portrait's frame
    neutral_points: np.ndarray  # (478, 2)
    smiling_points: np.ndarray  # (478, 2), in the neutral portrait's frame
    inter_ocular_px: float

    def mouth_corner_shift(self, intensity: float) -> float:
        """Mean mouth-corner displacement at ``intensity``, in inter-ocular distances."""
        corners = [61, 291]
        shift = np.linalg.norm(self.smiling_points[corners] - self.neutral_points[corners], axis=1)
        return float(intensity * shift.mean() / self.inter_ocular_px)


def mesh_points(image: np.ndarray, detector, mesh) -> np.ndarray:  # noqa: ANN001
    """478 mesh points (x, y) of the largest face, refined once from the landmark ROI."""
    faces = sorted(detector.detect(image), key=lambda f: -f.box[2] * f.box[3])
    if not faces:
        raise ValueError("no face in the portrait")
    first = mesh.landmarks(image, faces[0])
    return mesh.landmarks(image, mesh.next_roi(first)).points[:, :2].astype(np.float64)


def make_pair(neutral: np.ndarray, smiling: np.ndarray, detector, mesh) -> PortraitPair:  # noqa: ANN001
    pn = mesh_points(neutral, detector, mesh)
    ps = mesh_points(smiling, detector, mesh)
    rigid = list(pose_landmark_indices())
    matrix = similarity_transform(ps[rigid], pn[rigid])
    height, width = neutral.shape[:2]
    smiling_in_n = cv2.warpAffine(smiling, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)
    ps_in_n = ps @ matrix[:, :2].T + matrix[:, 2]
    iod = float(np.linalg.norm(pn[[33, 133]].mean(axis=0) - pn[[362, 263]].mean(axis=0)))
    return PortraitPair(neutral, smiling_in_n, pn, ps_in_n, iod)


def _anchors(width: int, height: int) -> np.ndarray:
    w, h = width - 1, height - 1
    return np.array([[0, 0], [w / 2, 0], [w, 0], [w, h / 2], [w, h], [w / 2, h], [0, h],
                     [0, h / 2]], dtype=np.float64)


class PiecewiseAffineWarp:
    """Warp an image so that ``source`` points move to ``target`` points (shared triangulation)."""

    def __init__(self, points: np.ndarray, size: tuple[int, int]) -> None:
        width, height = size
        self.size = size
        self.anchors = _anchors(width, height)
        allp = np.vstack([points, self.anchors])
        subdiv = cv2.Subdiv2D((-1, -1, width + 2, height + 2))
        for x, y in allp:
            subdiv.insert((float(x), float(y)))
        index = {(round(x, 3), round(y, 3)): i for i, (x, y) in enumerate(allp)}
        triangles = []
        for t in subdiv.getTriangleList():
            corners = [(round(t[0], 3), round(t[1], 3)), (round(t[2], 3), round(t[3], 3)),
                       (round(t[4], 3), round(t[5], 3))]
            ids = [index.get(c) for c in corners]
            if None not in ids:
                triangles.append(ids)
        self.triangles = np.array(triangles, dtype=np.int32)
        yy, xx = np.mgrid[0:height, 0:width]
        self._xy1 = np.stack([xx.ravel(), yy.ravel(), np.ones(xx.size)], axis=1)

    def __call__(self, image: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        width, height = self.size
        src = np.vstack([source, self.anchors])
        dst = np.vstack([target, self.anchors])
        ids = np.full((height, width), -1, np.int32)
        for k, tri in enumerate(self.triangles):
            cv2.fillConvexPoly(ids, np.round(dst[tri]).astype(np.int32), int(k))
        # affine dst -> src per triangle
        mats = np.zeros((len(self.triangles), 3, 2))
        for k, tri in enumerate(self.triangles):
            d = np.c_[dst[tri], np.ones(3)]
            try:
                mats[k] = np.linalg.solve(d, src[tri])
            except np.linalg.LinAlgError:
                mats[k] = np.array([[1, 0], [0, 1], [0, 0]])
        flat = ids.ravel()
        inside = flat >= 0
        map_xy = self._xy1[:, :2].copy()
        map_xy[inside] = np.einsum("ni,nij->nj", self._xy1[inside], mats[flat[inside]])
        mx = map_xy[:, 0].reshape(height, width).astype(np.float32)
        my = map_xy[:, 1].reshape(height, width).astype(np.float32)
        return cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _face_mask(points: np.ndarray, size: tuple[int, int], iod: float) -> np.ndarray:
    width, height = size
    mask = np.zeros((height, width), np.float32)
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1.0)
    k = int(max(3, iod * 0.25)) | 1
    return cv2.GaussianBlur(mask, (k, k), 0)[..., None]


class ExpressionRenderer:
    """Frames of one person at any intensity between their neutral and smiling portraits."""

    def __init__(self, pair: PortraitPair) -> None:
        self.pair = pair
        h, w = pair.neutral.shape[:2]
        self.size = (w, h)
        self.warp = PiecewiseAffineWarp(pair.neutral_points, self.size)
        self.mask = _face_mask(pair.neutral_points, self.size, pair.inter_ocular_px)

    def frame(self, intensity: float) -> np.ndarray:
        p = self.pair
        if intensity <= 1e-4:
            return p.neutral
        target = p.neutral_points + intensity * (p.smiling_points - p.neutral_points)
        a = self.warp(p.neutral, p.neutral_points, target).astype(np.float32)
        b = self.warp(p.smiling, p.smiling_points, target).astype(np.float32)
        blend = (1.0 - intensity) * a + intensity * b
        out = self.mask * blend + (1.0 - self.mask) * a
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class MotionConfig:
    fps: float = 25.0
    shift_px: float = 1.5
    rotation_deg: float = 0.6
    scale: float = 0.006
    correlation_s: float = 1.5
    noise: float = 2.0
    jpeg_quality: int = 85


def _ou(n: int, dt: float, tau: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    decay = math.exp(-dt / tau)
    kick = sigma * math.sqrt(1 - decay ** 2)
    value = rng.normal(0, sigma)
    for i in range(n):
        value = value * decay + rng.normal(0, kick)
        out[i] = value
    return out


def render_clip(renderer: ExpressionRenderer, duration_s: float,
                events: Sequence[InsertedEvent] = (), motion: MotionConfig = MotionConfig(),
                seed: int = 0) -> Iterator[tuple[float, np.ndarray]]:
    """``(pts, RGB frame)`` pairs of a clip with small natural motion and the given events."""
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * motion.fps))
    dt = 1.0 / motion.fps
    tx = _ou(n, dt, motion.correlation_s, motion.shift_px, rng)
    ty = _ou(n, dt, motion.correlation_s, motion.shift_px, rng)
    rot = _ou(n, dt, motion.correlation_s, motion.rotation_deg, rng)
    scl = _ou(n, dt, motion.correlation_s, motion.scale, rng)
    width, height = renderer.size
    centre = (width / 2.0, height / 2.0)
    for i in range(n):
        t = i * dt
        level = max((e.level(t) for e in events), default=0.0)
        image = renderer.frame(level)
        matrix = cv2.getRotationMatrix2D(centre, float(rot[i]), 1.0 + float(scl[i]))
        matrix[:, 2] += (tx[i], ty[i])
        moved = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        moved += rng.normal(0.0, motion.noise, moved.shape).astype(np.float32)
        moved = np.clip(moved, 0, 255).astype(np.uint8)
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(moved, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, motion.jpeg_quality])
        frame = cv2.cvtColor(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        yield t, frame
