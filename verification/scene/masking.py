"""The applicant cut out of the frame: what remains is the background every scene check reads.

Why a margin around the person: the segmentation mask is soft and low-resolution (Meet runs at
256x144), so hair, shoulders and the halo around them leak a few pixels into the "background".
Those pixels belong to the *applicant*, and an applicant filmed in two different rooms must never
make the rooms look alike. The mask is therefore thresholded, then grown by a margin proportional
to the frame size, and every later step (local features, the global descriptor, object cues)
treats the grown region as unknown rather than as background.

Frames are first brought to a working size (the long side :data:`WORK_LONG_SIDE` pixels), so
descriptors and thresholds mean the same thing for a 1080p webcam and a 480p phone stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from verification.errors import InvalidInputError
from verification.scene.segmentation import PersonSegmenter

WORK_LONG_SIDE = 640
PERSON_THRESHOLD = 0.25
# Margin added around the person, as a share of the working frame's diagonal (~12 px at 640x480).
PERSON_MARGIN_SHARE = 0.03


@dataclass(frozen=True, eq=False)
class BackgroundView:
    """One frame at working size with the applicant masked out.

    ``image``: RGB uint8 at working size; ``background``: bool HxW, True where the pixel is
    confidently not the applicant (margin included); ``person_distance``: float32 HxW, distance
    in pixels from each pixel to the nearest (grown) person pixel, so features can keep their
    whole support region off the applicant; ``scale``: working size / original size.
    """

    image: np.ndarray
    background: np.ndarray
    person_distance: np.ndarray
    person_box: tuple[float, float, float, float] | None  # xyxy at working size
    person_coverage: float
    scale: float
    segmentation_ms: float

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) at working size."""
        return int(self.image.shape[1]), int(self.image.shape[0])

    @property
    def background_share(self) -> float:
        return float(self.background.mean())

    def gray(self) -> np.ndarray:
        return cv2.cvtColor(self.image, cv2.COLOR_RGB2GRAY)


def check_rgb(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise InvalidInputError(f"expected an RGB (H, W, 3) image, got shape {shape}")
    if image.dtype != np.uint8:
        raise InvalidInputError(f"expected a uint8 RGB image, got {image.dtype}")
    if min(image.shape[:2]) < 16:
        raise InvalidInputError(f"image too small for scene analysis: {image.shape[1]}x"
                                f"{image.shape[0]}")
    return image


def to_working_size(image: np.ndarray, long_side: int = WORK_LONG_SIDE) -> tuple[np.ndarray, float]:
    """Resize so the long side is ``long_side`` (area filter when shrinking); returns the scale."""
    height, width = image.shape[:2]
    scale = long_side / max(height, width)
    if abs(scale - 1.0) < 1e-6:
        return image, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interpolation), scale


def background_view_from_mask(image: np.ndarray, person_probability: np.ndarray,
                              scale: float = 1.0, segmentation_ms: float = 0.0,
                              margin_share: float = PERSON_MARGIN_SHARE) -> BackgroundView:
    """Build the view from a person probability map at the image's size (tests, composites)."""
    height, width = image.shape[:2]
    person = (person_probability >= PERSON_THRESHOLD).astype(np.uint8)
    margin = max(1, round(margin_share * float(np.hypot(width, height))))
    if person.any():
        # Distance to the person; growing it by a disk of radius ``margin`` is a threshold on
        # that distance, and the distance to the grown region is what is left beyond it.
        to_person = cv2.distanceTransform(1 - person, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        background = to_person > margin
        distance = np.maximum(to_person - margin, 0.0)
        ys, xs = np.nonzero(person)
        box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
    else:
        background = np.ones((height, width), bool)
        distance = np.full((height, width), float(np.hypot(width, height)), np.float32)
        box = None
    return BackgroundView(
        image=image,
        background=background,
        person_distance=distance.astype(np.float32),
        person_box=box,
        person_coverage=float(person_probability.mean()),
        scale=scale,
        segmentation_ms=segmentation_ms,
    )


class ApplicantMasker:
    """RGB frame of any size -> :class:`BackgroundView` (working size, applicant masked out)."""

    def __init__(self, segmenter: PersonSegmenter, long_side: int = WORK_LONG_SIDE,
                 margin_share: float = PERSON_MARGIN_SHARE) -> None:
        self.segmenter = segmenter
        self.long_side = long_side
        self.margin_share = margin_share

    def mask(self, image_rgb: np.ndarray) -> BackgroundView:
        image, scale = to_working_size(check_rgb(image_rgb), self.long_side)
        result = self.segmenter.segment(image)
        return background_view_from_mask(image, result.mask, scale, result.latency_ms,
                                         self.margin_share)
