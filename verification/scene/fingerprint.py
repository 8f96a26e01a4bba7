"""Background fingerprint: what identifies a place once the applicant is cut out of the frame.

A fingerprint is the pair the index needs: a global descriptor (fast candidate search over every
earlier interview) and the local features that verify a candidate geometrically.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from verification.scene.descriptor import global_descriptor
from verification.scene.features import LocalFeatureExtractor, LocalFeatures
from verification.scene.masking import ApplicantMasker, BackgroundView
from verification.scene.matching import PlaceMatch, verify_place


@dataclass(frozen=True, eq=False)
class BackgroundFingerprint:
    descriptor: np.ndarray  # (DESCRIPTOR_DIM,) float32, unit length
    local: LocalFeatures
    background_share: float  # share of the frame that is background (after masking)
    latency_ms: float

    def compare(self, other: BackgroundFingerprint) -> PlaceMatch:
        return verify_place(self.local, other.local)

    def cosine(self, other: BackgroundFingerprint) -> float:
        return float(self.descriptor @ other.descriptor)


class Fingerprinter:
    """:class:`BackgroundView` (or an RGB frame, masked first) -> :class:`BackgroundFingerprint`."""

    def __init__(self, masker: ApplicantMasker,
                 extractor: LocalFeatureExtractor | None = None) -> None:
        self.masker = masker
        self.extractor = extractor or LocalFeatureExtractor()

    def from_view(self, view: BackgroundView) -> BackgroundFingerprint:
        started = time.perf_counter()
        local = self.extractor.extract(view)
        descriptor = global_descriptor(view, local)
        elapsed = (time.perf_counter() - started) * 1000.0 + view.segmentation_ms
        return BackgroundFingerprint(descriptor, local, view.background_share, elapsed)

    def from_image(self, image_rgb: np.ndarray) -> BackgroundFingerprint:
        return self.from_view(self.masker.mask(image_rgb))
