"""Live guidance codes for the applicant ("no face", "too dark", "weak network", ...).

The analyzers report *timelines* (a "no face" span is only known when it ends), but the
applicant needs to know *now* that their face left the oval. So once a second the guidance
monitor runs the face detector on the newest analysed frame (one BlazeFace call, ~2 ms, in the
inference executor) and combines it with the ingest state and the bandwidth policy. The page
maps each code to a localised message; codes are stable API.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from verification.face.detector import BlazeFaceDetector

GUIDANCE_CODES = ("ok", "no_video", "no_audio", "no_face", "multiple_faces", "too_dark",
                  "move_closer", "center_face", "weak_network")

NO_MEDIA_S = 3.0
DARK_LUMA = 45.0  # mean Y (0-255) below which faces are hard to see
MIN_FACE_SHARE = 0.12  # face box width / frame width below which the face is too small
CENTER_TOLERANCE = 0.3  # face centre within this share of the frame size from the centre


@dataclass(frozen=True)
class FaceView:
    faces: int
    width_share: float  # largest face's width / frame width
    offset: float  # largest face centre's distance from the frame centre, in frame sizes


def look_at_face(detector: BlazeFaceDetector, image: np.ndarray) -> FaceView:
    """Runs in the executor."""
    detections = detector.detect(image)
    if len(detections) == 0:
        return FaceView(0, 0.0, 0.0)
    height, width = image.shape[:2]
    face = detections[0]
    cx, cy = face.center
    offset = max(abs(cx / width - 0.5), abs(cy / height - 0.5))
    return FaceView(len(detections), face.box[2] / width, offset)


def choose_guidance(*, video_age_s: float | None, audio_age_s: float | None,
                    face: FaceView | None, luma: float | None, network: str) -> str:
    """The one most useful instruction, most blocking problem first."""
    if video_age_s is None or video_age_s > NO_MEDIA_S:
        return "no_video"
    if audio_age_s is None or audio_age_s > NO_MEDIA_S:
        return "no_audio"
    if luma is not None and luma < DARK_LUMA:
        return "too_dark"
    if face is not None:
        if face.faces == 0:
            return "no_face"
        if face.faces > 1:
            return "multiple_faces"
        if face.width_share < MIN_FACE_SHARE:
            return "move_closer"
        if face.offset > CENTER_TOLERANCE:
            return "center_face"
    if network == "poor":
        return "weak_network"
    return "ok"
