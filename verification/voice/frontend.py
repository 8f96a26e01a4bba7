"""Audio front end: any sample rate and channel layout -> 16 kHz mono float32 chunks, gaps kept.

Why: browsers send Opus at 48 kHz (mono or stereo), uploads come at 8-48 kHz with any layout,
and every voice model here takes 16 kHz mono. Resampling is done by FFmpeg's libswresample
(through PyAV), a proper band-limited resampler, never by dropping samples. Channels are
averaged after resampling (FFmpeg's own mono down-mix adds +3 dB to a centred stereo signal and
can clip).

Timestamps: each output chunk carries the media time of its first sample. The output clock runs
on from the first input timestamp; when an input arrives later than the audio received so far
accounts for (a lost packet, a muted track), the resampler is flushed and the clock jumps to the
new timestamp, so the ring buffer downstream sees the hole and marks it as a gap. A hole is never
papered over with stretched or invented audio. Small jitter (under ``gap_tolerance_s``) is
absorbed. A change of input format (renegotiated codec) starts a new resampler the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import av
import numpy as np

from verification.types import AUDIO_SAMPLE_RATE, AudioChunk

log = logging.getLogger(__name__)

_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1",
            8: "7.1"}
_INT_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0,
              np.dtype(np.uint8): 128.0}


@dataclass(frozen=True)
class FrontEndStats:
    input_seconds: float
    output_seconds: float
    discontinuities: int
    format_changes: int


def to_planar_float(samples: np.ndarray, channels_last: bool = True) -> np.ndarray:
    """Integer or float PCM, ``(n,)`` or ``(n, channels)`` -> planar float32 ``(channels, n)``.

    Integer PCM is scaled to [-1, 1) (uint8 is offset binary, as in WAV).
    """
    x = np.asarray(samples)
    if x.ndim == 1:
        x = x[None, :]
    elif x.ndim == 2:
        x = x.T if channels_last else x
    else:
        raise ValueError(f"expected (n,) or (n, channels) samples, got shape {x.shape}")
    if x.shape[0] not in _LAYOUTS:
        raise ValueError(f"unsupported channel count {x.shape[0]}")
    if x.dtype in _INT_SCALE:
        offset = 128.0 if x.dtype == np.uint8 else 0.0
        x = (x.astype(np.float32) - offset) / np.float32(_INT_SCALE[x.dtype])
    elif np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32, copy=False)
    else:
        raise ValueError(f"unsupported sample type {x.dtype}")
    return np.ascontiguousarray(x)


class AudioFrontEnd:
    """Per-stream converter; not thread-safe (one per incoming audio track)."""

    def __init__(self, gap_tolerance_s: float = 0.02) -> None:
        self.gap_tolerance_s = gap_tolerance_s
        self._resampler: av.AudioResampler | None = None
        self._format: tuple[int, int] | None = None  # (rate, channels)
        self._out_clock: float | None = None  # media time of the next output sample
        self._in_clock: float | None = None  # media time the next input should start at
        self._in_samples = 0.0
        self._out_samples = 0
        self.discontinuities = 0
        self.format_changes = 0

    # -- public ----------------------------------------------------------------------------
    def push_frame(self, frame: av.AudioFrame, pts: float | None = None) -> list[AudioChunk]:
        """A decoded PyAV/aiortc frame. ``pts`` (media seconds) defaults to ``frame.time``."""
        if pts is None:
            pts = frame.time if frame.time is not None else self._in_clock or 0.0
        array = frame.to_ndarray()
        channels = frame.layout.nb_channels
        # Planar formats decode as (channels, n), packed ones as (1, n * channels).
        interleaved = array.T if frame.format.is_planar else array.reshape(-1, channels)
        return self.push(interleaved, frame.sample_rate, pts)

    def push(self, samples: np.ndarray, sample_rate: int, pts: float) -> list[AudioChunk]:
        """PCM samples at any rate, ``(n,)`` or ``(n, channels)``, first one at ``pts`` s."""
        if sample_rate <= 0:
            raise ValueError(f"invalid sample rate {sample_rate}")
        x = to_planar_float(samples)
        n = x.shape[1]
        if n == 0:
            return []
        out: list[AudioChunk] = []
        fmt = (int(sample_rate), int(x.shape[0]))
        if self._format is not None and fmt != self._format:
            out.extend(self._flush())
            self.format_changes += 1
            self._resampler = None
        if self._in_clock is not None and pts > self._in_clock + self.gap_tolerance_s:
            out.extend(self._flush())
            self.discontinuities += 1
            self._out_clock = pts
        if self._out_clock is None:
            self._out_clock = pts
        self._format = fmt
        self._in_clock = pts + n / sample_rate
        self._in_samples += n / sample_rate
        if fmt == (AUDIO_SAMPLE_RATE, 1) and self._resampler is None:
            out.append(self._emit(x[0]))  # already 16 kHz mono: no resampler, no delay
            return out
        if self._resampler is None:
            self._resampler = av.AudioResampler(format="fltp", rate=AUDIO_SAMPLE_RATE)
        frame = av.AudioFrame.from_ndarray(x, format="fltp", layout=_LAYOUTS[fmt[1]])
        frame.sample_rate = fmt[0]
        for resampled in self._resampler.resample(frame):
            out.append(self._emit(resampled.to_ndarray().mean(axis=0)))
        return [c for c in out if len(c.samples)]

    def flush(self) -> list[AudioChunk]:
        """End of stream: emit what the resampler still holds."""
        return self._flush()

    @property
    def stats(self) -> FrontEndStats:
        return FrontEndStats(self._in_samples, self._out_samples / AUDIO_SAMPLE_RATE,
                             self.discontinuities, self.format_changes)

    # -- internals -------------------------------------------------------------------------
    def _emit(self, mono: np.ndarray) -> AudioChunk:
        assert self._out_clock is not None
        samples = np.ascontiguousarray(mono, dtype=np.float32)
        chunk = AudioChunk(samples, pts=self._out_clock)
        self._out_clock += len(samples) / AUDIO_SAMPLE_RATE
        self._out_samples += len(samples)
        return chunk

    def _flush(self) -> list[AudioChunk]:
        if self._resampler is None:
            return []
        out = [self._emit(f.to_ndarray().mean(axis=0)) for f in self._resampler.resample(None)]
        # A flushed libswresample context cannot be reused; the next input opens a new one.
        self._resampler = None
        return [c for c in out if len(c.samples)]
