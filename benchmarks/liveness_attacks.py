"""Presentation-attack simulation for the liveness evaluation and tests (not product code).

Why: no recorded attack video is licensed for us, so attacks are *rendered* from real media with
the physics that liveness cues rely on, and nothing more:

* a **printed photo held by hand** is a flat card: its image moves by one homography per frame
  (a plane under a pinhole camera), printed with paper's reduced contrast and gamut, a paper
  grain, a white margin, a thumb on the edge, and shading that follows the card's tilt;
* a **screen replay** shows a real clip on a flat display: the display's pixel grid is rendered
  explicitly (sub-pixel stripes and gaps) and resampled by the camera, so moiré appears by
  aliasing as it does in a real recapture; the display's gamma and gamut, a glare spot and the
  bezel are added, and the device is held by hand (a moving homography);
* a **frozen frame** repeats one real frame while the real audio continues;
* a **static attack photo** (the Silent-Face print / screen samples) is filmed by a hand-held
  camera: the whole image shakes as a plane.

Every function is deterministic for a given seed, so the attack set and tests are reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

FRAME_SIZE = (640, 480)  # (width, height) of the simulated webcam


# -- motion -----------------------------------------------------------------------------------
def hand_motion(n: int, fps: float, rng: np.random.Generator, amplitude: float,
                tremor: float = 0.08) -> np.ndarray:
    """A smooth, hand-like 1-D trajectory of ``n`` samples in [-amplitude, amplitude] (about).

    A few slow sinusoids (0.2-1.5 Hz: arm sway) plus a weak physiological tremor (8-12 Hz).
    """
    t = np.arange(n) / fps
    out = np.zeros(n)
    for _ in range(3):
        freq = rng.uniform(0.2, 1.5)
        out += rng.uniform(0.3, 1.0) * np.sin(2 * math.pi * freq * t + rng.uniform(0, 2 * math.pi))
    out /= max(np.abs(out).max(), 1e-6)
    out += tremor * np.sin(2 * math.pi * rng.uniform(8, 12) * t + rng.uniform(0, 2 * math.pi))
    return amplitude * out


@dataclass(frozen=True)
class PlanePose:
    """Pose of a flat object in front of the camera (degrees, fractions of the frame)."""

    yaw: float
    pitch: float
    roll: float
    dx: float
    dy: float
    scale: float


def plane_trajectory(n: int, fps: float, rng: np.random.Generator, tilt_deg: float = 8.0,
                     roll_deg: float = 3.0, shift: float = 0.03, zoom: float = 0.04
                     ) -> list[PlanePose]:
    yaw = hand_motion(n, fps, rng, tilt_deg)
    pitch = hand_motion(n, fps, rng, tilt_deg * 0.7)
    roll = hand_motion(n, fps, rng, roll_deg)
    dx = hand_motion(n, fps, rng, shift)
    dy = hand_motion(n, fps, rng, shift)
    scale = 1.0 + hand_motion(n, fps, rng, zoom)
    return [PlanePose(*v) for v in zip(yaw, pitch, roll, dx, dy, scale, strict=True)]


def plane_homography(src_size: tuple[int, int], placement: tuple[float, float, float],
                     pose: PlanePose, frame_size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """Homography taking pixels of a flat image of ``src_size`` to the camera frame.

    The image is a plane of its own aspect ratio, ``placement = (cx, cy, height)`` in fractions
    of the frame, rotated by the pose about its centre and seen by a pinhole camera whose focal
    length is the frame width (a typical webcam's ~53 degree field of view).
    """
    fw, fh = frame_size
    sw, sh = src_size
    cx, cy, height = placement
    focal = float(fw)
    depth = focal  # the plane's centre sits one focal length away
    plane_h = height * fh * pose.scale
    plane_w = plane_h * sw / sh
    corners = np.array([[-plane_w / 2, -plane_h / 2, 0], [plane_w / 2, -plane_h / 2, 0],
                        [plane_w / 2, plane_h / 2, 0], [-plane_w / 2, plane_h / 2, 0]])
    rot, _ = cv2.Rodrigues(np.radians([pose.pitch, pose.yaw, 0.0]))
    roll = math.radians(pose.roll)
    rz = np.array([[math.cos(roll), -math.sin(roll), 0], [math.sin(roll), math.cos(roll), 0],
                   [0, 0, 1]])
    world = corners @ (rz @ rot).T + np.array([0.0, 0.0, depth])
    u = focal * world[:, 0] / world[:, 2] + (cx + pose.dx) * fw
    v = focal * world[:, 1] / world[:, 2] + (cy + pose.dy) * fh
    src = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], dtype=np.float32)
    return cv2.getPerspectiveTransform(src, np.stack([u, v], axis=1).astype(np.float32))


def composite(background: np.ndarray, layer: np.ndarray, homography: np.ndarray,
              alpha: np.ndarray | None = None) -> np.ndarray:
    """Warp ``layer`` (with an optional 0..1 alpha of its size) over ``background``."""
    h, w = background.shape[:2]
    warped = cv2.warpPerspective(layer, homography, (w, h), flags=cv2.INTER_LINEAR)
    mask_src = alpha if alpha is not None else np.ones(layer.shape[:2], np.float32)
    mask = cv2.warpPerspective(mask_src.astype(np.float32), homography, (w, h),
                               flags=cv2.INTER_LINEAR)[..., None]
    out = background.astype(np.float32) * (1 - mask) + warped.astype(np.float32) * mask
    return np.clip(out, 0, 255).astype(np.uint8)


def camera(frame: np.ndarray, rng: np.random.Generator, noise: float = 2.0,
           blur: float = 0.6) -> np.ndarray:
    """A webcam's optics and sensor: slight blur and Gaussian noise."""
    out = frame.astype(np.float32)
    if blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    out += rng.normal(0.0, noise, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def fit_background(image: np.ndarray, frame_size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """Resize-and-crop a scene photo to fill the frame (RGB)."""
    fw, fh = frame_size
    h, w = image.shape[:2]
    s = max(fw / w, fh / h)
    resized = cv2.resize(image, (math.ceil(w * s), math.ceil(h * s)), interpolation=cv2.INTER_AREA)
    y0 = (resized.shape[0] - fh) // 2
    x0 = (resized.shape[1] - fw) // 2
    return np.ascontiguousarray(resized[y0:y0 + fh, x0:x0 + fw])


# -- printed photo ----------------------------------------------------------------------------
def printed_card(photo: np.ndarray, rng: np.random.Generator, margin: float = 0.07,
                 thumb: bool = True) -> np.ndarray:
    """A photo as printed on paper: white margin, paper gamut and grain, a thumb on the edge."""
    h, w = photo.shape[:2]
    m = int(round(margin * max(h, w)))
    card = np.full((h + 2 * m, w + 2 * m, 3), 242, np.float32)
    img = photo.astype(np.float32)
    # Ink on paper: no deep blacks, weaker saturation, a warm paper tint.
    grey = img.mean(axis=2, keepdims=True)
    img = grey + rng.uniform(0.7, 0.9) * (img - grey)
    img = 18 + img * rng.uniform(0.8, 0.9)
    img *= np.array([1.02, 1.0, rng.uniform(0.9, 0.96)], np.float32)
    card[m:m + h, m:m + w] = img
    # Paper grain: fine multiplicative fibre noise.
    grain = cv2.GaussianBlur(rng.normal(0, 1, card.shape[:2]).astype(np.float32), (0, 0), 0.8)
    card *= (1 + rng.uniform(0.02, 0.04) * grain / max(grain.std(), 1e-6))[..., None]
    if thumb:
        tx = int(card.shape[1] * rng.uniform(0.25, 0.75))
        ty = card.shape[0] - int(0.02 * card.shape[0])
        skin = np.array([rng.uniform(170, 225), rng.uniform(120, 165), rng.uniform(95, 135)])
        cv2.ellipse(card, (tx, ty), (int(0.07 * w), int(0.11 * h)), rng.uniform(-20, 20), 0, 360,
                    skin.tolist(), -1, lineType=cv2.LINE_AA)
    return np.clip(card, 0, 255).astype(np.uint8)


def print_attack_frames(photo: np.ndarray, background: np.ndarray, seed: int, n: int = 75,
                        fps: float = 25.0, tilt_deg: float = 8.0) -> list[np.ndarray]:
    """A printed portrait held by hand in front of a webcam: ``n`` RGB frames. ``tilt_deg``:
    how far the hand turns the card (a larger tilt mimics a requested head turn)."""
    rng = np.random.default_rng(seed)
    card = printed_card(photo, rng)
    bg = fit_background(background)
    placement = (rng.uniform(0.45, 0.55), rng.uniform(0.45, 0.55), rng.uniform(0.75, 0.9))
    poses = plane_trajectory(n, fps, rng, tilt_deg=tilt_deg)
    light_dir = rng.normal(0, 1, 2)
    light_dir /= np.linalg.norm(light_dir)
    frames = []
    for pose in poses:
        hom = plane_homography((card.shape[1], card.shape[0]), placement, pose)
        # Matte paper under a lamp: brightness follows the tilt towards the light.
        gain = 1.0 + 0.012 * (light_dir[0] * pose.yaw + light_dir[1] * pose.pitch)
        lit = np.clip(card.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        frames.append(camera(composite(bg, lit, hom), rng))
    return frames


# -- screen replay ----------------------------------------------------------------------------
def display_panel(content: np.ndarray, pixels: tuple[int, int], depth: float) -> np.ndarray:
    """Content shown on an LCD of ``pixels`` (w, h), rendered 3x3 per display pixel: three RGB
    sub-pixel stripes and a dark row gap (the structure a camera aliases into moiré).

    ``depth`` in [0, 1] is how much of that structure survives the panel's diffuser and
    the camera's focus (0: a smooth image, 1: bare sub-pixels)."""
    pw, ph = pixels
    shown = cv2.resize(content, (pw, ph), interpolation=cv2.INTER_AREA).astype(np.float32)
    big = np.repeat(np.repeat(shown, 3, axis=0), 3, axis=1)
    cell = np.zeros((3, 3, 3), np.float32)
    for c in range(3):
        cell[:, c, c] = 3.0  # sub-pixel c lights only its own colour (energy preserving)
    cell[2, :, :] *= 0.4  # the black matrix between rows
    cell /= cell.mean()
    mask = np.tile((1.0 - depth) + depth * cell, (ph, pw, 1))
    return np.clip(big * mask, 0, 255)


def screen_look(content: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A display's tone curve and gamut: raised blacks, capped whites, gamma, a colour cast."""
    x = content.astype(np.float32) / 255.0
    gamma = rng.uniform(0.8, 1.25)
    black, white = rng.uniform(12, 30), rng.uniform(215, 245)
    cast = np.array([rng.uniform(0.92, 1.0), rng.uniform(0.97, 1.03), rng.uniform(1.0, 1.08)],
                    np.float32)
    out = black + (white - black) * np.power(x, gamma) * cast
    return np.clip(out, 0, 255).astype(np.uint8)


def screen_device(panel: np.ndarray, rng: np.random.Generator, bezel: float,
                  glare: bool) -> tuple[np.ndarray, np.ndarray]:
    """The panel inside a bezel (dark frame, rounded corners) with an optional glare spot.

    Returns the device image and its alpha (0 outside the rounded corners).
    """
    ph, pw = panel.shape[:2]
    b = int(round(bezel * pw))
    dev_h, dev_w = ph + 2 * b, pw + 2 * b
    shade = rng.uniform(8, 40)
    device = np.full((dev_h, dev_w, 3), shade, np.float32)
    device[b:b + ph, b:b + pw] = panel
    if glare:
        gx, gy = rng.uniform(0.2, 0.8) * dev_w, rng.uniform(0.15, 0.6) * dev_h
        sx, sy = rng.uniform(0.06, 0.15) * dev_w, rng.uniform(0.04, 0.1) * dev_h
        yy, xx = np.mgrid[0:dev_h, 0:dev_w].astype(np.float32)
        blob = np.exp(-(((xx - gx) / sx) ** 2 + ((yy - gy) / sy) ** 2) / 2)
        device += rng.uniform(70, 140) * blob[..., None]
    alpha = np.zeros((dev_h, dev_w), np.float32)
    radius = int(1.5 * b) + 4
    cv2.rectangle(alpha, (radius, 0), (dev_w - radius, dev_h), 1.0, -1)
    cv2.rectangle(alpha, (0, radius), (dev_w, dev_h - radius), 1.0, -1)
    for cx, cy in ((radius, radius), (dev_w - radius, radius), (radius, dev_h - radius),
                   (dev_w - radius, dev_h - radius)):
        cv2.circle(alpha, (cx, cy), radius, 1.0, -1, lineType=cv2.LINE_AA)
    return np.clip(device, 0, 255), alpha


def replay_attack_frames(clip: Sequence[np.ndarray], background: np.ndarray, seed: int,
                         fps: float = 25.0, panel_pixels: tuple[int, int] | None = None,
                         placement_height: float | None = None, glare: bool | None = None
                         ) -> list[np.ndarray]:
    """A real clip replayed on a hand-held tablet/phone in front of a webcam."""
    rng = np.random.default_rng(seed)
    bg = fit_background(background)
    if panel_pixels is None:
        width = int(rng.choice([480, 560, 640, 800]))
        panel_pixels = (width, width * 3 // 4)
    depth = rng.uniform(0.15, 0.45)
    bezel = rng.uniform(0.04, 0.09)
    glare = bool(rng.random() < 0.6) if glare is None else glare
    height = placement_height if placement_height is not None else rng.uniform(0.6, 0.85)
    placement = (rng.uniform(0.42, 0.58), rng.uniform(0.45, 0.55), height)
    poses = plane_trajectory(len(clip), fps, rng, tilt_deg=6.0, roll_deg=2.5, shift=0.025)
    look_rng = np.random.default_rng(seed + 1)
    tone = screen_look(np.arange(256, dtype=np.uint8).reshape(1, 256, 1).repeat(3, 2), look_rng)
    frames = []
    oversample = 2
    lens_blur = rng.uniform(0.35, 0.6)
    fw, fh = FRAME_SIZE
    big_bg = cv2.resize(bg, (fw * oversample, fh * oversample), interpolation=cv2.INTER_LINEAR)
    for image, pose in zip(clip, poses, strict=True):
        looked = np.stack([tone[0, image[..., c], c] for c in range(3)], axis=-1)
        panel = display_panel(looked, panel_pixels, depth)
        device, alpha = screen_device(panel, np.random.default_rng(seed + 2), bezel, glare)
        hom = plane_homography((device.shape[1], device.shape[0]), placement, pose,
                               (fw * oversample, fh * oversample))
        big = composite(big_bg, device, hom, alpha)
        # The lens blurs (about one camera pixel), then each sensor pixel integrates over its
        # area: detail finer than the pixel pitch (the sub-pixel grid) aliases into moiré.
        big = cv2.GaussianBlur(big, (0, 0), lens_blur * oversample)
        frame = cv2.resize(big, (fw, fh), interpolation=cv2.INTER_AREA)
        frames.append(camera(frame, rng, blur=0.0))
    return frames


# -- frozen frame and shaken still ------------------------------------------------------------
def frozen_frames(frame: np.ndarray, n: int, rng: np.random.Generator | None = None,
                  noise: float = 0.0) -> list[np.ndarray]:
    """One frame repeated ``n`` times (optionally with fresh sensor noise in each copy)."""
    if rng is None or noise <= 0:
        return [frame.copy() for _ in range(n)]
    return [camera(frame, rng, noise=noise, blur=0.0) for _ in range(n)]


def shaken_still_frames(image: np.ndarray, seed: int, n: int = 75, fps: float = 25.0,
                        shake_px: float = 4.0, shake_deg: float = 0.7) -> list[np.ndarray]:
    """A still image filmed by a hand-held camera: the whole view shakes as one plane."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    dx = hand_motion(n, fps, rng, shake_px)
    dy = hand_motion(n, fps, rng, shake_px)
    rot = hand_motion(n, fps, rng, shake_deg)
    zoom = 1.03 + hand_motion(n, fps, rng, 0.01)  # a slight zoom hides the borders
    frames = []
    for i in range(n):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), rot[i], zoom[i])
        m[:, 2] += (dx[i], dy[i])
        warped = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT)
        frames.append(camera(warped, rng, noise=1.5, blur=0.3))
    return frames


# -- real-clip degradations -------------------------------------------------------------------
def darken(frame: np.ndarray, rng: np.random.Generator, gain: float = 0.3,
           noise: float = 3.0) -> np.ndarray:
    """Low light: less linear light (the sensor's gain cannot hide it), more sensor noise."""
    linear = np.power(frame.astype(np.float32) / 255.0, 2.2) * gain
    out = 255.0 * np.power(linear, 1 / 2.2) + rng.normal(0.0, noise, frame.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


# -- I/O --------------------------------------------------------------------------------------
def read_clip(path: str | Path) -> tuple[list[np.ndarray], np.ndarray | None, float]:
    """All RGB frames, the 48 kHz mono float32 audio (or None) and the frame rate of a file."""
    frames: list[np.ndarray] = []
    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        fps = float(container.streams.video[0].average_rate or 25)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=48_000)
        streams = container.streams.video[:1] + container.streams.audio[:1]
        for packet in container.demux(*streams):
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    frames.append(frame.to_ndarray(format="rgb24"))
                else:
                    for out in resampler.resample(frame):
                        chunks.append(out.to_ndarray().reshape(-1))
    audio = np.concatenate(chunks).astype(np.float32) if chunks else None
    return frames, audio, fps


def write_clip(path: str | Path, frames: Sequence[np.ndarray], fps: float = 25.0,
               audio: np.ndarray | None = None, codec: str = "libx264",
               bitrate: int | None = None, size: tuple[int, int] | None = None) -> Path:
    """Encode RGB frames (and optional 48 kHz mono audio) into ``path``, interleaved.

    ``codec`` ``libx264`` writes H.264 (crf 20) + AAC, ``libvpx`` writes VP8 + Opus (WebM, as
    browsers send over WebRTC), at ``bitrate`` bits/s when given. ``size`` rescales frames.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not frames:
        raise ValueError("no frames to write")
    first = frames[0] if size is None else cv2.resize(frames[0], size)
    rate = Fraction(fps).limit_denominator(1000)
    with av.open(str(path), mode="w") as container:
        video = container.add_stream(codec, rate=rate)
        video.width, video.height = first.shape[1], first.shape[0]
        video.pix_fmt = "yuv420p"
        if bitrate:
            video.bit_rate = bitrate
            if codec == "libvpx":
                video.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        elif codec == "libx264":
            video.options = {"crf": "20", "preset": "veryfast"}
        audio_stream = None
        samples = np.zeros(0, np.float32)
        if audio is not None:
            audio_stream = container.add_stream("libopus" if codec == "libvpx" else "aac",
                                                rate=48_000)
            audio_stream.layout = "mono"
            samples = np.clip(audio, -1, 1).astype(np.float32)
        block = 960
        written = 0

        def encode_audio_until(limit: int) -> None:
            nonlocal written
            while audio_stream is not None and written < min(limit, len(samples)):
                piece = samples[written:written + block]
                if len(piece) < block:
                    piece = np.pad(piece, (0, block - len(piece)))
                af = av.AudioFrame.from_ndarray(piece[None], format="flt", layout="mono")
                af.sample_rate = 48_000
                af.pts = written
                for packet in audio_stream.encode(af):
                    container.mux(packet)
                written += block

        for i, frame in enumerate(frames):
            if size is not None:
                frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
            encode_audio_until(int((i + 1) * 48_000 / fps))
        for packet in video.encode():
            container.mux(packet)
        encode_audio_until(len(samples))
        if audio_stream is not None:
            for packet in audio_stream.encode():
                container.mux(packet)
    return path
