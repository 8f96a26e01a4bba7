"""Benchmark cases for the scene models, on the real photos in tests/data/scenes.

* ``scene_objects``: ``detect`` on a 640x480 office desk (letterbox, NanoDet, decode of three
  strides, class-wise NMS) - the per-frame cost of "who and what else is in the room".
* ``person_segmentation`` / ``selfie_segmentation``: ``segment`` on a 480x480 portrait
  (resize, model, softmax or sigmoid plane, resize back to the frame).

No batch cases: the models have a fixed batch of 1 (TF.js signatures).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np


def _rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def objects_case(registry, data_dir: Path) -> Callable[[], object]:
    detector = registry.adapter("scene_objects")
    image = _rgb(data_dir / "scenes" / "office_desk_tum_fr1.jpg")
    return lambda: detector.detect(image)


def _segmentation_case(name: str) -> Callable[[object, Path], Callable[[], object]]:
    def factory(registry, data_dir: Path) -> Callable[[], object]:
        segmenter = registry.adapter(name)
        image = _rgb(data_dir / "faces" / "london_001_neutral.jpg")
        return lambda: segmenter.segment(image)
    return factory


CASES = {
    "scene_objects": objects_case,
    "person_segmentation": _segmentation_case("person_segmentation"),
    "selfie_segmentation": _segmentation_case("selfie_segmentation"),
}
