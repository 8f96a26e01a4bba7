"""The loss-robust receive path: pure buffer logic with synthetic RTP, then wired into a real
aiortc ``RTCRtpReceiver`` (only its network transport is faked)."""

from __future__ import annotations

import asyncio
import random
from types import SimpleNamespace

import pytest
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import RemoteStreamTrack, RTCRtpReceiver
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPacket,
    RtcpRtpfbPacket,
    RtpPacket,
)

from signaling.aiortc_patches import (
    ReceiveTuning,
    RobustJitterBuffer,
    RobustReceive,
    h264_frame_start,
    vp8_frame_start,
)

TUNING = ReceiveTuning()


def vp8_packets(first_seq: int, ts: int, n: int, key: bool) -> list[RtpPacket]:
    """One VP8 frame split into ``n`` packets (descriptor S bit, P bit, marker on the last)."""
    out = []
    for i in range(n):
        descriptor = b"\x10" if i == 0 else b"\x00"
        body = (b"\x00" if key else b"\x01") + bytes([i]) * 20 if i == 0 else bytes([i]) * 20
        packet = RtpPacket(payload_type=96, marker=int(i == n - 1),
                           sequence_number=(first_seq + i) & 0xFFFF, timestamp=ts & 0xFFFFFFFF,
                           ssrc=1234, payload=descriptor + body)
        out.append(packet)
    return out


def video_stream(frames: int, per_frame: int = 2, gop: int = 30, seq0: int = 1000):
    seq, out = seq0, []
    for f in range(frames):
        out.append(vp8_packets(seq, f * 6000, per_frame, key=f % gop == 0))
        seq += per_frame
    return out


def opus_packet(seq: int, ts: int) -> RtpPacket:
    packet = RtpPacket(payload_type=111, sequence_number=seq & 0xFFFF,
                       timestamp=ts & 0xFFFFFFFF, ssrc=99, payload=b"\xfc" + bytes(40))
    packet._data = packet.payload  # what aiortc's depayloader sets before the jitter buffer
    return packet


def video_buffer() -> RobustJitterBuffer:
    return RobustJitterBuffer("video", vp8_frame_start, TUNING)


def audio_buffer() -> RobustJitterBuffer:
    return RobustJitterBuffer("audio", lambda p: (True, True), TUNING)


def test_probes_recognise_vp8_and_h264_keyframes():
    key = vp8_packets(1, 0, 1, key=True)[0].payload
    delta = vp8_packets(1, 0, 1, key=False)[0].payload
    middle = vp8_packets(1, 0, 2, key=True)[1].payload
    assert vp8_frame_start(key) == (True, True)
    assert vp8_frame_start(delta) == (True, False)
    assert vp8_frame_start(middle) == (False, False)
    assert vp8_frame_start(b"") == (False, False)  # malformed: never a keyframe
    sps, idr, non_idr = b"\x67" + bytes(8), b"\x65" + bytes(8), b"\x41" + bytes(8)
    stap_a = b"\x18" + len(sps).to_bytes(2, "big") + sps + len(idr).to_bytes(2, "big") + idr
    assert h264_frame_start(stap_a) == (True, True)
    assert h264_frame_start(non_idr) == (True, False)
    assert h264_frame_start(b"\x7c\x85" + bytes(8)) == (True, True)  # FU-A start of an IDR
    assert h264_frame_start(b"\x7c\x45" + bytes(8)) == (False, False)  # FU-A end
    assert h264_frame_start(b"") == (False, False)


def test_video_frames_leave_as_soon_as_the_marker_packet_arrives():
    buffer = video_buffer()
    emitted = []
    for frame in video_stream(5):
        for packet in frame:
            emitted.append(len(buffer.push(packet, 0.0).frames))
    # no frame of delay: each frame is emitted with its last packet, not with the next frame
    assert emitted == [0, 1] * 5
    assert buffer.stats.frames == 5 and not buffer.needs_tick


def test_audio_loss_is_not_amplified_unlike_stock_aiortc():
    rng = random.Random(7)
    packets = [opus_packet(60000 + i, i * 960) for i in range(3000)]  # wraps around 65535
    received = [p for p in packets if rng.random() >= 0.05]
    stock = JitterBuffer(capacity=16, prefetch=4)
    stock_frames = sum(1 for p in received if stock.add(p)[1] is not None)
    robust = audio_buffer()
    robust_frames, timestamps, now = 0, [], 0.0
    for packet in received:
        now += 0.02
        out = robust.push(packet, now)
        robust_frames += len(out.frames)
        timestamps += [f.frame.timestamp for f in out.frames]
    # stock aiortc turns 5 % packet loss into roughly a quarter of the audio lost
    assert stock_frames < 0.85 * len(packets)
    # every packet that arrived is delivered (the last two may still wait behind a hole)
    assert robust_frames >= len(received) - 2
    assert timestamps == sorted(timestamps)
    assert 0 < robust.stats.packets_lost <= len(packets) - len(received)


def test_audio_hole_is_skipped_by_timer_even_without_later_packets():
    buffer = audio_buffer()
    buffer.push(opus_packet(1, 0), 0.0)
    out = buffer.push(opus_packet(3, 1920), 0.02)  # 2 lost; only one packet waits behind it
    assert out.frames == [] and buffer.needs_tick
    out = buffer.tick(0.02 + TUNING.audio_skip_s)
    assert [f.frame.timestamp for f in out.frames] == [1920]
    assert out.given_up == [2] and not buffer.needs_tick


def test_unrecovered_video_packet_jumps_to_the_next_buffered_keyframe():
    buffer = video_buffer()
    stream = video_stream(40, gop=10)
    lost = stream[3][1]  # second packet of frame 3, never retransmitted
    now, gaps, last_emit = 0.0, [], 0.0
    for frame in stream:
        now += 1 / 15
        for packet in frame:
            if packet is lost:
                continue
            out = buffer.push(packet, now)
            out.frames += buffer.tick(now).frames
            if out.frames:
                gaps.append(now - last_emit)
                last_emit = now
                assert all(f.frame.timestamp // 6000 not in range(3, 10) for f in out.frames)
    # frames 3..9 reference the lost data and are never emitted; frame 10 is a keyframe
    assert buffer.stats.resyncs == 1 and buffer.stats.packets_lost == 1
    assert max(gaps) <= 10 / 15 + 1e-6  # frozen only until the next keyframe was buffered
    assert buffer.stats.frames == 40 - 7


def test_stalled_video_without_a_keyframe_flushes_and_asks_for_one_with_pli():
    buffer = video_buffer()
    stream = video_stream(20, gop=100)
    for packet in stream[0] + stream[1]:
        buffer.push(packet, 0.0)
    buffer.push(stream[2][0], 0.1)  # frame 2's second packet is lost
    plis = []
    t = 0.1
    for frame in stream[3:12]:
        t += 1 / 15
        for packet in frame:
            plis.append(buffer.push(packet, t).pli)
        out = buffer.tick(t)
        plis.append(out.pli)
        assert out.frames == []
    assert any(plis) and buffer.stats.resyncs == 1
    # repeated PLIs while waiting, rate-limited
    assert 1 <= sum(plis) <= int((t - 0.1) / TUNING.pli_interval_s) + 1
    # the sender answers the PLI with a keyframe: emission resumes from it
    key = vp8_packets(5000, 99 * 6000, 2, key=True)
    buffer2_out = [buffer.push(p, t + 0.05) for p in key]
    assert [f.keyframe for f in buffer2_out[-1].frames] == [True]


def test_missing_packets_are_renacked_on_a_timer_and_recovered():
    buffer = video_buffer()
    frame0, frame1 = video_stream(2, per_frame=3)
    for packet in frame0 + [frame1[0], frame1[2]]:
        buffer.push(packet, 0.0)
    nacks = [buffer.tick(t * 0.05).nack for t in range(1, 7)]
    assert [n for n in nacks if n] == [[frame1[1].sequence_number]] * 3  # every 100 ms
    out = buffer.push(frame1[1], 0.3)  # the retransmission arrives in time
    assert [f.frame.timestamp for f in out.frames] == [6000]
    assert not buffer.needs_tick and buffer.stats.resyncs == 0


def test_renack_count_is_bounded():
    buffer = video_buffer()
    frame0, frame1, frame2 = video_stream(3, per_frame=3, gop=1)
    for packet in frame0 + [frame1[0], frame1[2]]:
        buffer.push(packet, 0.0)
    total = sum(len(buffer.tick(t * 0.01).nack) for t in range(1, 30))
    assert total <= TUNING.max_nacks_per_packet


def test_duplicates_late_packets_and_reordering():
    buffer = video_buffer()
    frame0, frame1 = video_stream(2, per_frame=2, gop=1)
    buffer.push(frame0[1], 0.0)  # reordered: second packet first
    out = buffer.push(frame0[0], 0.0)
    assert len(out.frames) == 1
    assert buffer.push(frame0[0], 0.0).frames == [] and buffer.stats.late == 1
    buffer.push(frame1[0], 0.0)
    buffer.push(frame1[0], 0.0)
    assert buffer.stats.duplicates == 1


def test_capacity_overflow_resynchronises_instead_of_growing():
    tuning = ReceiveTuning(video_capacity=32)
    buffer = RobustJitterBuffer("video", vp8_frame_start, tuning)
    stream = video_stream(60, per_frame=1, gop=20)
    buffer.push(stream[0][0], 0.0)
    for frame in stream[2:]:  # frame 1 lost; stall timer never fires (same instant)
        buffer.push(frame[0], 0.0)
        assert len(buffer._packets) <= tuning.video_capacity
    assert buffer.stats.resyncs >= 1 and buffer.stats.frames > 30
    never_key = RobustJitterBuffer("video", vp8_frame_start, tuning)
    for frame in video_stream(200, per_frame=1, gop=1000)[1:]:  # the keyframe never arrives
        never_key.push(frame[0], 0.0)
    assert len(never_key._packets) <= tuning.video_capacity and never_key.stats.frames == 0


class FakeTransport:
    """Stands in for RTCDtlsTransport: records the RTCP the receiver sends."""

    state = "connected"

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self._stats_id = "transport"

    async def _send_rtp(self, data: bytes) -> None:
        self.sent.append(data)

    def rtcp(self):
        return [p for data in self.sent for p in RtcpPacket.parse(data)]


def make_receiver(kind: str, codec: RTCRtpCodecParameters):
    transport = FakeTransport()
    receiver = RTCRtpReceiver(kind, transport)
    receiver._RTCRtpReceiver__codecs[codec.payloadType] = codec
    receiver._RTCRtpReceiver__decoder_thread = SimpleNamespace()  # "running"
    receiver._track = RemoteStreamTrack(kind)  # what RTCPeerConnection attaches
    receiver._set_rtcp_ssrc(4321)
    return receiver, transport


def test_installed_into_a_real_aiortc_receiver():
    async def run():
        codec = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
        receiver, transport = make_receiver("video", codec)
        tapped = []
        robust = RobustReceive(receiver, "video", TUNING, on_encoded=tapped.append)
        stream = video_stream(12, per_frame=2, gop=6)
        lost = stream[2][1]
        for frame in stream:
            for packet in frame:
                if packet is not lost:
                    await receiver._handle_rtp_packet(packet, arrival_time_ms=0)
            await asyncio.sleep(1 / 15)
        await asyncio.sleep(0.2)
        robust.send_remb(150_000)
        await asyncio.sleep(0)
        robust.close()
        queue = receiver._RTCRtpReceiver__decoder_queue
        decoded = [queue.get_nowait()[1] for _ in range(queue.qsize())]
        return robust, transport, tapped, decoded, lost

    robust, transport, tapped, decoded, lost = asyncio.run(run())
    # frames 2..5 depend on the lost packet; frame 6 is a keyframe
    assert [f.timestamp // 6000 for f in decoded] == [0, 1, 6, 7, 8, 9, 10, 11]
    assert [t.keyframe for t in tapped][:3] == [True, False, True]
    assert tapped[0].codec == "VP8" and tapped[0].clock_rate == 90000
    kinds = [(type(p).__name__, p.fmt) for p in transport.rtcp()]
    nacks = [p for p in transport.rtcp()
             if isinstance(p, RtcpRtpfbPacket) and p.fmt == RTCP_RTPFB_NACK]
    assert len(nacks) >= 2  # aiortc's immediate NACK plus timer re-NACKs
    assert all(p.lost == [lost.sequence_number] for p in nacks)
    assert ("RtcpPsfbPacket", RTCP_PSFB_APP) in kinds  # the REMB
    assert robust.stats.buffer.resyncs == 1
    assert ("RtcpPsfbPacket", RTCP_PSFB_PLI) not in kinds  # a keyframe was buffered: no PLI needed


def test_decoder_backlog_is_bounded():
    async def run():
        codec = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2,
                                      payloadType=111)
        receiver, _ = make_receiver("audio", codec)
        # opus_fec=False: aiortc's decoder thread decodes (the inline path: test_opus_fec.py)
        robust = RobustReceive(receiver, "audio",
                               ReceiveTuning(max_decoder_backlog=10, opus_fec=False))
        for i in range(50):  # the decoder thread never takes anything
            await receiver._handle_rtp_packet(opus_packet(i, i * 960), arrival_time_ms=0)
        robust.close()
        return receiver._RTCRtpReceiver__decoder_queue.qsize(), robust.stats

    size, stats = asyncio.run(run())
    assert size == 10 and stats.decoder_backlog_drops == 40


def test_refuses_an_incompatible_aiortc():
    with pytest.raises(RuntimeError, match="aiortc internals changed"):
        RobustReceive(SimpleNamespace(), "video")
