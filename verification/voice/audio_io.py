"""Decode an audio file to the one format every voice model here takes: 16 kHz mono float32.

PyAV (FFmpeg) does the decoding and resampling (channels are averaged here), so FLAC, WAV,
MP3, Opus and the audio track of a video file all work, and no Python audio stack (librosa,
soundfile, torch) is needed at run time.
"""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np

from verification.errors import UnreadableMediaError

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000


class UnreadableAudioError(UnreadableMediaError, ValueError):
    """The file is missing, is not media, or carries no decodable audio stream."""


def read_audio_16k(path: str | Path, max_seconds: float | None = None) -> np.ndarray:
    """Return the first audio stream of ``path`` as 16 kHz mono float32 (nominally in [-1, 1]).

    ``max_seconds`` stops decoding after that much audio (a bound on memory and time for
    arbitrary uploads).

    Raises :class:`UnreadableAudioError` (a ``ValueError``) on any decoding failure, so callers
    can reject bad uploads without catching FFmpeg's own exception types.
    """
    path = Path(path)
    try:
        container = av.open(str(path))
    except (OSError, av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise UnreadableAudioError(f"cannot open {path}: {exc}") from exc
    try:
        if not container.streams.audio:
            raise UnreadableAudioError(f"{path} has no audio stream")
        stream = container.streams.audio[0]
        # Resample with the channel layout kept (planar float), then average the channels:
        # FFmpeg's own mono down-mix scales a centred stereo signal by +3 dB and can exceed 1.0.
        resampler = av.AudioResampler(format="fltp", rate=SAMPLE_RATE)
        pieces: list[np.ndarray] = []
        limit = None if max_seconds is None else int(max_seconds * SAMPLE_RATE)
        decoded = 0
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                pieces.append(out.to_ndarray().mean(axis=0))
                decoded += pieces[-1].size
            if limit is not None and decoded >= limit:
                break
        for out in resampler.resample(None):  # flush the resampler's delay line
            pieces.append(out.to_ndarray().mean(axis=0))
    except av.FFmpegError as exc:
        raise UnreadableAudioError(f"cannot decode audio in {path}: {exc}") from exc
    finally:
        container.close()
    if not pieces:
        raise UnreadableAudioError(f"{path} decoded to no audio samples")
    wav = np.concatenate(pieces).astype(np.float32, copy=False)
    if max_seconds is not None:
        wav = wav[: int(max_seconds * SAMPLE_RATE)]
    logger.debug("decoded %s: %d samples at %d Hz", path, wav.size, SAMPLE_RATE)
    return wav
