"""Real media for WebRTC tests and benchmarks, made at run time from a committed clip.

* :func:`make_fake_capture` writes the ``.y4m`` + ``.wav`` pair Chromium's fake camera and
  microphone play (``--use-file-for-fake-video-capture`` / ``--use-file-for-fake-audio-capture``).
* :func:`make_webm` pre-encodes VP8 + Opus so aiortc clients can replay it without encoding
  (``MediaPlayer(path, decode=False)``): the load generator then costs almost no CPU.
* :func:`encoded_packets` gives the compressed frames directly (recorder tests).

Clips are looped to the requested duration; the picture is scaled (letterboxed) to the target
size, audio resampled to 48 kHz mono.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class ClipMedia:
    frames: list[np.ndarray]  # RGB uint8 at the target size
    fps: float
    audio: np.ndarray  # int16 mono 48 kHz


def load_clip(path: Path, width: int, height: int, fps: float = 15.0) -> ClipMedia:
    """Decode a clip, resample video to ``fps`` and scale it into ``width`` x ``height``."""
    frames: list[np.ndarray] = []
    audio: list[np.ndarray] = []
    resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
    with av.open(str(path)) as container:
        src_fps = float(container.streams.video[0].average_rate or 25)
        step = src_fps / fps
        next_index = 0.0
        index = 0
        for frame in container.decode(*container.streams.video[:1], *container.streams.audio[:1]):
            if isinstance(frame, av.VideoFrame):
                if index + 1e-6 >= next_index:
                    frames.append(_fit(frame, width, height))
                    next_index += step
                index += 1
            else:
                for out in resampler.resample(frame):
                    audio.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            audio.append(out.to_ndarray().reshape(-1))
    return ClipMedia(frames, fps, np.concatenate(audio) if audio else np.zeros(0, np.int16))


def _fit(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    scale = min(width / frame.width, height / frame.height)
    w, h = int(frame.width * scale) // 2 * 2, int(frame.height * scale) // 2 * 2
    image = frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
    canvas = np.zeros((height, width, 3), np.uint8)
    y, x = (height - h) // 2, (width - w) // 2
    canvas[y:y + h, x:x + w] = image
    return canvas


def load_clips(paths: list[Path], width: int, height: int, fps: float = 15.0) -> ClipMedia:
    """Several clips one after the other (more varied content for load tests)."""
    clips = [load_clip(p, width, height, fps) for p in paths]
    audio = []
    for clip in clips:  # pad/trim each clip's audio to its video length to keep A/V aligned
        n = int(round(len(clip.frames) / fps * 48000))
        audio.append(np.pad(clip.audio[:n], (0, max(0, n - len(clip.audio)))))
    return ClipMedia([f for c in clips for f in c.frames], fps, np.concatenate(audio))


def _looped(clip: ClipMedia, seconds: float) -> tuple[list[np.ndarray], np.ndarray]:
    n_frames = int(round(seconds * clip.fps))
    frames = [clip.frames[i % len(clip.frames)] for i in range(n_frames)]
    n_samples = int(seconds * 48000)
    reps = int(np.ceil(n_samples / max(1, len(clip.audio))))
    audio = np.tile(clip.audio, reps)[:n_samples]
    return frames, audio


def make_fake_capture(clip_path: Path, out_dir: Path, seconds: float = 6.0, width: int = 480,
                      height: int = 360, fps: float = 15.0) -> tuple[Path, Path]:
    """``capture.y4m`` (I420) + ``capture.wav`` (48 kHz mono s16) for Chromium's fake devices."""
    out_dir.mkdir(parents=True, exist_ok=True)
    frames, audio = _looped(load_clip(clip_path, width, height, fps), seconds)
    y4m = out_dir / "capture.y4m"
    with av.open(str(y4m), mode="w", format="yuv4mpegpipe") as container:
        stream = container.add_stream("rawvideo", rate=Fraction(int(fps * 1000), 1000))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    wav = out_dir / "capture.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes(audio.astype("<i2").tobytes())
    return y4m, wav


def encoded_packets(clip_path: Path | list[Path], seconds: float, width: int = 320,
                    height: int = 240, fps: float = 15.0, video_bps: int = 150_000
                    ) -> Iterator[tuple[str, bytes, float, bool]]:
    """(kind, data, seconds, keyframe) of VP8 and Opus packets, in time order."""
    clip = load_clips(clip_path, width, height, fps) if isinstance(clip_path, list) else \
        load_clip(clip_path, width, height, fps)
    frames, audio = _looped(clip, seconds)
    venc = av.CodecContext.create("libvpx", "w")
    venc.width, venc.height, venc.pix_fmt = width, height, "yuv420p"
    venc.time_base = Fraction(1, 90000)
    venc.bit_rate = video_bps
    venc.gop_size = int(fps * 3)
    venc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    aenc = av.CodecContext.create("libopus", "w")
    aenc.sample_rate, aenc.layout, aenc.format = 48000, "mono", "s16"
    aenc.bit_rate = 16000
    aenc.time_base = Fraction(1, 48000)
    items: list[tuple[str, bytes, float, bool]] = []
    for i, image in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = int(i * 90000 / fps)
        frame.time_base = Fraction(1, 90000)
        for packet in venc.encode(frame):
            items.append(("video", bytes(packet), float(packet.pts * packet.time_base),
                          packet.is_keyframe))
    for start in range(0, len(audio) - 959, 960):
        frame = av.AudioFrame.from_ndarray(audio[None, start:start + 960], format="s16",
                                           layout="mono")
        frame.sample_rate = 48000
        frame.pts = start
        for packet in aenc.encode(frame):
            items.append(("audio", bytes(packet), float(packet.pts * packet.time_base), False))
    items.sort(key=lambda item: item[2])
    yield from items


def make_webm(clip_path: Path | list[Path], out_path: Path, seconds: float = 30.0, width: int = 320,
              height: int = 240, fps: float = 15.0, video_bps: int = 150_000) -> Path:
    """A VP8 + Opus WebM for ``MediaPlayer(decode=False)`` replay (pre-encoded, looped clip)."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(out_path), mode="w", format="webm") as container:
        video = container.add_stream("libvpx", rate=Fraction(int(fps), 1))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.time_base = Fraction(1, 1000)
        audio = container.add_stream("libopus", rate=48000)
        audio.layout = "mono"
        audio.time_base = Fraction(1, 1000)
        for kind, data, t, key in encoded_packets(clip_path, seconds, width, height, fps,
                                                  video_bps):
            packet = av.Packet(data)
            packet.stream = video if kind == "video" else audio
            packet.time_base = Fraction(1, 1000)
            packet.pts = packet.dts = int(round(t * 1000))
            if kind == "video":
                packet.is_keyframe = key
            else:
                packet.duration = 20
            container.mux(packet)
    return out_path
