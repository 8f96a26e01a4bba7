"""One applicant connection: an aiortc peer that only receives, plus its readers and hooks.

A peer lives for one connection. It installs the loss-robust receive path on each receiver as
soon as the track appears (before any RTP), taps the encoded frames into the interview's
recording segment, starts the always-consume readers, and carries the control data channel.
When the connection drops, the interview (``signaling.live``) keeps running and a reconnect
creates a new peer: aiortc 1.16 cannot restart ICE on an existing connection, so "ICE restart"
is a fresh offer on the same interview (same session, same analyzers, next recording segment).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.rtcdatachannel import RTCDataChannel
from aiortc.sdp import candidate_from_sdp

from signaling.aiortc_patches import EncodedFrame, ReceiveTuning, RobustReceive
from signaling.analysis_rate import SessionRate
from signaling.control import PageMessage, dumps, parse_page_message
from signaling.errors import InvalidOfferError
from signaling.ingest import AudioIngest, MediaClock, TrackClock, VideoIngest
from signaling.recording import RecordedPacket, SegmentWriter
from signaling.relay import LiveFeed, tapped
from signaling.sdp import AnswerShape, shape_answer
from verification.pipeline.session import VerificationSession

log = logging.getLogger(__name__)

MAX_CANDIDATES = 64


class InterviewPeer:
    def __init__(self, *, configuration: Any, clock: MediaClock, session: VerificationSession,
                 segment: SegmentWriter | None, analysis_fps: float,
                 on_message: Callable[[InterviewPeer, PageMessage], None],
                 on_state: Callable[[InterviewPeer, str], None],
                 tuning: ReceiveTuning | None = None, robust: bool = True,
                 feed: LiveFeed | None = None, rate: SessionRate | None = None) -> None:
        self.id = uuid.uuid4().hex
        self.resume_key = secrets.token_urlsafe(16)
        self.created = time.monotonic()
        self.pc = RTCPeerConnection(configuration)
        self._clock = clock
        self._session = session
        self._segment = segment
        self._analysis_fps = analysis_fps
        self._rate = rate  # the interview's load-aware analysis rate (signaling.analysis_rate)
        self._on_message = on_message
        self._on_state = on_state
        self._tuning = tuning or ReceiveTuning()
        self._robust = robust
        self._feed = feed  # reviewers' live watch (signaling.relay); None: nobody can watch
        self._generation = feed.next_generation() if feed is not None else 0
        self.receive: dict[str, RobustReceive] = {}
        self.video: VideoIngest | None = None
        self.audio: AudioIngest | None = None
        self.channel: RTCDataChannel | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._candidates = 0
        self.closed = False
        self.messages_ignored = 0
        self.state = "new"
        self.pc.on("track", self._on_track)
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("connectionstatechange", self._on_connection_state)

    # -- signaling ----------------------------------------------------------------------------
    async def answer(self, offer_sdp: str, shape: AnswerShape) -> str:
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise InvalidOfferError(f"the offer could not be applied ({err})") from None
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return shape_answer(self.pc.localDescription.sdp, shape)

    async def add_candidate(self, candidate: str | None, sdp_mid: str | None,
                            sdp_mline_index: int | None) -> None:
        """Trickled browser candidate (``None``/empty = end of candidates)."""
        if self.closed:
            return
        self._candidates += 1
        if self._candidates > MAX_CANDIDATES:
            raise InvalidOfferError("too many ICE candidates")
        if not candidate:
            await self.pc.addIceCandidate(None)
            return
        text = candidate.split(":", 1)[1] if candidate.startswith("candidate:") else candidate
        try:
            parsed = candidate_from_sdp(text)
        except (ValueError, IndexError) as err:
            raise InvalidOfferError(f"malformed ICE candidate ({err})") from None
        parsed.sdpMid = sdp_mid
        parsed.sdpMLineIndex = sdp_mline_index if sdp_mid is None else None
        if parsed.sdpMid is None and parsed.sdpMLineIndex is None:
            parsed.sdpMLineIndex = 0
        if parsed.type not in ("host", "srflx", "prflx", "relay"):
            raise InvalidOfferError("unsupported ICE candidate type")
        try:
            await self.pc.addIceCandidate(parsed)
        except ValueError as err:
            raise InvalidOfferError(str(err)) from None

    # -- media --------------------------------------------------------------------------------
    def _on_track(self, track: Any) -> None:
        receiver = next((t.receiver for t in self.pc.getTransceivers()
                         if t.receiver.track is track), None)
        if receiver is None or track.kind not in ("audio", "video") or (
                track.kind == "video" and self.video) or (track.kind == "audio" and self.audio):
            self._tasks.append(asyncio.create_task(_drain(track)))  # never leave a track unread
            return
        clock = TrackClock(self._clock, 90000 if track.kind == "video" else 48000)
        segment = self._segment

        def on_encoded(frame: EncodedFrame) -> None:
            clock.anchor_at(frame.rtp_timestamp, frame.arrival)
            if frame.after_loss:
                clock.mark_loss(frame.rtp_timestamp)
            if segment is not None and not frame.recovered:  # record what was received
                segment.submit(RecordedPacket(frame.kind, frame.codec, frame.data,
                                              clock.seconds(frame.rtp_timestamp),
                                              frame.keyframe))

        self.receive[track.kind] = RobustReceive(receiver, track.kind, self._tuning, on_encoded,
                                                 install_buffer=self._robust)
        track = tapped(track, self._feed, self._generation)
        if track.kind == "video":
            self.video = VideoIngest(track, clock, self._session, self._analysis_fps,
                                     self._rate)
            self._tasks += [asyncio.create_task(self.video.read(), name=f"video-read-{self.id}"),
                            asyncio.create_task(self.video.feed(), name=f"video-feed-{self.id}")]
        else:
            self.audio = AudioIngest(track, clock, self._session)
            self._tasks.append(asyncio.create_task(self.audio.read(), name=f"audio-{self.id}"))

    def local_ports(self) -> list[int]:
        """UDP ports of the server's ICE candidates (diagnostics, weak-network tests)."""
        ports = []
        for transceiver in self.pc.getTransceivers():
            gatherer = transceiver.receiver.transport.transport.iceGatherer
            ports += [c.port for c in gatherer.getLocalCandidates()]
        return sorted(set(ports))

    def media_age(self, kind: str) -> float | None:
        """Seconds since the last decoded frame of ``kind`` (None: never)."""
        ingest = self.video if kind == "video" else self.audio
        if ingest is None or ingest.last_arrival is None:
            return None
        return time.monotonic() - ingest.last_arrival

    @property
    def has_media(self) -> bool:
        return self.media_age("video") is not None or self.media_age("audio") is not None

    # -- control channel ----------------------------------------------------------------------
    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if self.channel is not None:
            return
        self.channel = channel

        @channel.on("message")
        def on_message(raw: str | bytes) -> None:
            message = parse_page_message(raw)
            if message is None:
                self.messages_ignored += 1
                return
            self._on_message(self, message)

    @property
    def channel_open(self) -> bool:
        """Whether the page can hear us: prompts only make sense once the control channel is up."""
        channel = self.channel
        return channel is not None and channel.readyState == "open" and not self.closed

    def send(self, message: dict[str, Any]) -> bool:
        channel = self.channel
        if channel is None or channel.readyState != "open" or self.closed:
            return False
        try:
            channel.send(dumps(message))
            return True
        except Exception as err:  # the channel closed between the check and the send
            log.debug("data channel send failed: %s", err)
            return False

    def _on_connection_state(self) -> None:
        self.state = self.pc.connectionState
        self._on_state(self, self.state)

    # -- end ----------------------------------------------------------------------------------
    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for robust in self.receive.values():
            robust.close()
        try:
            # shield: a timed-out wait must not cancel aiortc's own close (it would then fail)
            await asyncio.wait_for(asyncio.shield(self.pc.close()), timeout=10)
        except Exception as err:
            log.warning("peer %s did not close cleanly: %s", self.id, err)
        # readers end when their tracks end; cancel anything still waiting
        done, pending = (await asyncio.wait(self._tasks, timeout=5)) if self._tasks else (
            set(), set())
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.warning("peer %s task failed: %r", self.id, task.exception())


async def _drain(track: Any) -> None:
    try:
        while True:
            await track.recv()
    except Exception:
        return
