"""Quality gate on real faces and on controlled degradations of them: does each guidance code
fire when it should, and stay quiet on good frames?

Clean frames: the 138 London studio portraits (CC BY 4.0), the 8 CC0 webcam frames of
``faces/lisa_cc0`` and 5 frames of each of the 6 GRID clips (CC BY 4.0). Each degradation is
applied to the London portraits with the strength tied to the face's own size, so the numbers do
not depend on the photo's resolution:

* ``blurry``: Gaussian blur, sigma = 0.08 x the inter-ocular distance (a face out of focus);
* ``too_dark``: pixel values x 0.18 plus sensor-like noise (a dim room);
* ``too_bright``: 255 - (255 - x) x 0.15 (a face washed out by a window or a lamp);
* ``move_closer``: the frame scaled so the eyes are 20 px apart;
* ``face_not_centered``: the face moved into a corner of a larger frame, partly outside it;
* ``face_occluded`` (mouth): a hand-coloured patch over mouth and chin; (eyes): dark glasses.

Prints, per set, the share of frames flagged with each code. Target: the intended code on
>= 90 % of degraded frames, each code on <= 5 % of clean frames.

    .venv/bin/python -m benchmarks.eval_face_quality
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from verification.face.observation import FaceObservation, FaceTracker, TrackerConfig
from verification.face.quality import GUIDANCE_CODES
from verification.runtime import ModelRegistry
from verification.types import VideoFrame
from verification.video.decode import iter_media
from verification.video.images import load_image

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


def observe_still(tracker: FaceTracker, image: np.ndarray) -> FaceObservation:
    """A still seen as two video frames: the second one is meshed from the tracking ROI."""
    tracker.reset()
    tracker.observe(image, 0.0)
    return tracker.observe(image, 1.0)


def _iod(tracker: FaceTracker, image: np.ndarray) -> tuple[float, np.ndarray]:
    obs = observe_still(tracker, image)
    assert obs.geometry is not None and obs.landmarks is not None
    return obs.geometry.inter_ocular_px, obs.landmarks


def blur(image, iod, mesh):  # noqa: ANN001, ANN201
    return cv2.GaussianBlur(image, (0, 0), 0.08 * iod)


def dark(image, iod, mesh, rng=np.random.default_rng(0)):  # noqa: ANN001, ANN201, B008
    noisy = image.astype(np.float32) * 0.18 + rng.normal(0, 2.0, image.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def bright(image, iod, mesh):  # noqa: ANN001, ANN201
    return (255 - (255 - image.astype(np.float32)) * 0.15).astype(np.uint8)


def small(image, iod, mesh):  # noqa: ANN001, ANN201
    scale = 20.0 / iod
    h, w = image.shape[:2]
    return cv2.resize(image, (max(2, int(w * scale)), max(2, int(h * scale))),
                      interpolation=cv2.INTER_AREA)


def corner(image, iod, mesh):  # noqa: ANN001, ANN201
    h, w = image.shape[:2]
    canvas = np.full((h * 2, w * 2, 3), 90, np.uint8)
    canvas[-h:, -w:] = image
    x1 = int(mesh[:, 0].max())
    return canvas[:, : w + x1 - int(0.25 * (mesh[:, 0].max() - mesh[:, 0].min()))]


def mask_mouth(image, iod, mesh):  # noqa: ANN001, ANN201
    out = image.copy()
    idx = [61, 291, 0, 17, 152, 164, 2, 98, 327, 172, 397]
    hull = cv2.convexHull(mesh[idx, :2].astype(np.int32))
    cv2.fillConvexPoly(out, hull, (214, 170, 140))
    return out


def glasses(image, iod, mesh):  # noqa: ANN001, ANN201
    out = image.copy()
    for idx in ((33, 133, 159, 145, 70, 105), (263, 362, 386, 374, 300, 334)):
        pts = mesh[list(idx), :2]
        centre = pts.mean(axis=0)
        axes = (int(0.45 * iod), int(0.28 * iod))
        cv2.ellipse(out, (int(centre[0]), int(centre[1] + 0.05 * iod)), axes, 0, 0, 360,
                    (20, 20, 25), -1)
    return out


DEGRADATIONS: dict[str, tuple[str, Callable]] = {
    "blur": ("blurry", blur),
    "dark": ("too_dark", dark),
    "bright": ("too_bright", bright),
    "small": ("move_closer", small),
    "corner": ("face_not_centered", corner),
    "mask": ("face_occluded", mask_mouth),
    "glasses": ("face_occluded", glasses),
}


def table(name: str, observations: list[FaceObservation], expected: str | None = None) -> None:
    faces = [o for o in observations if o.face]
    counts = Counter(code for o in faces for code in o.guidance)
    shown = [c for c in GUIDANCE_CODES if counts[c]]
    share = ", ".join(f"{c} {counts[c] / max(1, len(faces)):.0%}" for c in shown) or "none"
    hit = "" if expected is None else \
        f"  -> {expected}: {counts[expected] / max(1, len(faces)):.0%}"
    print(f"{name:<22} faces {len(faces):>3}/{len(observations):<3} flagged: {share}{hit}")
    metrics = {"luma": [], "sharpness": [], "eye_structure": [],
               "mouth_structure": [], "lip_redness": []}
    for o in faces:
        for key, values in metrics.items():
            values.append(getattr(o.quality, key))
    print(" " * 22 + "  ".join(
        f"{k} p5/50/95 " + "/".join(f"{np.percentile(v, q):.2f}" for q in (5, 50, 95))
        for k, v in metrics.items() if v))


def main() -> None:
    registry = ModelRegistry.from_manifest(provider="cpu")
    tracker = FaceTracker.from_registry(registry, TrackerConfig(detect_every=1),
                                        with_encoder=False)
    london = [load_image(p) for p in sorted((MEDIA / "faces" / "london").glob("*.jpg"))]
    lisa = [load_image(p) for p in sorted((MEDIA / "faces" / "lisa_cc0").glob("*.jpg"))]
    grid_obs = []
    for clip in sorted((MEDIA / "face_video" / "grid").glob("*.mpg")):
        tracker.reset()
        for item in iter_media(clip, video_fps=1.6):
            if isinstance(item, VideoFrame):
                grid_obs.append(tracker.observe(item.image, item.pts))
    print("clean frames")
    table("london", [observe_still(tracker, im) for im in london])
    table("lisa webcam", [observe_still(tracker, im) for im in lisa])
    table("grid video (5/clip)", grid_obs)
    measured = [(im, *_iod(tracker, im)) for im in london]
    print("degraded London portraits")
    for name, (code, fn) in DEGRADATIONS.items():
        table(name, [observe_still(tracker, fn(im, iod, mesh)) for im, iod, mesh in measured], code)


if __name__ == "__main__":
    main()
