"""A reviewer's offer: only one recvonly audio and one recvonly video section are accepted."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCPeerConnection

from signaling.console.watchers import validate_watch_offer
from signaling.errors import InvalidOfferError


def offer(*sections: tuple[str, str], channel: bool = False) -> str:
    async def make() -> str:
        pc = RTCPeerConnection()
        for kind, direction in sections:
            pc.addTransceiver(kind, direction=direction)
        if channel:
            pc.createDataChannel("x")
        sdp = (await pc.createOffer()).sdp
        await pc.close()
        return sdp

    return asyncio.run(make())


def test_recvonly_audio_and_video_is_accepted():
    validate_watch_offer(offer(("video", "recvonly"), ("audio", "recvonly")))
    validate_watch_offer(offer(("video", "recvonly")))


@pytest.mark.parametrize("sdp, why", [
    (lambda: offer(("video", "sendrecv")), "recvonly"),
    (lambda: offer(("video", "recvonly"), ("video", "recvonly")), "one audio and one video"),
    (lambda: offer(channel=True), "neither audio nor video"),
    (lambda: "hello", "v=0"),
    (lambda: "v=0\r\n" + "a=x\r\n" * 20000, "too large"),
])
def test_other_offers_are_refused_with_a_reason(sdp, why):
    with pytest.raises(InvalidOfferError, match=why):
        validate_watch_offer(sdp())
