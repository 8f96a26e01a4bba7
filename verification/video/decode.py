"""Decode any recording PyAV reads into timestamped frames and 16 kHz mono audio chunks.

Items are yielded in media-time order (video and audio interleaved as demuxed) so the offline
runner drives a session exactly as a live interview would, with the same timestamps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from verification.errors import UnreadableMediaError
from verification.types import AUDIO_SAMPLE_RATE, AudioChunk, VideoFrame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordingInfo:
    path: Path
    duration_s: float | None
    has_video: bool
    has_audio: bool
    width: int | None
    height: int | None
    fps: float | None


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise UnreadableMediaError(f"{path}: no such file")
    try:
        return av.open(str(path), mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as err:
        raise UnreadableMediaError(f"{path}: not a readable recording ({err})") from None


def probe(path: str | Path) -> RecordingInfo:
    path = Path(path)
    with _open(path) as container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        duration = container.duration / 1_000_000 if container.duration else None
        rate = float(video.average_rate) if video is not None and video.average_rate else None
        return RecordingInfo(path, duration, video is not None, audio is not None,
                             video.width if video else None, video.height if video else None, rate)


def _seconds(pts: int | None, time_base: Fraction | None, fallback: float) -> float:
    if pts is None or time_base is None:
        return fallback
    return float(pts * time_base)


def iter_media(path: str | Path, video_fps: float | None = None) -> Iterator[VideoFrame | AudioChunk]:
    """Yield frames (optionally subsampled to ``video_fps``) and audio, in demux order.

    Timestamps are shifted so the first media item of the file is at 0 s.
    """
    path = Path(path)
    container = _open(path)
    try:
        streams = [s for s in (container.streams.video[:1] + container.streams.audio[:1])]
        if not streams:
            raise UnreadableMediaError(f"{path}: no audio or video stream")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_SAMPLE_RATE)
        origin: float | None = None
        next_frame_time = 0.0
        frame_index = 0
        audio_clock: float | None = None
        decoded_any = False
        for packet in container.demux(*streams):
            try:
                frames = packet.decode()
            except av.FFmpegError as err:
                log.warning("%s: skipping a corrupt packet (%s)", path, err)
                continue
            for frame in frames:
                t = _seconds(frame.pts, frame.time_base, fallback=audio_clock or next_frame_time)
                if origin is None:
                    origin = t
                t -= origin
                decoded_any = True
                if isinstance(frame, av.VideoFrame):
                    index = frame_index
                    frame_index += 1
                    if video_fps and t + 1e-6 < next_frame_time:
                        continue
                    next_frame_time = t + (1.0 / video_fps if video_fps else 0.0)
                    yield VideoFrame(frame.to_ndarray(format="rgb24"), pts=t, index=index)
                elif isinstance(frame, av.AudioFrame):
                    if audio_clock is None:
                        audio_clock = t
                    for out in resampler.resample(frame):
                        samples = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                        yield AudioChunk(samples.copy(), pts=audio_clock)
                        audio_clock += len(samples) / AUDIO_SAMPLE_RATE
        if audio_clock is not None:
            for out in resampler.resample(None):
                samples = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                yield AudioChunk(samples.copy(), pts=audio_clock)
                audio_clock += len(samples) / AUDIO_SAMPLE_RATE
        if not decoded_any:
            raise UnreadableMediaError(f"{path}: no decodable frames")
    except av.FFmpegError as err:
        raise UnreadableMediaError(f"{path}: decoding failed ({err})") from None
    finally:
        container.close()
