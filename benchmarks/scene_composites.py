"""Interview-like frames made from real photos: a person cut from a portrait, pasted on a room.

Used by ``benchmarks/eval_scene.py``, ``benchmarks/bench_scene_index.py`` and the scene tests.
The London Set portraits have a uniform studio background, so a person can be cut out cleanly;
the cut uses the *selfie* segmentation model, while the analysis masks applicants with the
*Meet* model (``person_segmentation``): the two masks disagree at the edges the way a real frame
and its mask do, instead of the analysis undoing its own compositing exactly.

A "camera" re-frames the room between interviews the way a hand-held phone does: a small zoom,
a small shift, a degree or two of roll, another exposure, JPEG compression. A place is a
*view*: a whole photo, or a non-overlapping part of it (left or right 45 %, with a 10 % gap,
so no jittered frame of one half ever shows pixels of the other).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

SHARED_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
SCENES_DIR = SHARED_MEDIA / "scenes"
LONDON_DIR = SHARED_MEDIA / "faces" / "london"

# Photos of one physical place (the camera or the scene moved between them).
SCENE_GROUPS: dict[str, tuple[str, ...]] = {
    "corridor": ("opencv_samples/basketball1.png",),
    "box_scene": ("opencv_samples/box_in_scene.png",),
    "coffee_table": ("opencv_samples/coffee.png",),
    "chessboard_office": ("opencv_samples/left01.jpg", "opencv_samples/left02.jpg",
                          "opencv_samples/left03.jpg"),
    "garage": ("opencv_samples/motorcycle_left.png",),
    "lab_corner": ("tum_office/LK1.png", "tum_office/LK2.png"),
    "desk": ("tum_office/fr1_desk_1.png", "tum_office/fr1_desk_2.png"),
}
# Parts of a photo used as places: (x0, x1) as shares of the width.
VIEWS: dict[str, tuple[float, float]] = {"full": (0.0, 1.0), "left": (0.0, 0.45),
                                         "right": (0.55, 1.0)}


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@dataclass(frozen=True, eq=False)
class CutPerson:
    """A person cut from a portrait: RGB and a soft alpha, cropped to the person."""

    person_id: str
    rgb: np.ndarray
    alpha: np.ndarray  # float32 HxW in [0, 1]


def cut_person(portrait_rgb: np.ndarray, segmenter, person_id: str = "") -> CutPerson:
    """Cut the person out with a segmenter (feathered alpha, cropped to its bounding box)."""
    alpha = segmenter.segment(portrait_rgb).mask
    alpha = cv2.GaussianBlur(alpha, (0, 0), 1.5)
    alpha = np.clip((alpha - 0.3) / 0.4, 0.0, 1.0).astype(np.float32)  # firm core, soft rim
    ys, xs = np.nonzero(alpha > 0.05)
    if ys.size == 0:
        raise ValueError(f"no person found in portrait {person_id!r}")
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return CutPerson(person_id, portrait_rgb[y0:y1, x0:x1].copy(), alpha[y0:y1, x0:x1].copy())


@dataclass(frozen=True)
class Camera:
    """One hand-held framing: zoom, shift (shares of the frame), roll (degrees), exposure."""

    zoom: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    roll_deg: float = 0.0
    gain: float = 1.0
    offset: float = 0.0
    jpeg_quality: int = 90

    @classmethod
    def random(cls, rng: np.random.Generator, strength: float = 1.0) -> Camera:
        return cls(zoom=float(1.0 + strength * rng.uniform(-0.08, 0.08)),
                   shift_x=float(strength * rng.uniform(-0.04, 0.04)),
                   shift_y=float(strength * rng.uniform(-0.04, 0.04)),
                   roll_deg=float(strength * rng.uniform(-2.0, 2.0)),
                   gain=float(1.0 + strength * rng.uniform(-0.15, 0.15)),
                   offset=float(strength * rng.uniform(-10.0, 10.0)),
                   jpeg_quality=int(rng.integers(70, 95)))


def view_of(image: np.ndarray, view: str) -> np.ndarray:
    x0, x1 = VIEWS[view]
    width = image.shape[1]
    return image[:, int(round(x0 * width)):int(round(x1 * width))]


def frame_size_for(view_image: np.ndarray, long_side: int = 640) -> tuple[int, int]:
    height, width = view_image.shape[:2]
    scale = long_side / max(height, width)
    return int(round(width * scale)), int(round(height * scale))


def film(room: np.ndarray, camera: Camera, size: tuple[int, int]) -> np.ndarray:
    """The room as this camera frames it at ``size`` (a 10 % base zoom keeps the borders filled)."""
    width, height = size
    room_h, room_w = room.shape[:2]
    base = max(width / room_w, height / room_h) * 1.1 * camera.zoom
    matrix = cv2.getRotationMatrix2D((room_w / 2.0, room_h / 2.0), camera.roll_deg, base)
    matrix[0, 2] += width / 2.0 - room_w / 2.0 + camera.shift_x * width
    matrix[1, 2] += height / 2.0 - room_h / 2.0 + camera.shift_y * height
    return cv2.warpAffine(room, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)


def paste(frame: np.ndarray, person: CutPerson, height_share: float = 0.75,
          centre_x_share: float = 0.5) -> np.ndarray:
    """The person standing at the bottom of the frame, ``height_share`` of its height tall."""
    frame_h, frame_w = frame.shape[:2]
    target_h = max(8, int(round(frame_h * height_share)))
    scale = target_h / person.rgb.shape[0]
    target_w = max(8, int(round(person.rgb.shape[1] * scale)))
    rgb = cv2.resize(person.rgb, (target_w, target_h), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(person.alpha, (target_w, target_h), interpolation=cv2.INTER_LINEAR)
    x0 = int(round(centre_x_share * frame_w - target_w / 2.0))
    y0 = frame_h - target_h
    fx0, fx1 = max(0, x0), min(frame_w, x0 + target_w)
    px0 = fx0 - x0
    out = frame.astype(np.float32)
    a = alpha[:, px0:px0 + (fx1 - fx0), None]
    region = out[y0:frame_h, fx0:fx1]
    out[y0:frame_h, fx0:fx1] = region * (1.0 - a) + rgb[:, px0:px0 + (fx1 - fx0)] * a
    return np.clip(out, 0, 255).astype(np.uint8)


def expose(frame: np.ndarray, camera: Camera) -> np.ndarray:
    """Exposure change and JPEG round trip (what the phone's encoder does to the frame)."""
    out = np.clip(frame.astype(np.float32) * camera.gain + camera.offset, 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, camera.jpeg_quality])
    if not ok:
        return out
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def composite(room_view: np.ndarray, person: CutPerson, camera: Camera,
              height_share: float = 0.75, centre_x_share: float = 0.5,
              long_side: int = 640) -> np.ndarray:
    """An interview frame: the room filmed by ``camera`` with ``person`` in front of it."""
    frame = film(room_view, camera, frame_size_for(room_view, long_side))
    return expose(paste(frame, person, height_share, centre_x_share), camera)


def london_ids() -> list[str]:
    return sorted(p.name.split("_")[0] for p in LONDON_DIR.glob("*_neutral.jpg"))
