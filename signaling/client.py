"""An aiortc applicant: joins an interview over HTTP signaling and streams a pre-encoded file.

Used by the integration tests and the session benchmark. The media is replayed without
encoding (``MediaPlayer(decode=False)``), so a load generator costs little CPU; VP8 is forced
because the packets are VP8. The control channel's messages are collected in ``messages``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer

log = logging.getLogger(__name__)


class SignalingError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: httpx.Headers) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers


@dataclass
class Applicant:
    http: httpx.AsyncClient
    token: str
    media: Path | None  # None: connect but never send media
    # aiortc 1.16's MediaPlayer loses its real-time pacing after looping a file (pts restart
    # at 0 and it then sends as fast as it can): use media longer than the run instead.
    loop: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)
    peer_id: str | None = None
    resume_key: str | None = None
    session_id: str | None = None
    pc: RTCPeerConnection | None = None
    player: MediaPlayer | None = None
    channel: Any = None
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def join(self, trickle: bool = True) -> None:
        """Offer, answer, and (with ``trickle``) send end-of-candidates by PATCH."""
        self.pc = RTCPeerConnection()
        if self.media is not None:
            self.player = MediaPlayer(str(self.media), decode=False, loop=self.loop)
            for track in (self.player.video, self.player.audio):
                if track is None:
                    continue
                transceiver = self.pc.addTransceiver(track, direction="sendonly")
                if track.kind == "video":
                    caps = RTCRtpSender.getCapabilities("video")
                    transceiver.setCodecPreferences(
                        [c for c in caps.codecs if c.name in ("VP8", "rtx")])
        else:
            self.pc.addTransceiver("video", direction="sendonly")
            self.pc.addTransceiver("audio", direction="sendonly")
        self.channel = self.pc.createDataChannel("control")

        @self.channel.on("open")
        def on_open() -> None:
            self.opened.set()
            self.send({"type": "hello", "lang": "en", "ua": "aiortc",
                       "capture": {"width": 320, "height": 240, "frameRate": 15}})

        @self.channel.on("message")
        def on_message(raw: str) -> None:
            try:
                message = json.loads(raw)
            except ValueError:
                return
            self.messages.append(message)
            if message.get("type") == "done":
                self.done.set()

        await self.pc.setLocalDescription(await self.pc.createOffer())
        body = {"token": self.token, "sdp": self.pc.localDescription.sdp, "type": "offer",
                "resume_key": self.resume_key}
        answer = await self._post("/v1/rtc/offer", body)
        self.peer_id, self.resume_key = answer["peer_id"], answer["resume_key"]
        self.session_id = answer["session"]
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        if trickle:  # aiortc put its candidates in the offer; say there are no more
            await self._request("PATCH", f"/v1/rtc/{self.peer_id}/candidates",
                                {"resume_key": self.resume_key,
                                 "candidates": [{"candidate": None}]})

    def send(self, message: dict[str, Any]) -> None:
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps(message))

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    async def sender_stats(self) -> dict[str, int]:
        """Packets sent per kind (for delivered-share measurements)."""
        out: dict[str, int] = {}
        if self.pc is None:
            return out
        for sender in self.pc.getSenders():
            if sender.track is None:
                continue
            report = await sender.getStats()
            for stat in report.values():
                if stat.type == "outbound-rtp":
                    out[sender.track.kind] = stat.packetsSent
        return out

    async def hangup(self) -> None:
        if self.peer_id and self.resume_key:
            await self._request("POST", f"/v1/rtc/{self.peer_id}/hangup",
                                {"resume_key": self.resume_key}, check=False)

    async def close(self) -> None:
        if self.pc is not None:
            await self.pc.close()
        if self.player is not None:
            for track in (self.player.video, self.player.audio):
                if track is not None:
                    track.stop()
        self.pc = None
        self.player = None

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._request("POST", path, body)

    async def _request(self, method: str, path: str, body: dict[str, Any],
                       check: bool = True) -> dict[str, Any]:
        response = await self.http.request(method, path, json=body)
        data = response.json() if response.content else {}
        if check and response.status_code >= 400:
            raise SignalingError(response.status_code, data, response.headers)
        return data


async def create_session(http: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await http.post("/v1/admin/sessions", json=body)
    response.raise_for_status()
    return response.json()
