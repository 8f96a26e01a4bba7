"""Face geometry from the 478-point mesh: head pose, eye openness, mouth opening, size, 5 points.

Why: liveness challenges (turn, nod, blink, open mouth), the quality gate (pose, face size) and
lip-sync all need a few interpretable numbers per frame, measured the same way everywhere.
Everything here is pure numpy on the mesh points of :class:`verification.face.mesh.FaceLandmarks`
(x, y in image pixels, z MediaPipe's relative depth scaled like x; smaller z = closer).

Sign conventions (for an *unmirrored* camera image, which is what WebRTC delivers; a browser's
selfie preview is mirrored only on screen). "Left"/"right" always mean the applicant's own:

* **yaw** > 0: the applicant turns their head to *their left* (the nose moves towards the
  image's right edge); < 0: to their right.
* **pitch** > 0: the applicant looks *up* (chin up); < 0: down.
* **roll** > 0: the head tilts towards the applicant's *left shoulder* (their left eye, on the
  image's right, goes down); < 0: towards the right shoulder.

All in degrees; zero is the average of 69 studio portraits looking into the camera.

Head pose is an orthogonal Procrustes (Umeyama) fit of a frontal reference shape onto the
rigid, expression-free part of the mesh (forehead, nose ridge, eye corners, cheekbones and
temples; lips, jaw, brows and eyelids are left out so that talking, smiling or blinking do not
tilt the head). The reference :data:`POSE_TEMPLATE` is the mean of those points over the
neutral London portraits, made mirror-symmetric (``models/convert/face_pose_template.py``).
The rotation is decomposed as yaw about the camera's vertical axis, then pitch, then roll
about the face's own forward axis.

Eye openness is the eye aspect ratio (Soukupova & Cech 2016): the two eyelid gaps over the eye
width, in 3D so that yaw shrinking the eye's image width does not open it. Open eyes read about
0.25-0.35, closed below about 0.15. Mouth opening is the inner-lip gap (landmarks 13/14) over
the distance between the eye centres: about 0 closed, 0.3-0.6 wide open.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from verification.face.alignment import FivePoints

# --- landmark indices (MediaPipe face mesh; subject's right eye is on the image's left) -------
RIGHT_EYE_CORNERS = (33, 133)  # outer, inner
LEFT_EYE_CORNERS = (263, 362)  # outer, inner
# Eyelid pairs (upper, lower) for the eye aspect ratio.
RIGHT_EYE_LIDS = ((160, 144), (158, 153))
LEFT_EYE_LIDS = ((387, 373), (385, 380))
INNER_LIP_UPPER = 13
INNER_LIP_LOWER = 14
MOUTH_CORNERS = (61, 291)  # subject's right, left

# Rigid part of the face for head pose: symmetric (subject's right, subject's left) pairs and
# points on the midline. No lips, jaw, brows or eyelids.
POSE_PAIRS: tuple[tuple[int, int], ...] = (
    (33, 263), (133, 362), (234, 454), (127, 356), (93, 323), (109, 338), (67, 297),
    (103, 332), (108, 337), (98, 327), (129, 358), (116, 345), (50, 280), (123, 352),
    (162, 389), (21, 251), (54, 284),
)
POSE_MIDLINE: tuple[int, ...] = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 2)


def pose_landmark_indices() -> tuple[int, ...]:
    """The mesh indices the pose fit uses, in :data:`POSE_TEMPLATE` row order."""
    return tuple(i for pair in POSE_PAIRS for i in pair) + POSE_MIDLINE


_POSE_INDEX = np.array(pose_landmark_indices())


# from 69 neutral London portraits (models/convert/face_pose_template.py); unit RMS radius,
# x right (towards the subject's left), y down, z away from the camera.
POSE_TEMPLATE = np.array([
    [-0.7129, 0.0102, 0.0027],
    [0.7129, 0.0102, 0.0027],
    [-0.2680, 0.0373, -0.0858],
    [0.2680, 0.0373, -0.0858],
    [-1.1341, 0.3485, 0.9010],
    [1.1341, 0.3485, 0.9010],
    [-1.1438, 0.1064, 0.8317],
    [1.1438, 0.1064, 0.8317],
    [-1.1097, 0.5962, 0.9007],
    [1.1097, 0.5962, 0.9007],
    [-0.3060, -0.8695, -0.2441],
    [0.3060, -0.8695, -0.2441],
    [-0.5681, -0.8195, -0.1380],
    [0.5681, -0.8195, -0.1380],
    [-0.8096, -0.7157, 0.0429],
    [0.8096, -0.7157, 0.0429],
    [-0.2712, -0.6231, -0.3134],
    [0.2712, -0.6231, -0.3134],
    [-0.2525, 0.7113, -0.3270],
    [0.2525, 0.7113, -0.3270],
    [-0.3171, 0.6058, -0.2647],
    [0.3171, 0.6058, -0.2647],
    [-1.0237, 0.2985, 0.2038],
    [1.0237, 0.2985, 0.2038],
    [-0.7877, 0.5499, -0.1078],
    [0.7877, 0.5499, -0.1078],
    [-1.0026, 0.5234, 0.1725],
    [1.0026, 0.5234, 0.1725],
    [-1.1225, -0.1513, 0.6683],
    [1.1225, -0.1513, 0.6683],
    [-1.0711, -0.3630, 0.4546],
    [1.0711, -0.3630, 0.4546],
    [-0.9707, -0.5602, 0.2545],
    [0.9707, -0.5602, 0.2545],
    [0.0000, -0.8789, -0.2693],
    [0.0000, -0.6206, -0.3367],
    [0.0000, -0.3343, -0.3868],
    [0.0000, -0.1912, -0.3667],
    [0.0000, -0.0624, -0.3604],
    [0.0000, 0.0594, -0.4335],
    [0.0000, 0.1686, -0.5180],
    [0.0000, 0.2679, -0.6101],
    [0.0000, 0.3741, -0.7044],
    [0.0000, 0.5056, -0.7459],
    [0.0000, 0.6119, -0.7126],
    [0.0000, 0.7297, -0.4594],
])


@dataclass(frozen=True)
class HeadPose:
    """Head rotation in degrees (conventions in the module docstring).

    ``fit_error`` is the RMS residual of the rigid fit relative to the face's RMS radius: about
    0.02-0.04 on real faces; much larger means the mesh is distorted (occlusion, bad track).
    """

    yaw: float
    pitch: float
    roll: float
    fit_error: float

    def to_json(self) -> dict[str, float]:
        return {"yaw": round(self.yaw, 2), "pitch": round(self.pitch, 2),
                "roll": round(self.roll, 2), "fit_error": round(self.fit_error, 4)}


@dataclass(frozen=True, eq=False)
class FaceGeometry:
    """Everything this module measures on one mesh."""

    pose: HeadPose
    eye_openness_left: float  # eye aspect ratio of the applicant's left eye
    eye_openness_right: float
    mouth_opening: float  # inner-lip gap / inter-ocular distance
    inter_ocular_px: float  # eye centre to eye centre, image pixels (2D)
    box: tuple[float, float, float, float]  # (x, y, w, h) of the mesh points, pixels
    five_points: FivePoints  # dlib-style alignment points, image pixels

    @property
    def eyes_open(self) -> float:
        """Mean eye aspect ratio of both eyes."""
        return (self.eye_openness_left + self.eye_openness_right) / 2.0


def _points(points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] < 468 or pts.shape[1] != 3:
        raise ValueError(f"expected (478, 3) mesh points, got {pts.shape}")
    return pts


def rigid_fit(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Umeyama similarity fit ``target ~= scale * R @ source + t`` in 3D (proper rotation).

    Returns ``(R, scale, t)``.
    """
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    s, t = source - mu_s, target - mu_t
    cov = t.T @ s / len(source)
    u, sig, vt = np.linalg.svd(cov)
    # det(u) * det(vt) < 0 means the best orthogonal fit is a reflection: flip the weakest axis.
    flip = np.linalg.det(u @ vt) < 0
    if flip:
        u = u.copy()
        u[:, -1] = -u[:, -1]
        sig = sig.copy()
        sig[-1] = -sig[-1]
    rotation = u @ vt
    var_s = float((s * s).sum()) / len(source)
    scale = float(sig.sum() / var_s) if var_s > 0 else 1.0
    return rotation, scale, mu_t - scale * rotation @ mu_s


def pose_from_rotation(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from a template->camera rotation (module conventions)."""
    fx, fy, fz = (-float(v) for v in rotation[:, 2])  # the face looks along -z of the template
    yaw = math.degrees(math.atan2(fx, -fz))
    pitch = math.degrees(math.atan2(-fy, math.hypot(fx, fz)))
    ax, ay, az = (float(v) for v in rotation[:, 0])  # towards the applicant's left
    # level = forward x (0, 1, 0); down = -forward x level (written out: 3-vectors, no numpy).
    lx, ly, lz = -fz, 0.0, fx
    norm = math.sqrt(lx * lx + lz * lz)
    if norm < 1e-9:  # looking straight up or down: roll is undefined, call it 0
        return yaw, pitch, 0.0
    lx, lz = lx / norm, lz / norm
    dx = -(fy * lz - fz * ly)
    dy = -(fz * lx - fx * lz)
    dz = -(fx * ly - fy * lx)
    roll = math.degrees(math.atan2(ax * dx + ay * dy + az * dz, ax * lx + ay * ly + az * lz))
    return yaw, pitch, roll


def head_pose(points: np.ndarray) -> HeadPose:
    pts = _points(points)
    observed = pts[_POSE_INDEX]
    rotation, scale, shift = rigid_fit(POSE_TEMPLATE, observed)
    fitted = scale * POSE_TEMPLATE @ rotation.T + shift
    centred = observed - observed.mean(axis=0)
    radius = math.sqrt(float((centred * centred).sum()) / len(observed))
    residual = fitted - observed
    error = math.sqrt(float((residual * residual).sum()) / len(observed)) / max(radius, 1e-9)
    yaw, pitch, roll = pose_from_rotation(rotation)
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll, fit_error=error)


def _eye_aspect_ratio(pts: np.ndarray, corners: tuple[int, int],
                      lids: tuple[tuple[int, int], ...]) -> float:
    width = _distance(pts[corners[0]], pts[corners[1]])
    gaps = [_distance(pts[upper], pts[lower]) for upper, lower in lids]
    return sum(gaps) / (len(gaps) * width) if width > 0 else 0.0


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two short vectors (plain floats: cheaper than numpy's norm)."""
    return math.dist(a.tolist(), b.tolist())


def eye_openness(points: np.ndarray) -> tuple[float, float]:
    """Eye aspect ratio of the applicant's (left, right) eye."""
    pts = _points(points)
    return (_eye_aspect_ratio(pts, LEFT_EYE_CORNERS, LEFT_EYE_LIDS),
            _eye_aspect_ratio(pts, RIGHT_EYE_CORNERS, RIGHT_EYE_LIDS))


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """3D centres (midpoint of the corners) of the applicant's (left, right) eye."""
    pts = _points(points)
    return pts[list(LEFT_EYE_CORNERS)].mean(axis=0), pts[list(RIGHT_EYE_CORNERS)].mean(axis=0)


def inter_ocular_distance(points: np.ndarray, in_3d: bool = False) -> float:
    left, right = eye_centres(points)
    dims = 3 if in_3d else 2
    return float(np.linalg.norm(left[:dims] - right[:dims]))


def mouth_opening(points: np.ndarray) -> float:
    """Inner-lip gap over the inter-ocular distance (both in 3D): scale and yaw invariant."""
    pts = _points(points)
    gap = float(np.linalg.norm(pts[INNER_LIP_UPPER] - pts[INNER_LIP_LOWER]))
    iod = inter_ocular_distance(pts, in_3d=True)
    return gap / iod if iod > 0 else 0.0


def face_box(points: np.ndarray) -> tuple[float, float, float, float]:
    """``(x, y, w, h)`` bounding box of the mesh points in pixels (may extend past the image)."""
    xy = _points(points)[:, :2]
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    return (float(x0), float(y0), float(x1 - x0), float(y1 - y0))


def outside_fraction(points: np.ndarray, image_size: tuple[int, int]) -> float:
    """Share of mesh points outside the image: the face is partly out of frame when > 0."""
    xy = _points(points)[:, :2]
    width, height = image_size
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
    return float(1.0 - inside.mean())


def five_points(points: np.ndarray) -> FivePoints:
    """The dlib-style alignment points (eye centres, nose tip, mouth corners) from the mesh."""
    return FivePoints.from_mesh(_points(points))


def measure(points: np.ndarray) -> FaceGeometry:
    """All of the above on one mesh; shares the eye centres and the box between the measures
    (this runs on every analysed frame, so the per-call numpy overhead matters)."""
    pts = _points(points)
    left, right = eye_openness(pts)
    left_centre = (pts[LEFT_EYE_CORNERS[0]] + pts[LEFT_EYE_CORNERS[1]]) / 2.0
    right_centre = (pts[RIGHT_EYE_CORNERS[0]] + pts[RIGHT_EYE_CORNERS[1]]) / 2.0
    iod_3d = _distance(left_centre, right_centre)
    gap = _distance(pts[INNER_LIP_UPPER], pts[INNER_LIP_LOWER])
    xy = pts[:, :2]
    x0, y0 = xy.min(axis=0).tolist()
    x1, y1 = xy.max(axis=0).tolist()
    five = np.array([right_centre[:2], left_centre[:2], pts[1, :2], pts[MOUTH_CORNERS[0], :2],
                     pts[MOUTH_CORNERS[1], :2]])
    return FaceGeometry(pose=head_pose(pts), eye_openness_left=left, eye_openness_right=right,
                        mouth_opening=gap / iod_3d if iod_3d > 0 else 0.0,
                        inter_ocular_px=_distance(left_centre[:2], right_centre[:2]),
                        box=(x0, y0, x1 - x0, y1 - y0), five_points=FivePoints(five))
