"""Opus in-band FEC on the receive path: real speech (LibriSpeech, tests/data/speech) encoded
with libopus the way a browser does at our answer's bitrate, packets dropped, then decoded
with FEC (``signaling.opus_codec``, wired in by ``signaling.aiortc_patches``, which decodes
Opus inline at 16 kHz mono straight into the track's queue)."""

from __future__ import annotations

import asyncio
import fractions
from pathlib import Path

import aiortc.rtcrtpreceiver as aiortc_receiver
import av
import numpy as np
import pytest
from aiortc.codecs.opus import OpusDecoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from signaling import opus_codec
from signaling.aiortc_patches import (
    FecOpusDecoder,
    ReceiveTuning,
    RecoveredFrame,
    RobustReceive,
)
from signaling.sdp import AnswerShape
from tests.unit.test_aiortc_patches import make_receiver

pytestmark = pytest.mark.skipif(not opus_codec.fec_detectable(),
                                reason="libopus >= 1.5 not available")

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech"
FRAME = 960  # 20 ms at 48 kHz
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)


def speech_frames(*names: str) -> list[np.ndarray]:
    pcm = []
    for name in names:
        with av.open(str(SPEECH / name)) as container:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
            for frame in container.decode(audio=0):
                pcm += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    samples = np.concatenate(pcm)
    return [samples[i:i + FRAME] for i in range(0, len(samples) - FRAME, FRAME)]


@pytest.fixture(scope="module")
def packets() -> list[bytes]:
    """~11 s of two LibriSpeech readers at the answer's Opus bitrate, 5 % expected loss."""
    encoder = opus_codec.OpusEncoder(AnswerShape(0).opus_max_average_bps, fec=True,
                                     loss_percent=5)
    return [encoder.encode(f) for f in speech_frames("1688-142285-0002.flac",
                                                     "2033-164914-0004.flac")]


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    ref = reference.astype(np.float64)
    noise = ref - test.astype(np.float64)
    return 10 * np.log10((np.sum(ref ** 2) + 1.0) / (np.sum(noise ** 2) + 1.0))


def test_the_answer_bitrate_makes_libopus_send_fec_for_speech(packets):
    # libopus adds LBRR only above a bitrate threshold that grows with the audio bandwidth
    # (wideband at 5 % loss: ~24 kbit/s); at 12 kbit/s it sends none (measured).
    share = np.mean([opus_codec.has_fec(p) for p in packets])
    assert share > 0.5
    low = opus_codec.OpusEncoder(12_000, fec=True, loss_percent=5)
    assert not any(opus_codec.has_fec(low.encode(f)) for f in speech_frames(
        "1688-142285-0002.flac")[:100])


@pytest.mark.parametrize("rate", [48_000, 16_000])
def test_fec_rebuilds_lost_speech_that_concealment_only_guesses(packets, rate):
    # isolated losses of packets whose successor carries FEC data, in speech (loud frames)
    reference = _decode_all(packets, rate)
    loud = [i for i, r in enumerate(reference) if np.abs(r).mean() > 300]
    lost = {i for i in loud[::5] if 0 < i < len(packets) - 1
            and opus_codec.has_fec(packets[i + 1])}
    assert len(lost) >= 30
    fec = opus_codec.OpusFecDecoder(channels=1, sample_rate=rate)
    plc = opus_codec.OpusFecDecoder(channels=1, sample_rate=rate)
    frame = fec.samples_at_rate(FRAME)  # frame sizes count samples at the decoder's rate
    assert frame == FRAME * rate // 48_000
    gain = []
    for i, packet in enumerate(packets):
        if i in lost:
            rebuilt = fec.decode_fec(packets[i + 1], frame)[:, 0]
            guessed = plc.conceal(frame)[:, 0]
            assert len(rebuilt) == len(guessed) == frame
            gain.append(snr_db(reference[i], rebuilt) - snr_db(reference[i], guessed))
        else:
            fec.decode(packet)
            plc.decode(packet)
    gain = np.array(gain)
    assert np.median(gain) > 3.0  # dB closer to what was sent
    assert np.mean(gain > 0) > 0.8


def _decode_all(packets: list[bytes], rate: int = 48_000) -> list[np.ndarray]:
    decoder = opus_codec.OpusFecDecoder(channels=1, sample_rate=rate)
    return [decoder.decode(p)[:, 0] for p in packets]


def rtp(seq: int, payload: bytes) -> RtpPacket:
    packet = RtpPacket(payload_type=111, sequence_number=seq, timestamp=seq * FRAME, ssrc=99,
                       payload=payload)
    packet._data = payload
    return packet


def _track_frames(receiver) -> list[av.AudioFrame]:
    queue = receiver._track._queue
    return [queue.get_nowait() for _ in range(queue.qsize())]


def test_receiver_decodes_the_recovered_frame_before_the_packet_that_carried_it(packets):
    first = next(i for i in range(5, len(packets) - 3)
                 if all(opus_codec.has_fec(packets[j]) for j in range(i, i + 5)))
    single, burst = first + 1, (first + 3, first + 4)  # one lost, then two in a row

    async def run():
        receiver, _ = make_receiver("audio", OPUS)
        tapped = []
        robust = RobustReceive(receiver, "audio", ReceiveTuning(), on_encoded=tapped.append)
        for seq in range(first - 2, first + 8):
            if seq != single and seq not in burst:
                await receiver._handle_rtp_packet(rtp(seq, packets[seq]), arrival_time_ms=0)
        robust.close()
        thread_queue = receiver._RTCRtpReceiver__decoder_queue.qsize()
        return _track_frames(receiver), thread_queue, tapped, robust.stats

    frames, thread_queue, tapped, stats = asyncio.run(run())
    assert thread_queue == 0  # decoded inline: nothing went through aiortc's decoder thread
    # the single loss is rebuilt whole; of the burst only its second frame has FEC data
    assert [f.pts // FRAME for f in frames] == [0, 1, 2, 3, 4, 6, 7, 8, 9]
    for frame in frames:  # the analysers' format; timestamps stay in the 48 kHz RTP clock
        assert (frame.sample_rate, frame.layout.name, frame.format.name) == (16000, "mono", "s16")
        assert frame.samples == 320 and frame.time_base == fractions.Fraction(1, 48000)
    assert stats.fec_recovered == 2
    marks = {t.rtp_timestamp // FRAME: (t.recovered, t.after_loss) for t in tapped}
    assert marks[3] == (True, False) and marks[4] == (False, False)  # the gap is closed
    assert marks[6] == (True, True) and marks[7] == (False, False)  # frame 5 stays lost

    # the rebuilt frames are libopus' FEC decode of the next packet, in stream order
    reference = opus_codec.OpusFecDecoder(channels=1, sample_rate=16000)
    expected = []
    for seq in range(first - 2, first + 8):
        if seq in (single, burst[1]):
            expected.append(reference.decode_fec(packets[seq + 1], 320)[:, 0])
        elif seq != burst[0]:
            expected.append(reference.decode(packets[seq])[:, 0])
    for frame, samples in zip(frames, expected, strict=True):
        np.testing.assert_array_equal(frame.to_ndarray().reshape(-1), samples)


def test_fec_decoder_makes_16k_mono_frames_in_rtp_time(packets):
    decoder = FecOpusDecoder()
    from aiortc.jitterbuffer import JitterFrame

    [normal] = decoder.decode(JitterFrame(packets[10], timestamp=10 * FRAME))
    [rebuilt] = decoder.decode(RecoveredFrame(packets[12], timestamp=11 * FRAME, samples=FRAME))
    for frame, pts in ((normal, 10 * FRAME), (rebuilt, 11 * FRAME)):
        assert frame.samples == 320 and frame.layout.name == "mono"
        assert frame.format.name == "s16" and frame.sample_rate == 16000 and frame.pts == pts
    assert decoder.decode(JitterFrame(b"\xff\xff\xff", timestamp=0)) == []  # corrupt: skipped
    # nothing global is patched: aiortc's decoder thread still gets its own Opus decoder
    RobustReceive(make_receiver("audio", OPUS)[0], "audio")
    assert isinstance(aiortc_receiver.get_decoder(OPUS), OpusDecoder)


def test_inline_decoding_keeps_the_track_queue_bounded_and_marks_drops_as_loss(packets):
    async def run():
        receiver, _ = make_receiver("audio", OPUS)
        tapped = []
        robust = RobustReceive(receiver, "audio", ReceiveTuning(max_decoder_backlog=10),
                               on_encoded=tapped.append)
        for seq in range(40):  # nobody reads the track
            await receiver._handle_rtp_packet(rtp(seq, packets[seq]), arrival_time_ms=0)
        size = receiver._track._queue.qsize()
        _track_frames(receiver)  # the reader catches up
        await receiver._handle_rtp_packet(rtp(40, packets[40]), arrival_time_ms=0)
        return size, tapped, robust.stats

    size, tapped, stats = asyncio.run(run())
    assert size == 10 and stats.decoder_backlog_drops == 30
    marks = {(t.rtp_timestamp // FRAME, t.recovered): t.after_loss
             for t in tapped if t.rtp_timestamp >= 39 * FRAME}
    # the dropped frames are a loss gap: marked on frame 39 rebuilt from packet 40's FEC data,
    # else on frame 40 itself (never taken for DTX silence)
    assert marks == ({(39, True): True, (40, False): False} if opus_codec.has_fec(packets[40])
                     else {(40, False): True})


def test_end_of_stream_follows_every_inline_frame(packets):
    """A started receiver (real decoder thread): stopping it ends the track after the frames."""
    from aiortc.mediastreams import MediaStreamError
    from aiortc.rtcrtpparameters import RTCRtpDecodingParameters, RTCRtpReceiveParameters

    async def run():
        receiver, transport = make_receiver("audio", OPUS)
        receiver._RTCRtpReceiver__decoder_thread = None
        transport._register_rtp_receiver = transport._unregister_rtp_receiver = \
            lambda *args: None
        RobustReceive(receiver, "audio")
        await receiver.receive(RTCRtpReceiveParameters(
            codecs=[OPUS], encodings=[RTCRtpDecodingParameters(ssrc=99, payloadType=111)]))
        for seq in range(20):
            await receiver._handle_rtp_packet(rtp(seq, packets[seq]), arrival_time_ms=0)
        await receiver.stop()
        await receiver._handle_rtp_packet(rtp(20, packets[20]), arrival_time_ms=0)  # too late
        got = []
        with pytest.raises(MediaStreamError):
            while True:
                got.append(await asyncio.wait_for(receiver.track.recv(), 5))
        return got

    got = asyncio.run(run())
    assert [f.pts // FRAME for f in got] == list(range(20))


def test_without_fec_tuning_the_stock_opus_decoder_is_used(packets):
    async def run():
        receiver, _ = make_receiver("audio", OPUS)
        robust = RobustReceive(receiver, "audio", ReceiveTuning(opus_fec=False))
        for seq in (0, 1, 3, 4, 5):
            await receiver._handle_rtp_packet(rtp(seq, packets[seq]), arrival_time_ms=0)
        robust.close()
        queue = receiver._RTCRtpReceiver__decoder_queue
        return [queue.get_nowait() for _ in range(queue.qsize())]

    queued = asyncio.run(run())
    assert [f.timestamp // FRAME for _, f in queued] == [0, 1, 3, 4, 5]
    assert all(codec is OPUS for codec, _ in queued)
