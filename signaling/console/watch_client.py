"""An aiortc reviewer for live watch: does what the console page does, minus the browser.

Offers recvonly audio + video, posts the offer to ``/console/api/live/{id}/watch`` with a
signed-in console client (cookie + ``X-CSRF-Token``), and decodes what the server relays,
keeping a few numbers per frame. Used by the live-watch tests and benchmark.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError


@dataclass(frozen=True)
class VideoSample:
    width: int
    height: int
    luma_std: float  # 0 for a blank picture
    arrival: float  # time.monotonic()


@dataclass
class WatchClient:
    video: list[VideoSample] = field(default_factory=list)
    audio_rms: list[float] = field(default_factory=list)  # int16 scale
    ended: set[str] = field(default_factory=set)
    watcher_id: str | None = None
    pc: RTCPeerConnection = field(default_factory=RTCPeerConnection)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")
        self.pc.on("track", lambda track: self._tasks.append(
            asyncio.create_task(self._consume(track))))

    async def offer(self) -> dict[str, Any]:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return {"sdp": self.pc.localDescription.sdp, "type": "offer"}

    async def accept(self, answer: dict[str, Any]) -> None:
        self.watcher_id = answer.get("watcher_id")
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    async def watch(self, console: httpx.AsyncClient, interview_id: str) -> httpx.Response:
        """Offer, post, and apply the answer when the server accepted (the response either way)."""
        response = await console.post(f"/console/api/live/{interview_id}/watch",
                                      json=await self.offer())
        if response.status_code == 200:
            await self.accept(response.json())
        return response

    async def _consume(self, track: Any) -> None:
        try:
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    luma = frame.to_ndarray(format="gray")
                    self.video.append(VideoSample(frame.width, frame.height,
                                                  float(luma[::4, ::4].std()),
                                                  time.monotonic()))
                else:
                    samples = frame.to_ndarray().astype(np.float32)
                    self.audio_rms.append(float(np.sqrt(np.mean(samples ** 2))))
        except MediaStreamError:
            self.ended.add(track.kind)

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def console_login(http: httpx.AsyncClient, username: str, password: str) -> str:
    """Sign ``http`` in to the console (httpx keeps the cookies); sets and returns the CSRF."""
    response = await http.post("/console/api/login",
                               json={"username": username, "password": password})
    response.raise_for_status()
    csrf = response.json()["csrf"]
    http.headers["X-CSRF-Token"] = csrf
    return csrf
