"""Always-consume track readers: decoded WebRTC media -> the VerificationSession.

Every received track is read continuously (aiortc queues frames without bound for a track
nobody reads). Video goes through a latest-frame mailbox: the analysis feeder takes the newest
frame at ``analysis_fps`` and converts it to RGB in a worker thread, so colour conversion never
runs on the event loop and a slow pipeline drops frames (counted) instead of building latency.
Audio arrives already at 16 kHz mono s16 when the receive path decodes Opus itself
(:class:`signaling.aiortc_patches.FecOpusDecoder`) and is only scaled to float; anything else
(aiortc's own 48 kHz stereo decoder, when libopus is unavailable) is resampled. Either way it is
written to the session's ring buffers.

Timestamps: each track is anchored to the interview's media clock at the arrival of its first
frame and advances with its RTP clock after that, so gaps (loss, freezes, reconnects) stay gaps
and audio, video, evidence and the recording share one timeline. A jump in audio timestamps with
no packet loss behind it is Opus DTX (the sender stopped sending in silence): it is filled with
silence rather than reported as lost audio.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from signaling.analysis_rate import SessionRate
from verification.pipeline.mailbox import LatestMailbox
from verification.pipeline.session import VerificationSession
from verification.types import AUDIO_SAMPLE_RATE, AudioChunk, VideoFrame

log = logging.getLogger(__name__)

MAX_ANALYSIS_WIDTH = 640
FREEZE_LOG_S = 0.25  # video gaps at least this long are logged (bounded) for diagnostics
MAX_DTX_FILL_S = 10.0
_LOSS_MARKS = 256


class MediaClock:
    """The interview's media time: seconds since its media started (monotonic), plus the wall
    clock at that instant for the recording's metadata."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.wall0 = time.time()

    def now(self) -> float:
        return time.monotonic() - self.t0


class TrackClock:
    """Maps one track's RTP timestamps (as aiortc maps them: 0 at its first frame) to media time."""

    def __init__(self, media: MediaClock, clock_rate: int) -> None:
        self.media = media
        self.clock_rate = clock_rate
        self.anchor: float | None = None
        self._after_loss: deque[int] = deque(maxlen=_LOSS_MARKS)

    def anchor_at(self, rtp_timestamp: int, arrival: float) -> None:
        if self.anchor is None:
            self.anchor = arrival - self.media.t0 - rtp_timestamp / self.clock_rate

    def seconds(self, rtp_timestamp: int) -> float:
        if self.anchor is None:
            self.anchor_at(rtp_timestamp, time.monotonic())
        return self.anchor + rtp_timestamp / self.clock_rate

    def mark_loss(self, rtp_timestamp: int) -> None:
        """The frame at this timestamp came right after packets that never arrived."""
        self._after_loss.append(rtp_timestamp)

    def follows_loss(self, rtp_timestamp: int) -> bool:
        return rtp_timestamp in self._after_loss


@dataclass(frozen=True)
class VideoIngestStats:
    frames: int
    analysed: int
    dropped: int  # decoded frames the analysis feeder skipped (cadence or busy)
    longest_gap_s: float
    width: int
    height: int


class VideoIngest:
    def __init__(self, track: MediaStreamTrack, clock: TrackClock, session: VerificationSession,
                 analysis_fps: float, rate: SessionRate | None = None) -> None:
        self.track = track
        self.clock = clock
        self.session = session
        self._fixed_interval = 1.0 / analysis_fps
        self.rate = rate  # set by the load-aware analysis-rate controller (None: fixed rate)
        self._mailbox: LatestMailbox[tuple[av.VideoFrame, float]] = LatestMailbox()
        self.frames = 0
        self.analysed = 0
        self.size = (0, 0)
        self.last_arrival: float | None = None
        self.longest_gap_s = 0.0
        self._window_gap_s = 0.0
        self._window_frames = 0
        self.latest_rgb: np.ndarray | None = None
        self.latest_luma: float | None = None
        self._index = 0
        self.freezes: deque[tuple[float, float]] = deque(maxlen=200)  # (media end, seconds)

    async def read(self) -> None:
        """Drain the track until it ends; never blocks on analysis."""
        try:
            while True:
                frame = await self.track.recv()
                now = time.monotonic()
                if self.last_arrival is not None:
                    gap = now - self.last_arrival
                    self.longest_gap_s = max(self.longest_gap_s, gap)
                    if gap >= FREEZE_LOG_S:
                        self.freezes.append((now - self.clock.media.t0, gap))
                    self._window_gap_s = max(self._window_gap_s, gap)
                self.last_arrival = now
                self.frames += 1
                self._window_frames += 1
                self.size = (frame.width, frame.height)
                pts = self.clock.seconds(frame.pts or 0)
                self._mailbox.offer((frame, pts))
        except MediaStreamError:
            pass
        finally:
            self._mailbox.close()

    @property
    def interval(self) -> float:
        """Seconds between analysed frames now (the controller may change it every second)."""
        return self.rate.interval if self.rate is not None else self._fixed_interval

    async def feed(self) -> None:
        """Hand the newest frame to the session every ``interval`` seconds (RGB, off-loop), and
        only once the analyzers are done with the previous one: a frame is picked when it can
        be analysed at once, so a busy server analyses fewer frames, not older ones."""
        next_due = 0.0
        while (item := await self._mailbox.get()) is not None:
            wait = next_due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            await self.session.video_ready()
            if not self._mailbox.empty():
                item = await self._mailbox.get() or item  # a newer frame arrived meanwhile
            next_due = time.monotonic() + self.interval
            frame, pts = item
            image, luma = await asyncio.to_thread(_to_rgb, frame)
            self.latest_rgb, self.latest_luma = image, luma
            self.session.offer_video(VideoFrame(image, pts=pts, index=self._index))
            self._index += 1
            self.analysed += 1

    def window(self) -> tuple[int, float]:
        """(frames, longest gap) since the previous call: the bandwidth policy's sample."""
        now = time.monotonic()
        gap = self._window_gap_s
        if self.last_arrival is not None:
            gap = max(gap, now - self.last_arrival)  # an ongoing freeze counts too
        frames, self._window_frames, self._window_gap_s = self._window_frames, 0, 0.0
        return frames, gap

    @property
    def stats(self) -> VideoIngestStats:
        return VideoIngestStats(self.frames, self.analysed, self._mailbox.stats.dropped,
                                self.longest_gap_s, *self.size)


def _to_rgb(frame: av.VideoFrame) -> tuple[np.ndarray, float]:
    width, height = frame.width, frame.height
    if width > MAX_ANALYSIS_WIDTH:
        height = int(round(height * MAX_ANALYSIS_WIDTH / width)) // 2 * 2
        width = MAX_ANALYSIS_WIDTH
        frame = frame.reformat(width=width, height=height)
    image = frame.to_ndarray(format="rgb24")
    sample = image[::8, ::8].astype(np.float32)  # Rec. 601 luma of a sparse grid: brightness
    luma = float((sample @ np.array([0.299, 0.587, 0.114], np.float32)).mean())
    return image, luma


@dataclass(frozen=True)
class AudioIngestStats:
    frames: int
    dtx_filled_s: float
    lost_s: float


class AudioIngest:
    def __init__(self, track: MediaStreamTrack, clock: TrackClock,
                 session: VerificationSession) -> None:
        self.track = track
        self.clock = clock
        self.session = session
        self.frames = 0
        self.last_arrival: float | None = None
        self.dtx_filled_s = 0.0
        self.lost_s = 0.0
        self.rms = 0.0
        # channels kept and averaged afterwards: FFmpeg's own mono down-mix adds +3 dB to
        # centred stereo (as verification.voice.frontend explains), the analysers want the
        # level that was sent
        self._resampler = av.AudioResampler(format="fltp", rate=AUDIO_SAMPLE_RATE)
        self._next_pts: float | None = None  # media time of the next resampled sample

    async def read(self) -> None:
        try:
            while True:
                frame = await self.track.recv()
                self.last_arrival = time.monotonic()
                self.frames += 1
                self._ingest(frame)
        except MediaStreamError:
            pass

    def _ingest(self, frame: av.AudioFrame) -> None:
        rtp = frame.pts or 0
        start = self.clock.seconds(rtp)
        if self._next_pts is not None:
            gap = start - self._next_pts
            if gap > 0.005:
                if self.clock.follows_loss(rtp):
                    self.lost_s += gap  # the ring buffer marks it as lost audio
                else:
                    fill = min(gap, MAX_DTX_FILL_S)  # DTX: the sender chose silence
                    self.session.offer_audio(AudioChunk(
                        np.zeros(int(round(fill * AUDIO_SAMPLE_RATE)), np.float32),
                        pts=self._next_pts))
                    self.dtx_filled_s += fill
                self._next_pts = start
            elif gap < -0.05:
                self._next_pts = start  # timeline restarted (should not happen within a track)
        else:
            self._next_pts = start
        for samples in self._to_analysis_rate(frame):
            if len(samples) == 0:
                continue
            level = float(np.sqrt(np.dot(samples, samples) / len(samples)))
            self.rms = 0.9 * self.rms + 0.1 * level
            self.session.offer_audio(AudioChunk(samples, pts=self._next_pts))
            self._next_pts += len(samples) / AUDIO_SAMPLE_RATE

    def _to_analysis_rate(self, frame: av.AudioFrame) -> list[np.ndarray]:
        """16 kHz mono float32 samples of one frame (new arrays: the session keeps them).

        Frames that already are 16 kHz mono s16 (the receive path's own Opus decoder) are only
        scaled, as libswresample would scale them; the resampler is for anything else."""
        if frame.sample_rate == AUDIO_SAMPLE_RATE and frame.format.name == "s16" \
                and frame.layout.name == "mono":
            return [np.multiply(frame.to_ndarray().reshape(-1), 1 / 32768, dtype=np.float32)]
        return [out.to_ndarray().mean(axis=0, dtype=np.float32)
                for out in self._resampler.resample(frame)]

    @property
    def stats(self) -> AudioIngestStats:
        return AudioIngestStats(self.frames, self.dtx_filled_s, self.lost_s)
