"""Received audio -> what the analysers get (``signaling.ingest.AudioIngest``).

The receive path decodes Opus itself at 16 kHz mono (no resampler per frame); aiortc's own
decoder (48 kHz stereo, used when libopus is unavailable) still goes through the resampler.
Both must hand the analysers the same audio and timestamps, and loss, DTX silence and FEC
recovery must come out the same way through the whole path (receiver -> track -> ingest).
Real speech: LibriSpeech readers from tests/data/speech, encoded like a browser sends it.
"""

from __future__ import annotations

import asyncio
import fractions

import av
import numpy as np
import pytest
from aiortc.rtp import RtpPacket

from signaling import opus_codec
from signaling.aiortc_patches import EncodedFrame, ReceiveTuning, RobustReceive
from signaling.ingest import AudioIngest, MediaClock, TrackClock
from signaling.sdp import AnswerShape
from tests.unit.test_aiortc_patches import make_receiver
from tests.unit.test_opus_fec import FRAME, OPUS, speech_frames

pytestmark = pytest.mark.skipif(not opus_codec.fec_detectable(),
                                reason="libopus >= 1.5 not available")


@pytest.fixture(scope="module")
def speech() -> list[bytes]:
    """~6 s of a LibriSpeech reader as a browser sends it (the answer's bitrate, FEC on)."""
    encoder = opus_codec.OpusEncoder(AnswerShape(0).opus_max_average_bps, fec=True,
                                     loss_percent=5)
    return [encoder.encode(f) for f in speech_frames("1688-142285-0002.flac")][:300]


class Sink:
    """The session as the ingest sees it: every chunk offered, in order."""

    def __init__(self) -> None:
        self.chunks = []

    def offer_audio(self, chunk) -> None:
        self.chunks.append(chunk)

    def samples(self) -> np.ndarray:
        return np.concatenate([c.samples for c in self.chunks])


def ingest_decoded(packets: list[bytes], rate: int, channels: int) -> Sink:
    """Decode with libopus at ``rate``/``channels`` and feed the frames to an AudioIngest."""
    decoder = opus_codec.OpusFecDecoder(channels=channels, sample_rate=rate)
    sink = Sink()
    ingest = AudioIngest(None, TrackClock(MediaClock(), 48000), sink)
    ingest.clock.anchor = 0.0
    for i, packet in enumerate(packets):
        pcm = decoder.decode(packet)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16",
                                           layout="mono" if channels == 1 else "stereo")
        frame.sample_rate, frame.pts = rate, i * FRAME
        frame.time_base = fractions.Fraction(1, 48000)
        ingest._ingest(frame)
    return sink


def aligned_snr_db(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """(delay of ``b`` in samples, SNR below 4 kHz, full-band SNR) of ``b`` against ``a`` once
    the (fractional) delay between them is removed."""
    n = min(len(a), len(b))
    spec_a, spec_b = np.fft.rfft(a[:n]), np.fft.rfft(b[:n])
    freq = np.fft.rfftfreq(n, 1 / 16000)
    omega = 2 * np.pi * freq / 16000
    band = (freq > 200) & (freq < 3000)
    phase = np.unwrap(np.angle(spec_a[band] * np.conj(spec_b[band])))
    delay = float(np.polyfit(omega[band], phase, 1)[0])
    error = spec_a - spec_b * np.exp(1j * omega * delay)

    def snr(mask: np.ndarray) -> float:
        return float(10 * np.log10(np.sum(abs(spec_a[mask]) ** 2) /
                                   np.sum(abs(error[mask]) ** 2)))

    return delay, snr(freq < 4000), snr(freq <= 8000)


def test_16k_mono_frames_are_only_scaled(speech):
    packets = speech
    sink = ingest_decoded(packets[:50], 16000, 1)
    reference = opus_codec.OpusFecDecoder(channels=1, sample_rate=16000)
    expected = np.concatenate([reference.decode(p)[:, 0] for p in packets[:50]]) / 32768
    got = sink.samples()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-7)
    assert [round(c.pts, 6) for c in sink.chunks] == [round(i * 0.02, 6) for i in range(50)]


def test_direct_16k_decode_gives_what_the_resampler_path_gave(speech):
    packets = speech
    direct = ingest_decoded(packets[:250], 16000, 1)  # the receive path's own decoder
    resampled = ingest_decoded(packets[:250], 48000, 2)  # aiortc's decoder + resampler
    a, b = direct.samples(), resampled.samples()
    assert abs(len(a) - len(b)) <= 32  # the resampler holds back its filter delay only
    assert abs(20 * np.log10(np.sqrt(np.mean(a ** 2)) / np.sqrt(np.mean(b ** 2)))) < 0.2
    delay, snr_speech_band, snr_full = aligned_snr_db(a, b)
    assert abs(delay) < 1.0  # samples at 16 kHz: libswresample's filter delay
    assert snr_speech_band > 25 and snr_full > 12  # they differ only near 8 kHz (filter shapes)
    starts_a = np.array([c.pts for c in direct.chunks])
    starts_b = np.array([c.pts for c in resampled.chunks])
    assert len(starts_a) == len(starts_b) and np.max(np.abs(starts_a - starts_b)) < 0.002


def rtp(seq: int, timestamp: int, payload: bytes) -> RtpPacket:
    packet = RtpPacket(payload_type=111, sequence_number=seq, timestamp=timestamp, ssrc=99,
                       payload=payload)
    packet._data = payload
    return packet


def test_fec_loss_and_dtx_reach_the_analysers_through_inline_decoding(speech):
    packets = speech
    # one loss FEC can rebuild, one it cannot, then a 0.5 s DTX pause (no packets, no loss)
    fec_lost = next(i for i in range(10, 60) if opus_codec.has_fec(packets[i + 1]))
    plain_lost = next(i for i in range(fec_lost + 5, 120)
                      if not opus_codec.has_fec(packets[i + 1]))
    dtx_after, pause = plain_lost + 10, 25

    async def run():
        receiver, _ = make_receiver("audio", OPUS)
        clock = TrackClock(MediaClock(), 48000)

        def on_encoded(frame: EncodedFrame) -> None:  # as signaling.peer wires the tap
            clock.anchor_at(frame.rtp_timestamp, frame.arrival)
            if frame.after_loss:
                clock.mark_loss(frame.rtp_timestamp)

        robust = RobustReceive(receiver, "audio", ReceiveTuning(), on_encoded)
        sink = Sink()
        ingest = AudioIngest(receiver._track, clock, sink)
        reader = asyncio.create_task(ingest.read())
        for seq in range(dtx_after + 20):
            if seq in (fec_lost, plain_lost):
                continue
            timestamp = (seq + (pause if seq > dtx_after else 0)) * FRAME
            await receiver._handle_rtp_packet(rtp(seq, timestamp, packets[seq]),
                                              arrival_time_ms=0)
            await asyncio.sleep(0)  # the reader keeps up, as on a live connection
        receiver._track._queue.put_nowait(None)  # end of stream, as aiortc signals it
        await asyncio.wait_for(reader, 5)
        return ingest, robust.stats, sink

    ingest, stats, sink = asyncio.run(run())
    assert stats.fec_recovered == 1
    assert ingest.stats.lost_s == pytest.approx(0.02, abs=1e-6)  # only the unrecoverable one
    assert ingest.stats.dtx_filled_s == pytest.approx(pause * 0.02, abs=1e-6)
    # the timeline: received + rebuilt + DTX silence, plus exactly one 20 ms hole
    total = sum(len(c.samples) for c in sink.chunks) / 16000
    assert total == pytest.approx((dtx_after + 20 + pause - 1) * 0.02, abs=1e-6)
    starts = [c.pts for c in sink.chunks]
    holes = [round(b - (a + len(c.samples) / 16000), 4)
             for a, b, c in zip(starts[:-1], starts[1:], sink.chunks[:-1], strict=True)]
    assert sorted(h for h in holes if h != 0) == [0.02]
    silence = [c for c in sink.chunks if len(c.samples) == pause * 320]
    assert len(silence) == 1 and not silence[0].samples.any()
