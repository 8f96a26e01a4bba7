"""478-point face mesh (MediaPipe Face Landmarker v2), with MediaPipe's own ROI geometry.

Why this module exists: landmark-based liveness challenges (blink, smile, head turn) and the
blendshape model need the same 478 points MediaPipe's ``FaceLandmarker`` produces. The model
only sees a 256x256 crop, so the crop rectangle (ROI) decides the result as much as the
weights. The ROI rules reproduced here come from MediaPipe's graphs:

* from a detection (``face_detector_graph.cc``): rectangle = the detection box, rotated so the
  line from keypoint 0 to keypoint 1 (the eyes) is horizontal, then scaled by 1.5 in width and
  height (not squared);
* for the next video frame (``face_landmarks_detector_graph.cc``): the bounding box of all 478
  projected landmarks, rotated by the line from landmark 33 to landmark 263 (outer eye
  corners), squared on its long side and scaled by 1.5.

The crop is warped with bilinear sampling and replicated borders, pixels scaled to [0, 1]
(the model's metadata: mean 0, std 255). Landmarks come out in crop pixels; they are divided
by 256, rotated back about the crop centre and scaled by the ROI size, exactly as MediaPipe's
LandmarkProjectionCalculator does (its matrix form, which the Tasks API uses), then expressed
in image pixels. ``z`` is MediaPipe's relative depth (smaller = closer to the camera, origin
near the head centre): MediaPipe's normalised z times the image width. That is the crop width
in pixels times ``hypot(cos r, sin r * W / H)``, a quirk of MediaPipe's normalised coordinates
that we keep so the numbers equal the Tasks API's (the factor is 1 for square images and for
upright faces; checked against the Tasks API on tilted faces in 600x800 frames).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from verification.face.detector import FaceDetection, check_rgb_image, warp_rotated_rect_rgbx
from verification.runtime import OnnxModel

log = logging.getLogger(__name__)

INPUT_SIZE = 256
NUM_LANDMARKS = 478
ROI_SCALE = 1.5
DEFAULT_MIN_PRESENCE = 0.5  # FaceLandmarksDetectorGraphOptions.min_detection_confidence default
# Landmarks whose connecting line sets the tracking ROI's rotation (outer eye corners).
TRACKING_ROTATION_START = 33
TRACKING_ROTATION_END = 263


def normalize_radians(angle: float) -> float:
    """Wrap an angle into [-pi, pi), as MediaPipe's NormalizeRadians."""
    return angle - 2.0 * math.pi * math.floor((angle + math.pi) / (2.0 * math.pi))


def _rotation(start: tuple[float, float], end: tuple[float, float]) -> float:
    """Rotation that makes the start->end vector point along +x (target angle 0)."""
    return normalize_radians(-math.atan2(-(end[1] - start[1]), end[0] - start[0]))


@dataclass(frozen=True)
class FaceRoi:
    """A rotated crop rectangle in image pixels; ``rotation`` in radians, clockwise on screen."""

    center_x: float
    center_y: float
    width: float
    height: float
    rotation: float
    image_size: tuple[int, int]

    @property
    def center(self) -> tuple[float, float]:
        return (self.center_x, self.center_y)

    def normalized(self) -> tuple[float, float, float, float, float]:
        """MediaPipe ``NormalizedRect`` fields: (x_center, y_center, width, height, rotation)."""
        w, h = self.image_size
        return (self.center_x / w, self.center_y / h, self.width / w, self.height / h,
                self.rotation)


@dataclass(frozen=True, eq=False)  # holds numpy arrays: compare by identity
class FaceLandmarks:
    """The 478 points of one face in image pixels, with the model's face-presence score.

    ``points`` is ``(478, 3)`` float32: x, y in pixels of the input image, z relative depth
    (MediaPipe's normalised z times the image width, see the module notes). ``present`` is
    ``presence >= min_presence`` (MediaPipe drops the landmarks of faces below it). ``roi`` is
    the crop the model saw.
    """

    points: np.ndarray
    presence: float
    present: bool
    roi: FaceRoi
    latency_ms: float

    @property
    def image_size(self) -> tuple[int, int]:
        return self.roi.image_size

    def normalized(self) -> np.ndarray:
        """Points as MediaPipe's NormalizedLandmark (x / width, y / height, z / width)."""
        w, h = self.roi.image_size
        return self.points / np.array([w, h, w], dtype=np.float32)


def roi_from_detection(detection: FaceDetection) -> FaceRoi:
    """The landmark ROI MediaPipe derives from a face detection (1.5x box, eye-aligned)."""
    x, y, w, h = detection.box
    start = detection.keypoints[0]
    end = detection.keypoints[1]
    rotation = _rotation((float(start[0]), float(start[1])), (float(end[0]), float(end[1])))
    return FaceRoi(center_x=x + w / 2.0, center_y=y + h / 2.0, width=w * ROI_SCALE,
                   height=h * ROI_SCALE, rotation=rotation, image_size=detection.image_size)


def roi_from_landmarks(points: np.ndarray, image_size: tuple[int, int]) -> FaceRoi:
    """The next-frame ROI MediaPipe derives from landmarks (square on the long side, x1.5)."""
    xy = np.asarray(points, dtype=np.float64)[:, :2]
    x_min, y_min = xy.min(axis=0)
    x_max, y_max = xy.max(axis=0)
    start = xy[TRACKING_ROTATION_START]
    end = xy[TRACKING_ROTATION_END]
    rotation = _rotation((start[0], start[1]), (end[0], end[1]))
    side = max(x_max - x_min, y_max - y_min) * ROI_SCALE
    return FaceRoi(center_x=float((x_min + x_max) / 2.0), center_y=float((y_min + y_max) / 2.0),
                   width=float(side), height=float(side), rotation=rotation,
                   image_size=image_size)


def preprocess(image: np.ndarray, roi: FaceRoi, out: np.ndarray | None = None,
               channels_first: bool = False, scratch: np.ndarray | None = None) -> np.ndarray:
    """RGB uint8 image + ROI -> model input ``(1, 256, 256, 3)`` float32 in [0, 1].

    ``out`` (optional, that shape and dtype) receives the result, so a caller running every
    frame can reuse one buffer instead of allocating (and page-faulting) 768 KiB per frame.
    ``channels_first`` gives ``(1, 3, 256, 256)`` (the runtime runs the model channels-first:
    the same values, converted plane by plane instead of transposed inside the model).
    ``scratch`` is the frame-sized RGBA buffer of :func:`warp_rotated_rect_rgbx`.
    """
    crop = warp_rotated_rect_rgbx(image, roi.center, (roi.width, roi.height), roi.rotation,
                                  INPUT_SIZE, cv2.BORDER_REPLICATE, scratch)
    shape = (1, 3, INPUT_SIZE, INPUT_SIZE) if channels_first else (1, INPUT_SIZE, INPUT_SIZE, 3)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    if channels_first:
        for channel, plane in enumerate(cv2.split(crop)[:3]):
            np.multiply(plane, np.float32(1.0 / 255.0), out=out[0, channel])
    else:
        np.multiply(crop[:, :, :3], np.float32(1.0 / 255.0), out=out[0])
    return out


def project_landmarks(raw: np.ndarray, roi: FaceRoi) -> np.ndarray:
    """Model output (1434 values: x, y, z in crop pixels) -> ``(478, 3)`` image pixels."""
    crop = np.asarray(raw, dtype=np.float64).reshape(NUM_LANDMARKS, 3) / INPUT_SIZE
    du = crop[:, 0] - 0.5
    dv = crop[:, 1] - 0.5
    cos, sin = math.cos(roi.rotation), math.sin(roi.rotation)
    w, h = roi.width, roi.height
    width, height = roi.image_size
    out = np.empty((NUM_LANDMARKS, 3), dtype=np.float32)
    out[:, 0] = cos * w * du - sin * h * dv + roi.center_x
    out[:, 1] = sin * w * du + cos * h * dv + roi.center_y
    # MediaPipe scales normalised z by the length of the projected unit x-vector of the crop in
    # normalised image units; in pixels of x that is the ROI width times this factor (1 for a
    # square image or an upright face).
    z_factor = math.hypot(cos, sin * width / height)
    out[:, 2] = crop[:, 2] * w * z_factor
    return out


class FaceMesh:
    """Adapter for ``face_mesh``: (image, detection or ROI) -> :class:`FaceLandmarks`."""

    def __init__(self, model: OnnxModel, min_presence: float = DEFAULT_MIN_PRESENCE) -> None:
        self.model = model
        self.min_presence = float(min_presence)
        self._input = model.input_names[0]
        self.channels_first = model.channels_first_input(self._input)
        self._landmarks_name, self._presence_name = model.output_names[:2]
        # One input buffer per thread: the adapter is shared by streams in the executor's
        # threads, and a buffer is only reused after its own thread's previous run returned.
        self._buffers = threading.local()

    def _input_buffer(self) -> np.ndarray:
        buffer = getattr(self._buffers, "input", None)
        if buffer is None:
            shape = (3, INPUT_SIZE, INPUT_SIZE) if self.channels_first else \
                (INPUT_SIZE, INPUT_SIZE, 3)
            buffer = np.empty((1, *shape), dtype=np.float32)
            self._buffers.input = buffer
        return buffer

    def _scratch(self, height: int, width: int) -> np.ndarray:
        """This thread's frame-sized RGBA buffer for the crop (re-made when the size changes)."""
        scratch = getattr(self._buffers, "scratch", None)
        if scratch is None or scratch.shape[:2] != (height, width):
            scratch = np.empty((height, width, 4), dtype=np.uint8)
            self._buffers.scratch = scratch
        return scratch

    def landmarks(self, image: np.ndarray, face: FaceDetection | FaceRoi) -> FaceLandmarks:
        image = check_rgb_image(image)
        roi = roi_from_detection(face) if isinstance(face, FaceDetection) else face
        height, width = image.shape[:2]
        if roi.image_size != (width, height):
            raise ValueError(f"ROI belongs to a {roi.image_size} image, got {(width, height)}")
        tensor = preprocess(image, roi, self._input_buffer(), self.channels_first,
                            self._scratch(height, width))
        result = self.model.run({self._input: tensor})
        logit = float(np.asarray(result[self._presence_name]).reshape(-1)[0])
        presence = 1.0 / (1.0 + math.exp(-logit)) if logit > -80 else 0.0
        points = project_landmarks(result[self._landmarks_name], roi)
        return FaceLandmarks(points=points, presence=presence,
                             present=presence >= self.min_presence, roi=roi,
                             latency_ms=result.latency_ms)

    @staticmethod
    def next_roi(landmarks: FaceLandmarks) -> FaceRoi:
        """ROI for the same face in the next video frame (MediaPipe's tracking rectangle)."""
        return roi_from_landmarks(landmarks.points, landmarks.roi.image_size)
