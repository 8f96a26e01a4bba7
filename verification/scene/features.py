"""Local features of the masked background: keypoints whose whole support lies off the applicant.

Why SIFT (RootSIFT): the fingerprint must survive what happens between two interviews in one
room - the phone held a little higher or further away (scale and crop), other light (brightness),
a different person covering a different part of the wall - and reject two different rooms. SIFT
is invariant to scale and robust to illumination; the RootSIFT mapping (L1-normalise, square
root) makes Euclidean matching behave like the Hellinger kernel, which matches better than raw
SIFT (Arandjelovic & Zisserman, 2012). SIFT is in OpenCV's main module since 4.4 (patent
expired), so no contrib build is needed.

Why the support test: a keypoint *outside* the person mask can still describe a patch that
overlaps the applicant (hair, shoulder), and such patches would match between two interviews of
the *same person* in different rooms. A keypoint is kept only when the distance to the nearest
person pixel exceeds its descriptor's radius (:data:`SUPPORT_RADIUS_PER_SIZE` x keypoint size).

Descriptors are stored as uint8 (RootSIFT x 255, rounded): four times smaller than float32 with
a negligible effect on matching; ``pack``/``unpack`` give a versioned, self-describing blob for
the on-disk index (about 41 KB for 300 keypoints), read back without copying.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

from verification.scene.masking import BackgroundView

MAX_KEYPOINTS = 300
# Radius (in keypoint sizes) of the image patch a SIFT descriptor depends on, for the
# off-the-person test. OpenCV's SIFT samples a window of radius ~2.6 sizes with a Gaussian
# weight of sigma ~1.5 sizes; 1.5 keeps the bulk of the weight off the person.
SUPPORT_RADIUS_PER_SIZE = 1.5
# Ignore a thin band at the frame border: crops and black letterbox edges make corners there.
BORDER_PX = 8
# SIFT doubles its input before the first octave (OpenCV's firstOctave = -1), so detecting on a
# 0.75x copy of the 640-pixel working frame still resolves features finer than a working pixel,
# at about half the cost; points and sizes are mapped back to working-frame pixels.
DETECT_SCALE = 0.75
FORMAT_VERSION = 1


ROOT_SIFT = "rootsift"
ORB = "orb"
_MAGIC = b"BGLF"
_HEADER = struct.Struct("<4sHHIHHH")  # magic, version, kind, count, width, image w, image h
_KIND_CODES = {ROOT_SIFT: 1, ORB: 2}
_KIND_NAMES = {code: name for name, code in _KIND_CODES.items()}


@dataclass(frozen=True, eq=False)
class LocalFeatures:
    """Keypoints (x, y, size) at working size and their descriptors.

    ``kind`` is :data:`ROOT_SIFT` (uint8 (N, 128), the fingerprint) or :data:`ORB` (packed
    binary uint8 (N, 32), the cheap frame-to-frame continuity check).
    """

    points: np.ndarray  # (N, 2) float32
    sizes: np.ndarray  # (N,) float32
    descriptors: np.ndarray  # (N, 128) or (N, 32) uint8
    image_size: tuple[int, int]  # (width, height) of the working frame
    kind: str = ROOT_SIFT

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def matchable(self) -> np.ndarray:
        """float32 vectors whose squared Euclidean distance orders matches correctly.

        RootSIFT: the descriptor itself. ORB: bits as +-1, so squared distance = 4 x Hamming.
        """
        if self.kind == ORB:
            bits = np.unpackbits(self.descriptors, axis=1).astype(np.float32)
            return bits * 2.0 - 1.0
        return self.descriptors.astype(np.float32)

    def pack(self) -> bytes:
        """A compact, versioned blob: header, float32 points, float16 sizes, descriptors."""
        count, width = self.descriptors.shape
        header = _HEADER.pack(_MAGIC, FORMAT_VERSION, _KIND_CODES[self.kind], count, width,
                              self.image_size[0], self.image_size[1])
        return b"".join((header, self.points.astype("<f4").tobytes(),
                         self.sizes.astype("<f2").tobytes(),
                         np.ascontiguousarray(self.descriptors, np.uint8).tobytes()))

    @classmethod
    def unpack(cls, blob: bytes) -> LocalFeatures:
        if len(blob) < _HEADER.size:
            raise ValueError("local-feature blob too short")
        magic, version, kind, count, width, img_w, img_h = _HEADER.unpack_from(blob)
        if magic != _MAGIC or version != FORMAT_VERSION or kind not in _KIND_NAMES:
            raise ValueError(f"not a local-feature blob of format {FORMAT_VERSION}")
        offset = _HEADER.size
        expected = offset + count * (8 + 2 + width)
        if len(blob) != expected:
            raise ValueError(f"local-feature blob is {len(blob)} bytes, expected {expected}")
        points = np.frombuffer(blob, "<f4", count * 2, offset).reshape(count, 2)
        offset += count * 8
        sizes = np.frombuffer(blob, "<f2", count, offset).astype(np.float32)
        offset += count * 2
        descriptors = np.frombuffer(blob, np.uint8, count * width, offset).reshape(count, width)
        return cls(points=points.astype(np.float32), sizes=sizes, descriptors=descriptors,
                   image_size=(img_w, img_h), kind=_KIND_NAMES[kind])

    @classmethod
    def empty(cls, image_size: tuple[int, int], kind: str = ROOT_SIFT) -> LocalFeatures:
        width = 32 if kind == ORB else 128
        return cls(np.zeros((0, 2), np.float32), np.zeros(0, np.float32),
                   np.zeros((0, width), np.uint8), image_size, kind)


def _background_mask(view: BackgroundView) -> np.ndarray:
    mask = view.background.astype(np.uint8) * 255
    mask[:BORDER_PX] = 0
    mask[-BORDER_PX:] = 0
    mask[:, :BORDER_PX] = 0
    mask[:, -BORDER_PX:] = 0
    return mask


def _clear_of_person(view: BackgroundView, points: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Keypoints whose support radius stays off the (grown) applicant mask."""
    height, width = view.person_distance.shape
    xi = np.clip(np.round(points[:, 0]).astype(int), 0, width - 1)
    yi = np.clip(np.round(points[:, 1]).astype(int), 0, height - 1)
    return view.person_distance[yi, xi] > radii


def root_sift(descriptors: np.ndarray) -> np.ndarray:
    """SIFT -> RootSIFT (L1-normalise, square root), scaled to uint8."""
    values = descriptors.astype(np.float32)
    values /= np.maximum(values.sum(axis=1, keepdims=True), 1e-7)
    return np.clip(np.round(np.sqrt(values) * 255.0), 0, 255).astype(np.uint8)


class LocalFeatureExtractor:
    """:class:`BackgroundView` -> :class:`LocalFeatures` on the background only.

    SIFT is asked for more keypoints than kept, so that after dropping those that touch the
    person the strongest ``max_keypoints`` remain.
    """

    def __init__(self, max_keypoints: int = MAX_KEYPOINTS,
                 support_radius_per_size: float = SUPPORT_RADIUS_PER_SIZE,
                 detect_scale: float = DETECT_SCALE) -> None:
        self.max_keypoints = max_keypoints
        self.support_radius_per_size = support_radius_per_size
        self.detect_scale = detect_scale
        self._contrast_threshold = 0.02  # below OpenCV's 0.04: phone video is soft and dim

    def extract(self, view: BackgroundView) -> LocalFeatures:
        gray = view.gray()
        height, width = gray.shape
        mask = _background_mask(view)
        if not mask.any():
            return LocalFeatures.empty((width, height))
        scale = self.detect_scale
        if scale != 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
        # a detector per call: OpenCV does not document its feature objects as thread-safe
        sift = cv2.SIFT_create(nfeatures=self.max_keypoints * 3,
                               contrastThreshold=self._contrast_threshold)
        keypoints, descriptors = sift.detectAndCompute(gray, mask)
        if descriptors is None or not keypoints:
            return LocalFeatures.empty((width, height))
        points = np.array([kp.pt for kp in keypoints], np.float32) / scale
        sizes = np.array([kp.size for kp in keypoints], np.float32) / scale
        responses = np.array([kp.response for kp in keypoints], np.float32)
        clear = _clear_of_person(view, points, self.support_radius_per_size * sizes)
        order = np.argsort(-responses[clear], kind="stable")[: self.max_keypoints]
        keep = np.nonzero(clear)[0][order]
        return LocalFeatures(points=points[keep], sizes=sizes[keep],
                             descriptors=root_sift(descriptors[keep]),
                             image_size=(width, height))


class OrbExtractor:
    """Cheap binary features for frame-to-frame continuity (about 10 ms at working size).

    ORB's descriptor is computed on a patch of ``size`` pixels, so a keypoint is kept when half
    the patch diagonal stays off the applicant.
    """

    def __init__(self, max_keypoints: int = MAX_KEYPOINTS) -> None:
        self.max_keypoints = max_keypoints

    def extract(self, view: BackgroundView) -> LocalFeatures:
        gray = view.gray()
        height, width = gray.shape
        mask = _background_mask(view)
        if not mask.any():
            return LocalFeatures.empty((width, height), ORB)
        orb = cv2.ORB_create(nfeatures=self.max_keypoints * 2, fastThreshold=10)
        keypoints, descriptors = orb.detectAndCompute(gray, mask)
        if descriptors is None or not keypoints:
            return LocalFeatures.empty((width, height), ORB)
        points = np.array([kp.pt for kp in keypoints], np.float32)
        sizes = np.array([kp.size for kp in keypoints], np.float32)
        responses = np.array([kp.response for kp in keypoints], np.float32)
        clear = _clear_of_person(view, points, sizes * (np.sqrt(2.0) / 2.0))
        order = np.argsort(-responses[clear], kind="stable")[: self.max_keypoints]
        keep = np.nonzero(clear)[0][order]
        return LocalFeatures(points=points[keep], sizes=sizes[keep],
                             descriptors=descriptors[keep].astype(np.uint8),
                             image_size=(width, height), kind=ORB)
