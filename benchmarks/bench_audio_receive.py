"""CPU cost of the server's audio receive path, per session: RTP in -> 16 kHz float chunks out.

Why: at 8 concurrent interviews the event loop was saturated, and a profile put a quarter of its
samples on audio (a PyAV resample per 20 ms frame and a thread round trip to aiortc's decoder
thread per frame). This measures exactly that path, without the rest of the server: real
speech from a GRID clip is encoded the way a browser sends it (libopus, the answer's bitrate,
in-band FEC), then ``--sessions`` receivers replay it concurrently at real time (one packet
every 20 ms each, staggered), each through aiortc's ``RTCRtpReceiver`` (with its decoder thread
started as in a real connection), :class:`signaling.aiortc_patches.RobustReceive` and
:class:`signaling.ingest.AudioIngest`, into a sink that only counts samples.

Reported: process CPU time (all threads, ``time.process_time``) and the event-loop thread's own
CPU time (``time.thread_time`` read on the loop), per session per second of audio, plus what
reached the sink (seconds of audio, lost and DTX-filled seconds, FEC-recovered frames). The
replay itself (building RTP packets, sleeping) is part of the numbers and the same in every
run; ``--replay-only`` measures it alone, so the receive path's own cost is the difference.
CPU time, not wall time: the machine is shared.

    python -m benchmarks.bench_audio_receive [--sessions 8] [--seconds 20] [--loss 0 0.05]
                                             [--replay-only]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import av
import numpy as np
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpDecodingParameters,
    RTCRtpReceiveParameters,
)
from aiortc.rtcrtpreceiver import RemoteStreamTrack, RTCRtpReceiver
from aiortc.rtp import RtpPacket

from signaling import opus_codec
from signaling.aiortc_patches import EncodedFrame, ReceiveTuning, RobustReceive
from signaling.ingest import AudioIngest, MediaClock, TrackClock
from signaling.sdp import AnswerShape

REPO = Path(__file__).resolve().parents[1]
CLIPS = [REPO / "tests" / "data" / "video" / name for name in ("bbaf2n.mpg", "lrwp9a.mpg")]
FRAME = 960  # 20 ms at 48 kHz
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)


def speech_packets(seconds: float) -> list[bytes]:
    """``seconds`` of GRID speech (the clips repeated) as Opus packets, 20 ms each."""
    pcm = []
    for clip in CLIPS:
        with av.open(str(clip)) as container:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
            for frame in container.decode(audio=0):
                pcm += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    samples = np.concatenate(pcm)
    needed = int(seconds * 48000) + FRAME
    samples = np.tile(samples, needed // len(samples) + 1)[:needed]
    encoder = opus_codec.OpusEncoder(AnswerShape(0).opus_max_average_bps, fec=True,
                                     loss_percent=5)
    return [encoder.encode(samples[i:i + FRAME]) for i in range(0, needed - FRAME, FRAME)]


class _Transport:
    """The DTLS transport as far as one receiver needs it (RTCP goes nowhere)."""

    state = "connected"
    _stats_id = "transport"

    def _register_rtp_receiver(self, receiver, parameters) -> None:
        pass

    def _unregister_rtp_receiver(self, receiver) -> None:
        pass

    async def _send_rtp(self, data: bytes) -> None:
        pass


class _Sink:
    """Stands in for the VerificationSession: counts what the analysers would get."""

    def __init__(self) -> None:
        self.samples = 0

    def offer_audio(self, chunk) -> None:
        self.samples += len(chunk.samples)


async def _replay(index: int, packets: list[bytes], loss: float, start: float,
                  receive: Callable[[RtpPacket], Awaitable[None]]) -> None:
    """One sender: a packet every 20 ms from ``start``, ``loss`` of them dropped (seeded)."""
    rng = random.Random(index)
    for seq, payload in enumerate(packets):
        delay = start + seq * 0.02 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if rng.random() < loss:
            continue
        await receive(RtpPacket(payload_type=111, sequence_number=seq & 0xFFFF,
                                timestamp=(seq * FRAME) & 0xFFFFFFFF, ssrc=5000 + index,
                                payload=payload))


async def _nothing(packet: RtpPacket) -> None:
    pass


async def _session(index: int, packets: list[bytes], loss: float, media: MediaClock,
                   start: float, replay_only: bool) -> dict:
    if replay_only:
        await _replay(index, packets, loss, start, _nothing)
        return {"audio_s": 0.0, "frames": 0, "lost_s": 0.0, "dtx_filled_s": 0.0,
                "fec_recovered": 0}
    receiver = RTCRtpReceiver("audio", _Transport())
    receiver._track = RemoteStreamTrack("audio")
    receiver._set_rtcp_ssrc(1000 + index)
    clock = TrackClock(media, 48000)

    def on_encoded(frame: EncodedFrame) -> None:  # what signaling.peer does with the tap
        clock.anchor_at(frame.rtp_timestamp, frame.arrival)
        if frame.after_loss:
            clock.mark_loss(frame.rtp_timestamp)

    robust = RobustReceive(receiver, "audio", ReceiveTuning(), on_encoded)
    await receiver.receive(RTCRtpReceiveParameters(
        codecs=[OPUS], encodings=[RTCRtpDecodingParameters(ssrc=5000 + index, payloadType=111)]))
    sink = _Sink()
    ingest = AudioIngest(receiver._track, clock, sink)
    reader = asyncio.create_task(ingest.read())

    async def receive(packet: RtpPacket) -> None:
        await receiver._handle_rtp_packet(packet, arrival_time_ms=int(time.monotonic() * 1000))

    await _replay(index, packets, loss, start, receive)
    await asyncio.sleep(0.2)
    robust.close()
    await receiver.stop()  # end of stream: the reader sees MediaStreamError and returns
    await asyncio.wait_for(reader, 5)
    stats = ingest.stats
    return {"audio_s": sink.samples / 16000, "frames": stats.frames,
            "lost_s": stats.lost_s, "dtx_filled_s": stats.dtx_filled_s,
            "fec_recovered": robust.stats.fec_recovered}


async def _run(sessions: int, packets: list[bytes], loss: float, replay_only: bool) -> dict:
    media = MediaClock()
    loop_cpu0, cpu0 = time.thread_time(), time.process_time()
    begin = time.monotonic() + 0.1
    results = await asyncio.gather(*(
        _session(i, packets, loss, media, begin + i * 0.02 / sessions, replay_only)
        for i in range(sessions)))
    loop_cpu, cpu = time.thread_time() - loop_cpu0, time.process_time() - cpu0
    audio_s = len(packets) * FRAME / 48000
    per = sessions * audio_s
    return {
        "sessions": sessions, "audio_s_each": round(audio_s, 2), "loss": loss,
        "replay_only": replay_only,
        "process_cpu_ms_per_session_s": round(1000 * cpu / per, 3),
        "loop_cpu_ms_per_session_s": round(1000 * loop_cpu / per, 3),
        "process_cpu_share_per_session": round(cpu / per, 4),
        "delivered_audio_s": round(sum(r["audio_s"] for r in results) / sessions, 2),
        "lost_s": round(sum(r["lost_s"] for r in results) / sessions, 3),
        "dtx_filled_s": round(sum(r["dtx_filled_s"] for r in results) / sessions, 3),
        "fec_recovered": sum(r["fec_recovered"] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--loss", type=float, nargs="+", default=[0.0, 0.05])
    parser.add_argument("--replay-only", action="store_true",
                        help="only the sender side: the harness's own CPU")
    args = parser.parse_args()
    packets = speech_packets(args.seconds)
    for loss in args.loss:
        print(json.dumps(asyncio.run(_run(args.sessions, packets, loss, args.replay_only))))


if __name__ == "__main__":
    main()
