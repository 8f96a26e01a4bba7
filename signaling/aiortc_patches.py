"""Loss-robust receive for aiortc 1.16.0: the one module that touches aiortc's private internals.

Why this exists (measured in ``shared/notes/webrtc.md``): stock aiortc froze video for ~20 s
behind a 250 kbit/s bottleneck and turned 5 % packet loss into ~24 % lost audio frames.

* Video: a packet that is NACKed once and never retransmitted blocks the 512-packet jitter
  buffer until it overflows; only then is a PLI sent, and the stale backlog is replayed.
* Audio: the 16-packet buffer never skips a hole; once one forms, it releases one frame per
  arriving packet and later overflows throw away packets that *did* arrive.

:class:`RobustJitterBuffer` replaces the buffer (pure logic, unit-tested with synthetic RTP):

* frames are emitted as soon as they are complete (video: marker bit; audio: every packet), and
  *every* ready frame is drained, not one per arriving packet;
* an audio hole is skipped once ``audio_skip_packets`` later packets wait or it is older than
  ``audio_skip_s`` (the lost 20 ms becomes a gap, the audio behind it is kept);
* missing video packets are re-NACKed every ``renack_interval_s`` (bounded per packet);
* when the head of the video buffer has been blocked for ``video_stall_s``, it jumps to the next
  buffered keyframe, or flushes and asks for one (PLI, repeated every ``pli_interval_s`` while
  waiting); frames that reference a lost picture are never handed to the decoder.

:class:`RobustReceive` installs the buffer into one ``RTCRtpReceiver`` and is also the single
hook point for the encoded-frame tap (passthrough recording), the REMB clamp (bandwidth policy)
and bounded decoder queues. aiortc is pinned (``aiortc==1.16.0``) because the name-mangled
attributes used here are private; :func:`check_compatible` fails loudly if they move. The pure
buffer is written so it can be offered upstream as a replacement for ``aiortc.jitterbuffer``.

Opus in-band FEC: when an audio packet is given up on and the packet after it carries LBRR data
(the answer asks the browser for ``useinbandfec=1``), :class:`RobustReceive` rebuilds the lost
20 ms first (a :class:`RecoveredFrame`, decoded by :class:`FecOpusDecoder` with libopus
``decode_fec=1`` via :mod:`signaling.opus_codec`). Lost frames that FEC cannot rebuild are *not*
concealed: they stay gaps, which the ingest marks as lost audio, so no analyzer ever judges
extrapolated (PLC) audio as if it had been spoken. Opus is decoded inline on the event loop,
straight at 16 kHz mono (the analysers' format): cheaper than aiortc's 48 kHz stereo decode, the
per-frame resample after it and the thread round trip per 20 ms frame. Video (and audio when
libopus is unavailable or FEC is tuned off) stays on aiortc's decoder thread.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc.codecs.base import Decoder
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtp import RtpPacket

from signaling import opus_codec

log = logging.getLogger(__name__)

SUPPORTED_AIORTC = "1.16.0"
_PRIVATE = "_RTCRtpReceiver__"
_REQUIRED_ATTRIBUTES = ("jitter_buffer", "codecs", "decoder_queue", "decoder_thread",
                        "timestamp_mapper", "nack_generator", "remote_bitrate_estimator",
                        "rtcp_ssrc", "remote_streams")


@dataclass(frozen=True)
class ReceiveTuning:
    """Knobs of the robust receive path; defaults measured on loopback with Chromium."""

    audio_skip_packets: int = 3  # skip an audio hole once this many later packets wait
    audio_skip_s: float = 0.06  # ... or once it is this old
    video_stall_s: float = 0.35  # head-of-line blocking before jumping / asking for a keyframe
    renack_interval_s: float = 0.1
    max_nacks_per_packet: int = 8
    pli_interval_s: float = 0.4
    video_capacity: int = 512  # packets held at most (memory bound)
    audio_capacity: int = 64
    # frames waiting for the decoder thread (inline-decoded Opus: for the track's reader)
    max_decoder_backlog: int = 30
    opus_fec: bool = True  # rebuild a lost Opus frame from the next packet's LBRR data

    def capacity(self, kind: str) -> int:
        return self.video_capacity if kind == "video" else self.audio_capacity


# -- keyframe / frame-start detection per codec ---------------------------------------------

def vp8_frame_start(payload: bytes) -> tuple[bool, bool]:
    """(starts a frame, starts a keyframe) for one VP8 RTP payload (RFC 7741)."""
    try:
        descriptor, data = VpxPayloadDescriptor.parse(payload)
    except ValueError:
        return False, False
    start = bool(descriptor.partition_start) and descriptor.partition_id == 0
    return start, start and len(data) > 0 and (data[0] & 0x01) == 0


def h264_frame_start(payload: bytes) -> tuple[bool, bool]:
    """(starts a NAL unit, carries SPS or IDR) for one H.264 RTP payload (RFC 6184)."""
    if not payload:
        return False, False
    nal_type = payload[0] & 0x1F
    if nal_type == 24:  # STAP-A: look at every aggregated NAL unit
        pos, types = 1, set()
        while pos + 2 < len(payload):
            size = int.from_bytes(payload[pos:pos + 2], "big")
            if size == 0 or pos + 2 + size > len(payload):
                break
            types.add(payload[pos + 2] & 0x1F)
            pos += 2 + size
        return True, bool(types & {5, 7})
    if nal_type == 28:  # FU-A
        if len(payload) < 2:
            return False, False
        start = bool(payload[1] & 0x80)
        return start, start and (payload[1] & 0x1F) in (5, 7)
    return True, nal_type in (5, 7)


def frame_start_probe(codec_name: str) -> Callable[[bytes], tuple[bool, bool]]:
    name = codec_name.upper()
    if name == "VP8":
        return vp8_frame_start
    if name == "H264":
        return h264_frame_start
    return lambda payload: (True, True)  # audio: every packet is a self-contained frame


# -- the buffer -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReadyFrame:
    """A complete encoded frame, in order, ready for the decoder (and the recorder)."""

    frame: JitterFrame
    payload_type: int
    keyframe: bool
    first_seq: int
    after_loss: bool = False  # packets right before this frame were given up on


@dataclass
class BufferOutput:
    frames: list[ReadyFrame] = field(default_factory=list)
    nack: list[int] = field(default_factory=list)  # 16-bit sequence numbers to (re-)NACK
    pli: bool = False
    given_up: list[int] = field(default_factory=list)  # 16-bit seqs that will never be waited for


@dataclass(frozen=True)
class BufferStats:
    packets: int
    duplicates: int
    late: int
    frames: int
    packets_lost: int  # never arrived (given up on)
    packets_discarded: int  # arrived, but thrown away to resynchronise
    resyncs: int
    nacks: int
    plis: int


class RobustJitterBuffer:
    """Reassembles RTP packets into frames without ever holding a hole for long.

    Sequence numbers are extended to integers (no 16-bit wrap inside the logic). Call
    :meth:`push` for every packet and :meth:`tick` periodically while :attr:`needs_tick`.
    """

    def __init__(self, kind: str, probe: Callable[[bytes], tuple[bool, bool]],
                 tuning: ReceiveTuning | None = None) -> None:
        self.kind = kind
        self.tuning = tuning or ReceiveTuning()
        self._video = kind == "video"
        self._probe = probe
        self._capacity = self.tuning.capacity(kind)
        self._packets: dict[int, RtpPacket] = {}
        self._starts: dict[int, tuple[bool, bool]] = {}
        self._next: int | None = None  # extended seq of the next packet to emit
        self._highest: int | None = None
        self._missing: dict[int, float] = {}  # ext seq -> when it was first missed
        self._nack_sent: dict[int, tuple[float, int]] = {}  # ext seq -> (last NACK, count)
        self._awaiting_keyframe_since: float | None = None
        self._last_pli = -1e9
        self._after_loss = False
        self._counts = dict(packets=0, duplicates=0, late=0, frames=0, packets_lost=0,
                            packets_discarded=0, resyncs=0, nacks=0, plis=0)

    # -- public ------------------------------------------------------------------------------
    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def stats(self) -> BufferStats:
        return BufferStats(**self._counts)

    @property
    def needs_tick(self) -> bool:
        """True while something time-based can happen (a hole, or a keyframe being awaited)."""
        return bool(self._missing) or self._awaiting_keyframe_since is not None

    def push(self, packet: RtpPacket, now: float) -> BufferOutput:
        out = BufferOutput()
        ext = self._extend(packet.sequence_number)
        if self._next is not None and ext < self._next:
            self._counts["late"] += 1
            return out
        if ext in self._packets:
            self._counts["duplicates"] += 1
            return out
        self._counts["packets"] += 1
        if self._highest is None or ext > self._highest:
            if self._highest is not None:
                for seq in range(self._highest + 1, ext):
                    self._missing[seq] = now
                    self._nack_sent[seq] = (now, 1)  # aiortc's NackGenerator NACKs at once
            self._highest = ext
        self._missing.pop(ext, None)
        self._nack_sent.pop(ext, None)
        self._packets[ext] = packet
        self._starts[ext] = self._probe(packet.payload)
        if self._next is None and not self._video:
            self._next = ext
        if self._next is not None and self._highest - self._next >= self._capacity:
            self._overflow(now, out)
        elif self._next is None and self._highest - min(self._packets) >= self._capacity:
            # waiting for a keyframe that does not come: keep only the newest packets
            self._drop_before(self._highest - self._capacity + 1, out)
        self._drain(now, out)
        self._check_stall(now, out)
        return out

    def tick(self, now: float) -> BufferOutput:
        out = BufferOutput()
        self._check_stall(now, out)
        self._drain(now, out)
        if self._video:
            for ext in sorted(self._missing):
                last, count = self._nack_sent.get(ext, (self._missing[ext], 1))
                if count < self.tuning.max_nacks_per_packet and \
                        now - last >= self.tuning.renack_interval_s:
                    self._nack_sent[ext] = (now, count + 1)
                    out.nack.append(ext & 0xFFFF)
            self._counts["nacks"] += len(out.nack)
        return out

    # -- internals ---------------------------------------------------------------------------
    def _extend(self, seq: int) -> int:
        if self._highest is None:
            return seq + (1 << 16)  # room below the first packet for reordered earlier ones
        delta = (seq - (self._highest & 0xFFFF)) & 0xFFFF
        if delta >= 0x8000:
            delta -= 0x10000
        return self._highest + delta

    def _first_missing(self) -> int | None:
        # Invariant: every hole at or after the head is in _missing, and nothing before it is.
        if self._next is None or not self._missing:
            return None
        return min(self._missing)

    def restart_from_keyframe(self, now: float) -> BufferOutput:
        """Stop emitting until the next keyframe (the caller had to drop a frame)."""
        out = BufferOutput()
        if self._video:
            self._next = None
            self._request_keyframe(now, out)
        return out

    def _drop_before(self, ext: int, out: BufferOutput) -> None:
        """Forget everything older than ``ext``: packets, holes and pending NACKs."""
        for seq in [s for s in self._packets if s < ext]:
            del self._packets[seq]
            self._starts.pop(seq, None)
            self._counts["packets_discarded"] += 1
        for seq in [s for s in self._missing if s < ext]:
            del self._missing[seq]
            self._nack_sent.pop(seq, None)
            out.given_up.append(seq & 0xFFFF)
            self._counts["packets_lost"] += 1
            self._after_loss = True

    def _seek_keyframe(self, after: int | None, now: float, out: BufferOutput) -> bool:
        """Move the head to the first buffered keyframe start (after ``after``)."""
        candidates = sorted(s for s, (start, key) in self._starts.items()
                            if key and (after is None or s > after))
        for ext in candidates:
            # a keyframe starts at the first packet of its timestamp
            ts = self._packets[ext].timestamp
            prev = self._packets.get(ext - 1)
            if prev is not None and prev.timestamp == ts:
                continue
            self._drop_before(ext, out)
            self._next = ext
            self._awaiting_keyframe_since = None
            return True
        return False

    def _request_keyframe(self, now: float, out: BufferOutput) -> None:
        if self._awaiting_keyframe_since is None:
            self._awaiting_keyframe_since = now
        if now - self._last_pli >= self.tuning.pli_interval_s:
            self._last_pli = now
            out.pli = True
            self._counts["plis"] += 1

    def _resync_video(self, now: float, out: BufferOutput) -> None:
        """Give up on the blocked head: jump to a buffered keyframe, or flush and ask for one."""
        self._counts["resyncs"] += 1
        head = self._next
        if not self._seek_keyframe(head, now, out):
            if self._highest is not None:
                self._drop_before(self._highest + 1, out)
            self._next = None
            self._request_keyframe(now, out)

    def _overflow(self, now: float, out: BufferOutput) -> None:
        if self._video:
            self._resync_video(now, out)
        else:
            self._drop_before(self._highest - self._capacity + 1, out)
            self._next = min(self._packets) if self._packets else None

    def _check_stall(self, now: float, out: BufferOutput) -> None:
        if self._video and self._next is None:
            if self._packets and self._seek_keyframe(None, now, out):
                self._drain(now, out)
            elif self._packets or self._awaiting_keyframe_since is not None:
                self._request_keyframe(now, out)
            return
        hole = self._first_missing()
        if hole is None:
            return
        age = now - self._missing.get(hole, now)
        if self._video:
            if age >= self.tuning.video_stall_s:
                self._resync_video(now, out)
                self._drain(now, out)
        else:
            waiting = sum(1 for s in self._packets if s > hole)
            if waiting >= self.tuning.audio_skip_packets or (
                    waiting and age >= self.tuning.audio_skip_s):
                nxt = min(s for s in self._packets if s > hole)
                self._drop_before(nxt, out)
                self._next = nxt
                self._drain(now, out)

    def _drain(self, now: float, out: BufferOutput) -> None:
        while self._next is not None:
            frame = self._take_frame()
            if frame is None:
                return
            out.frames.append(frame)
            self._counts["frames"] += 1

    def _take_frame(self) -> ReadyFrame | None:
        head = self._next
        first = self._packets.get(head)
        if first is None:
            return None
        if not self._video:
            return self._emit(head, head)
        ts = first.timestamp
        ext = head
        while True:
            packet = self._packets.get(ext)
            if packet is None:
                return None  # incomplete: wait for the hole (NACK) or the stall timer
            if packet.timestamp != ts:
                return self._emit(head, ext - 1)  # sender without marker bits
            if packet.marker:
                return self._emit(head, ext)
            ext += 1

    def _emit(self, first: int, last: int) -> ReadyFrame:
        packets = [self._packets.pop(s) for s in range(first, last + 1)]
        starts = [self._starts.pop(s, (False, False)) for s in range(first, last + 1)]
        self._next = last + 1
        data = b"".join(getattr(p, "_data", p.payload) for p in packets)
        after_loss, self._after_loss = self._after_loss, False
        return ReadyFrame(JitterFrame(data=data, timestamp=packets[0].timestamp),
                          packets[0].payload_type, keyframe=starts[0][1],
                          first_seq=packets[0].sequence_number, after_loss=after_loss)


# -- Opus in-band FEC ---------------------------------------------------------------------------

MAX_FEC_GAP_PACKETS = 50  # a longer hole is a reconnect or a stream restart, not packet loss
_OPUS_TIME_BASE = fractions.Fraction(1, opus_codec.SAMPLE_RATE)
OPUS_DECODE_RATE = 16_000  # what the analysers consume (mono); libopus decodes at it natively


class RecoveredFrame(JitterFrame):
    """A lost audio frame to rebuild from the LBRR data inside the packet that followed it.

    ``data`` is that *next* packet, ``timestamp`` the lost frame's own (the next packet's minus
    ``samples``): Opus LBRR always describes the 20 ms right before the packet carrying it.
    """

    def __init__(self, data: bytes, timestamp: int, samples: int) -> None:
        super().__init__(data=data, timestamp=timestamp)
        self.samples = samples


class FecOpusDecoder(Decoder):
    """Opus -> 16 kHz mono s16 ``av.AudioFrame`` (the analysers' rate), with FEC recovery.

    Same interface as aiortc's Opus decoder, but libopus (:mod:`signaling.opus_codec`) decodes
    straight at :data:`OPUS_DECODE_RATE` mono instead of 48 kHz stereo, so nobody resamples
    per frame afterwards. ``pts`` and ``time_base`` stay in RTP units (48 kHz clock) like
    aiortc's frames; only ``sample_rate`` and the layout differ (consumers that need 48 kHz,
    such as aiortc's Opus encoder in the reviewers' relay, resample by themselves).
    :class:`RobustReceive` runs it inline on the event loop (~20-40 us per 20 ms frame).
    """

    def __init__(self, sample_rate: int = OPUS_DECODE_RATE) -> None:
        self._decoder = opus_codec.OpusFecDecoder(channels=1, sample_rate=sample_rate)
        self.sample_rate = sample_rate

    def decode(self, encoded_frame: JitterFrame) -> list[av.AudioFrame]:
        try:
            if isinstance(encoded_frame, RecoveredFrame):
                pcm = self._decoder.decode_fec(
                    encoded_frame.data, self._decoder.samples_at_rate(encoded_frame.samples))
            else:
                pcm = self._decoder.decode(encoded_frame.data)
        except ValueError as err:  # corrupt packet: skip it, keep the decoder state
            log.debug("opus decode failed: %s", err)
            return []
        if len(pcm) == 0:
            return []
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.sample_rate
        frame.pts = encoded_frame.timestamp
        frame.time_base = _OPUS_TIME_BASE
        return [frame]


# -- integration with RTCRtpReceiver ----------------------------------------------------------

@dataclass(frozen=True)
class EncodedFrame:
    """What the passthrough recorder gets: compressed data with its RTP clock and arrival."""

    kind: str
    codec: str  # "VP8", "H264", "opus"
    data: bytes
    rtp_timestamp: int  # mapped by aiortc: 0 at the track's first frame, unwrapped
    clock_rate: int
    keyframe: bool
    arrival: float  # time.monotonic()
    after_loss: bool  # a gap before this frame is packet loss (not DTX silence)
    recovered: bool = False  # rebuilt from the next packet's FEC data: not a received packet


@dataclass(frozen=True)
class ReceiveStats:
    kind: str
    buffer: BufferStats
    decoder_backlog_drops: int
    fec_recovered: int  # lost audio frames rebuilt from in-band FEC
    remb_estimate_bps: int | None
    remb_sent_bps: int | None


def check_compatible(receiver: RTCRtpReceiver) -> None:
    missing = [name for name in _REQUIRED_ATTRIBUTES if not hasattr(receiver, _PRIVATE + name)]
    if not hasattr(receiver, "_track"):  # RemoteStreamTrack, whose queue inline decoding feeds
        missing.append("_track")
    if missing:
        raise RuntimeError(f"aiortc internals changed ({', '.join(missing)} missing); "
                           f"signaling.aiortc_patches supports aiortc=={SUPPORTED_AIORTC}")


class _BufferShim:
    """Sits where aiortc expects its JitterBuffer: frames leave through RobustReceive."""

    def __init__(self, owner: RobustReceive) -> None:
        self._owner = owner

    @property
    def capacity(self) -> int:
        return self._owner.buffer.capacity

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        return self._owner._on_packet(packet), None


class RobustReceive:
    """Installs :class:`RobustJitterBuffer` (and the hooks) into one ``RTCRtpReceiver``.

    ``on_encoded`` (optional) gets every frame handed to the decoder: the recorder's tap.
    Create it before any RTP arrives (``pc.on("track")`` is early enough).
    """

    def __init__(self, receiver: RTCRtpReceiver, kind: str,
                 tuning: ReceiveTuning | None = None,
                 on_encoded: Callable[[EncodedFrame], None] | None = None,
                 install_buffer: bool = True) -> None:
        check_compatible(receiver)
        self.receiver = receiver
        self.kind = kind
        self.tuning = tuning or ReceiveTuning()
        self.on_encoded = on_encoded
        self._probe: Callable[[bytes], tuple[bool, bool]] | None = None
        self.buffer = RobustJitterBuffer(kind, self._probe_payload, self.tuning)
        self._timer: asyncio.TimerHandle | None = None
        self._media_ssrc: int | None = None
        self._backlog_drops = 0
        self._closed = False
        self._fec = kind == "audio" and self.tuning.opus_fec and opus_codec.available()
        self._opus: FecOpusDecoder | None = None  # created with the first Opus frame
        self._last_audio: tuple[int, int] | None = None  # (seq, RTP timestamp) last delivered
        self._audio_dropped = False  # a backlog drop since the last delivered audio frame
        self._fec_recovered = 0
        self.remb_cap_bps: int | None = None
        self._remb_estimate: int | None = None
        self._remb_sent: int | None = None
        if install_buffer:  # False: stock aiortc receive, only observed (for comparisons)
            self._set("jitter_buffer", _BufferShim(self))
        estimator = self._get("remote_bitrate_estimator")
        if estimator is not None:
            original = estimator.add

            def clamped_add(*args: Any, **kwargs: Any) -> tuple[int, list[int]] | None:
                remb = original(*args, **kwargs)
                if remb is None:
                    return None
                self._remb_estimate = remb[0]
                bitrate = remb[0] if self.remb_cap_bps is None else min(remb[0],
                                                                       self.remb_cap_bps)
                self._remb_sent = bitrate
                return bitrate, remb[1]

            estimator.add = clamped_add

    # -- private attribute access (the only place that knows the mangled names) ---------------
    def _get(self, name: str) -> Any:
        return getattr(self.receiver, _PRIVATE + name)

    def _set(self, name: str, value: Any) -> None:
        setattr(self.receiver, _PRIVATE + name, value)

    # -- packet path --------------------------------------------------------------------------
    def _probe_payload(self, payload: bytes) -> tuple[bool, bool]:
        if self._probe is None:
            return True, True
        return self._probe(payload)

    def _on_packet(self, packet: RtpPacket) -> bool:
        if self._probe is None:
            codec = self._get("codecs").get(packet.payload_type)
            self._probe = frame_start_probe(codec.name if codec else "")
        self._media_ssrc = packet.ssrc
        out = self.buffer.push(packet, time.monotonic())
        self._apply(out, in_packet_path=True)
        self._arm()
        return out.pli

    def _on_timer(self) -> None:
        self._timer = None
        if self._closed:
            return
        out = self.buffer.tick(time.monotonic())
        self._apply(out, in_packet_path=False)
        self._arm()

    def _arm(self) -> None:
        if self._closed or self._timer is not None or not self.buffer.needs_tick:
            return
        interval = min(self.tuning.renack_interval_s, self.tuning.audio_skip_s) / 2
        self._timer = asyncio.get_running_loop().call_later(interval, self._on_timer)

    def _apply(self, out: BufferOutput, in_packet_path: bool) -> None:
        if out.given_up:
            generator = self._get("nack_generator")
            if generator is not None:  # stop aiortc re-requesting packets we gave up on
                generator.missing.difference_update(out.given_up)
        dropped = False
        for ready in out.frames:
            if dropped and not ready.keyframe:
                continue  # it would reference the frame that was just dropped
            if self._deliver(ready):
                dropped = False
            elif self.kind == "video":
                dropped = True
                restart = self.buffer.restart_from_keyframe(time.monotonic())
                out.pli = out.pli or restart.pli
        if self._media_ssrc is None:
            return
        if out.nack:
            self._spawn(self.receiver._send_rtcp_nack(self._media_ssrc, sorted(set(out.nack))))
        if out.pli and not in_packet_path:  # in the packet path aiortc sends it for us
            self._spawn(self.receiver._send_rtcp_pli(self._media_ssrc))

    def _deliver(self, ready: ReadyFrame) -> bool:
        """Hand one frame to the decoder (and the tap); False if it was dropped.

        Opus with the FEC decoder is decoded right here (:meth:`_deliver_opus`); everything
        else goes to aiortc's decoder thread as stock aiortc does it."""
        if self._get("decoder_thread") is None:
            return True  # receiver stopped: nothing to do, nothing to resynchronise
        codec = self._get("codecs").get(ready.payload_type)
        if codec is None:
            return True
        if self._fec and codec.name.lower() == "opus":
            return self._deliver_opus(ready, codec)
        queue = self._get("decoder_queue")
        if queue.qsize() >= self.tuning.max_decoder_backlog:
            # The decoder thread is behind: drop instead of queueing without bound. Video
            # must then restart from a keyframe so no frame references a dropped one.
            self._backlog_drops += 1
            return False
        ready.frame.timestamp = self._get("timestamp_mapper").map(ready.frame.timestamp)
        queue.put((codec, ready.frame))
        self._tap(codec, ready.frame, ready.keyframe, ready.after_loss)
        return True

    def _deliver_opus(self, ready: ReadyFrame, codec: RTCRtpCodecParameters) -> bool:
        """Decode one Opus frame on the event loop, straight into the track's frame queue.

        Why not aiortc's decoder thread: for 20 ms audio frames the hand-over (a
        ``queue.Queue`` notify into the thread, ``run_coroutine_threadsafe`` and a self-pipe
        wake-up back) cost the loop more than decoding does (libopus at 16 kHz mono, tens of
        microseconds). Frames go where aiortc's ``decoder_worker`` puts them, the
        ``RemoteStreamTrack``'s queue; its end-of-stream ``None`` still comes from the decoder
        thread when the receiver stops, after every frame put here (nothing is put once
        ``decoder_thread`` is cleared). The queue is bounded here: past
        ``max_decoder_backlog`` waiting frames, frames are dropped and the gap is marked lost.
        """
        output = self._track_queue()
        if output is None:
            return True
        if output.qsize() >= self.tuning.max_decoder_backlog:
            self._backlog_drops += 1
            self._audio_dropped = True
            return False
        if self._opus is None:
            self._opus = FecOpusDecoder()
        after_loss = self._recover_before(ready, codec, output)
        rtp_timestamp = ready.frame.timestamp
        ready.frame.timestamp = self._get("timestamp_mapper").map(rtp_timestamp)
        self._tap(codec, ready.frame, ready.keyframe, after_loss)
        for frame in self._opus.decode(ready.frame):
            output.put_nowait(frame)
        self._last_audio = (ready.first_seq, rtp_timestamp)
        self._audio_dropped = False
        return True

    def _track_queue(self) -> asyncio.Queue[Any] | None:
        """The queue ``RemoteStreamTrack.recv`` reads (aiortc's decoder thread feeds it)."""
        track = getattr(self.receiver, "_track", None)
        return getattr(track, "_queue", None)

    def _recover_before(self, ready: ReadyFrame, codec: RTCRtpCodecParameters,
                        output: asyncio.Queue[Any]) -> bool:
        """Decode the frame lost right before ``ready`` if ``ready`` carries its FEC data.

        Returns whether a loss gap still precedes ``ready`` itself (for the ingest's marking).
        """
        lost_before = ready.after_loss or self._audio_dropped
        if self._last_audio is None or self._opus is None:
            return lost_before
        last_seq, last_ts = self._last_audio
        lost = (ready.first_seq - last_seq - 1) & 0xFFFF
        if lost == 0 or lost > MAX_FEC_GAP_PACKETS:
            return lost_before
        data = ready.frame.data
        samples = opus_codec.packet_samples(data)
        if samples == 0 or not opus_codec.has_fec(data):
            return lost_before
        rtp_timestamp = (ready.frame.timestamp - samples) & 0xFFFFFFFF
        # Exactly one frame lost with no DTX pause around it: the recovered frame closes the
        # gap. Otherwise a gap (loss, or DTX then loss) remains before the recovered frame.
        closes_gap = lost == 1 and ((ready.frame.timestamp - last_ts) & 0xFFFFFFFF) == 2 * samples
        recovered = RecoveredFrame(data, self._get("timestamp_mapper").map(rtp_timestamp),
                                   samples)
        self._fec_recovered += 1
        self._tap(codec, recovered, False, not closes_gap, recovered=True)
        for frame in self._opus.decode(recovered):
            output.put_nowait(frame)
        return False

    def _tap(self, codec: RTCRtpCodecParameters, frame: JitterFrame, keyframe: bool,
             after_loss: bool, recovered: bool = False) -> None:
        if self.on_encoded is None:
            return
        try:
            self.on_encoded(EncodedFrame(self.kind, codec.name, frame.data, frame.timestamp,
                                         codec.clockRate, keyframe, time.monotonic(),
                                         after_loss, recovered))
        except Exception:  # a recorder problem must never break reception
            log.exception("encoded-frame tap failed")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        task.add_done_callback(_log_task_error)

    # -- bandwidth control --------------------------------------------------------------------
    def send_remb(self, bitrate_bps: int) -> None:
        """Send a REMB now (Chromium treats it as the ceiling for its sending rate)."""
        from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, pack_remb_fci

        rtcp_ssrc = self._get("rtcp_ssrc")
        if rtcp_ssrc is None or self._media_ssrc is None or self._closed:
            return
        packet = RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0,
                                fci=pack_remb_fci(int(bitrate_bps), [self._media_ssrc]))
        self._remb_sent = int(bitrate_bps)
        self._spawn(self.receiver._send_rtcp(packet))

    def request_keyframe(self) -> None:
        if self._media_ssrc is not None and not self._closed:
            self._spawn(self.receiver._send_rtcp_pli(self._media_ssrc))

    def rtp_counts(self) -> tuple[int, int, float]:
        """(packets expected, packets received, jitter in ms) of the media SSRC from aiortc's
        RTCP statistics: raw network loss, before retransmissions (which use the RTX SSRC)."""
        streams = self._get("remote_streams")
        ssrc = self._media_ssrc
        if ssrc is None and streams:  # stock path (buffer not installed): the first SSRC seen
            ssrc = next(iter(streams))
        stream = streams.get(ssrc) if ssrc is not None else None
        if stream is None or stream.max_seq is None:
            return 0, 0, 0.0
        clock_rate = getattr(stream, "_clockrate", 90000) or 90000
        return stream.packets_expected, stream.packets_received, stream.jitter * 1000 / clock_rate

    @property
    def stats(self) -> ReceiveStats:
        return ReceiveStats(self.kind, self.buffer.stats, self._backlog_drops,
                            self._fec_recovered,
                            self._remb_estimate, self._remb_sent)

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _log_task_error(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("RTCP send failed: %s", task.exception())
