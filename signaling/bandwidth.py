"""Per-session bandwidth policy: receive statistics in, a video bitrate ceiling out.

aiortc has no transport-wide congestion control, so Chromium adapts to the REMB we send (its
delay-based estimate) plus its own loss-based controller, which only backs off above ~10 % loss.
That is too slow and too optimistic for a 150 kbit/s uplink, so the server adds a simple AIMD
controller on what it *observes* — raw packet loss, jitter, freezes, keyframe resyncs — and
enforces the result two ways (both measured to take effect within ~1 s):

* a clamped REMB (no page code needed);
* a data-channel command the page applies with ``RTCRtpSender.setParameters`` (``maxBitrate``,
  ``scaleResolutionDownBy`` — the only way to make Chromium send fewer pixels on easy content —
  ``maxFramerate`` 15, ``degradationPreference`` ``maintain-framerate``).

The resolution never drops below 240 lines: the face analyzers need 320x240.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BitrateProfile:
    name: str
    start_bps: int
    min_bps: int
    max_bps: int
    audio_bps: int = 24_000  # Opus with in-band FEC (see signaling.sdp for why 24 kbit/s)
    min_height: int = 240
    max_framerate: int = 15


PROFILES = {
    # 126 + 24 kbit/s: 150 kbit/s total, a 90 s interview stays under 2 MB (1.7 MB), the
    # analysis still gets 320x240@15.
    "low": BitrateProfile("low", start_bps=126_000, min_bps=50_000, max_bps=126_000),
    "standard": BitrateProfile("standard", start_bps=300_000, min_bps=80_000, max_bps=600_000),
}


@dataclass(frozen=True)
class ReceiveSample:
    """What the server saw of one session's uplink over the last interval."""

    interval_s: float
    packets_expected: int  # video + audio, from RTP sequence numbers
    packets_received: int
    jitter_ms: float
    longest_freeze_s: float  # longest gap between decoded video frames
    video_fps: float
    resyncs: int  # keyframe resyncs of the robust jitter buffer
    remb_estimate_bps: int | None = None

    @property
    def loss(self) -> float:
        if self.packets_expected <= 0:
            return 0.0
        return max(0.0, 1.0 - self.packets_received / self.packets_expected)


@dataclass(frozen=True)
class BandwidthDecision:
    target_bps: int
    scale_down_by: float
    max_framerate: int
    quality: str  # "good" | "fair" | "poor" — the page's network indicator
    command_due: bool  # the page should get a new setParameters command

    def command(self) -> dict[str, object]:
        return {"type": "bitrate", "maxBitrate": self.target_bps,
                "scaleResolutionDownBy": round(self.scale_down_by, 3),
                "maxFramerate": self.max_framerate,
                "degradationPreference": "maintain-framerate", "quality": self.quality}


# AIMD constants: multiplicative decrease on congestion, ~8 %/s probing when clean, and a hold
# after a decrease so one bad second does not start an oscillation.
DECREASE = 0.7
INCREASE_PER_S = 0.08
HOLD_AFTER_DECREASE_S = 4.0
CONGESTED_LOSS = 0.10
LOSSY = 0.03
CONGESTED_JITTER_MS = 80.0
FREEZE_S = 0.5
RECOMMAND_CHANGE = 0.1  # resend the page command when the target moved by 10 %


class BandwidthPolicy:
    def __init__(self, profile: BitrateProfile, capture_height: int = 480) -> None:
        self.profile = profile
        self.capture_height = capture_height
        self.target_bps = profile.start_bps
        self._last_decrease = -1e9
        self._now = 0.0
        self._commanded: tuple[int, float] | None = None
        self.last = self._decide("good")

    def set_capture_height(self, height: int) -> None:
        if height > 0:
            self.capture_height = height

    def _scale_for(self, target: int) -> float:
        # bits per pixel at 15 fps: ~0.1 is acceptable for VP8 talking heads
        if target >= 350_000:
            height = self.capture_height
        elif target >= 180_000:
            height = 360
        else:
            height = self.profile.min_height
        height = max(self.profile.min_height, min(height, self.capture_height))
        return max(1.0, self.capture_height / height)

    def _decide(self, quality: str) -> BandwidthDecision:
        scale = self._scale_for(self.target_bps)
        due = self._commanded is None or scale != self._commanded[1] or abs(
            self.target_bps - self._commanded[0]) > RECOMMAND_CHANGE * self._commanded[0]
        if due:
            self._commanded = (self.target_bps, scale)
        return BandwidthDecision(self.target_bps, scale, self.profile.max_framerate, quality, due)

    def update(self, sample: ReceiveSample) -> BandwidthDecision:
        self._now += sample.interval_s
        loss = sample.loss
        congested = (loss >= CONGESTED_LOSS or sample.longest_freeze_s >= FREEZE_S
                     or sample.resyncs > 0 or sample.jitter_ms >= CONGESTED_JITTER_MS)
        p = self.profile
        if congested:
            if self._now - self._last_decrease >= 1.0:  # at most one cut per second
                self.target_bps = max(p.min_bps, int(self.target_bps * DECREASE))
                self._last_decrease = self._now
            quality = "poor"
        elif loss >= LOSSY:
            quality = "fair"  # random loss: hold the rate (NACK/FEC cope), do not probe
        else:
            if self._now - self._last_decrease >= HOLD_AFTER_DECREASE_S:
                step = int(self.target_bps * INCREASE_PER_S * sample.interval_s)
                self.target_bps = min(p.max_bps, self.target_bps + max(step, 1_000))
            quality = "good" if self.target_bps >= 0.6 * p.max_bps else "fair"
        self.last = self._decide(quality)
        return self.last
