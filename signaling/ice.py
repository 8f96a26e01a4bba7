"""ICE configuration: STUN/TURN servers from settings, and loopback candidates for tests.

aiortc falls back to a public Google STUN server when given no ``iceServers``; the server always
passes an explicit list, so nothing is contacted that the operator did not configure. aioice
deliberately leaves 127.0.0.1 out of its host candidates; tests and benchmarks on one machine
turn on ``ice_loopback``, which offers *only* 127.0.0.1 (Chromium connects to it from its own
host candidate through ``lo``). Production uses the real interfaces plus TURN.
"""

from __future__ import annotations

from typing import Any

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

from signaling.settings import ServerSettings

_original_host_addresses = aioice.ice.get_host_addresses


def ice_servers(settings: ServerSettings) -> list[RTCIceServer]:
    servers = [RTCIceServer(urls=url) for url in settings.stun_urls]
    if settings.turn_urls:
        servers.append(RTCIceServer(urls=list(settings.turn_urls),
                                    username=settings.turn_username,
                                    credential=settings.turn_credential))
    return servers


def rtc_configuration(settings: ServerSettings) -> RTCConfiguration:
    return RTCConfiguration(iceServers=ice_servers(settings))


def browser_ice_servers(settings: ServerSettings) -> list[dict[str, Any]]:
    """The same servers in the shape ``new RTCPeerConnection({iceServers})`` takes."""
    out: list[dict[str, Any]] = [{"urls": url} for url in settings.stun_urls]
    if settings.turn_urls:
        out.append({"urls": list(settings.turn_urls), "username": settings.turn_username or "",
                    "credential": settings.turn_credential or ""})
    return out


def _loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


def use_loopback_candidates(enabled: bool) -> None:
    """Process-wide: aioice reads this module attribute when it gathers candidates."""
    aioice.ice.get_host_addresses = _loopback_only if enabled else _original_host_addresses
