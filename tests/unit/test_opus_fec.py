"""Opus in-band FEC on the receive path: real speech (LibriSpeech, tests/data/speech) encoded
with libopus the way a browser does at our answer's bitrate, packets dropped, then decoded
with FEC (``signaling.opus_codec``, wired in by ``signaling.aiortc_patches``)."""

from __future__ import annotations

import asyncio
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
    _fec_codec,
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


def test_fec_rebuilds_lost_speech_that_concealment_only_guesses(packets):
    # isolated losses of packets whose successor carries FEC data, in speech (loud frames)
    reference = _decode_all(packets)
    loud = [i for i, r in enumerate(reference) if np.abs(r).mean() > 300]
    lost = {i for i in loud[::5] if 0 < i < len(packets) - 1
            and opus_codec.has_fec(packets[i + 1])}
    assert len(lost) >= 30
    fec, plc = opus_codec.OpusFecDecoder(channels=1), opus_codec.OpusFecDecoder(channels=1)
    gain = []
    for i, packet in enumerate(packets):
        if i in lost:
            rebuilt = fec.decode_fec(packets[i + 1], FRAME)[:, 0]
            guessed = plc.conceal(FRAME)[:, 0]
            assert len(rebuilt) == len(guessed) == FRAME
            gain.append(snr_db(reference[i], rebuilt) - snr_db(reference[i], guessed))
        else:
            fec.decode(packet)
            plc.decode(packet)
    gain = np.array(gain)
    assert np.median(gain) > 3.0  # dB closer to what was sent
    assert np.mean(gain > 0) > 0.8


def _decode_all(packets: list[bytes]) -> list[np.ndarray]:
    decoder = opus_codec.OpusFecDecoder(channels=1)
    return [decoder.decode(p)[:, 0] for p in packets]


def rtp(seq: int, payload: bytes) -> RtpPacket:
    packet = RtpPacket(payload_type=111, sequence_number=seq, timestamp=seq * FRAME, ssrc=99,
                       payload=payload)
    packet._data = payload
    return packet


def test_receiver_queues_the_recovered_frame_before_the_packet_that_carried_it(packets):
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
        queue = receiver._RTCRtpReceiver__decoder_queue
        return [queue.get_nowait() for _ in range(queue.qsize())], tapped, robust.stats

    queued, tapped, stats = asyncio.run(run())
    frames = [frame for _, frame in queued]
    timestamps = [f.timestamp // FRAME for f in frames]
    # the single loss is rebuilt whole; of the burst only its second frame has FEC data
    assert timestamps == [0, 1, 2, 3, 4, 6, 7, 8, 9]
    recovered = [f for f in frames if isinstance(f, RecoveredFrame)]
    assert [f.timestamp // FRAME for f in recovered] == [3, 6]
    assert recovered[0].data == packets[single + 1] and recovered[0].samples == FRAME
    assert stats.fec_recovered == 2
    marks = {t.rtp_timestamp // FRAME: (t.recovered, t.after_loss) for t in tapped}
    assert marks[3] == (True, False) and marks[4] == (False, False)  # the gap is closed
    assert marks[6] == (True, True) and marks[7] == (False, False)  # frame 5 stays lost
    assert all(isinstance(codec, type(_fec_codec(OPUS))) for codec, _ in queued)


def test_decoder_thread_gets_the_fec_decoder_only_for_marked_codecs(packets):
    RobustReceive(make_receiver("audio", OPUS)[0], "audio")  # installs the hook
    assert isinstance(aiortc_receiver.get_decoder(OPUS), OpusDecoder)
    decoder = aiortc_receiver.get_decoder(_fec_codec(OPUS))
    assert isinstance(decoder, FecOpusDecoder)
    from aiortc.jitterbuffer import JitterFrame

    [normal] = decoder.decode(JitterFrame(packets[10], timestamp=10 * FRAME))
    [rebuilt] = decoder.decode(RecoveredFrame(packets[12], timestamp=11 * FRAME, samples=FRAME))
    for frame, pts in ((normal, 10 * FRAME), (rebuilt, 11 * FRAME)):
        assert frame.samples == FRAME and frame.layout.name == "stereo"
        assert frame.format.name == "s16" and frame.sample_rate == 48000 and frame.pts == pts
    assert decoder.decode(JitterFrame(b"\xff\xff\xff", timestamp=0)) == []  # corrupt: skipped


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
