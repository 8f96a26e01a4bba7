"""The control data channel's messages (JSON, one object per message).

Server -> page: ``welcome``, ``prompt``, ``guidance``, ``bitrate``, ``progress``, ``done``,
``error``, ``reviewer_message`` (text from a reviewer watching live; shown as plain text).
Page -> server: ``hello`` (capture size, language), ``geo`` / ``geo_denied``, ``stats`` (sender
counters, used for diagnostics and the weak-network test), ``tap`` (a choice on a consent /
loan-terms prompt), ``bye``.
Anything else, or anything malformed or oversized, is ignored and counted: a page can never
make the server raise.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE_BYTES = 4096


@dataclass(frozen=True)
class Hello:
    width: int
    height: int
    frame_rate: float
    lang: str
    user_agent: str
    timezone: str


@dataclass(frozen=True)
class Geo:
    latitude: float
    longitude: float
    accuracy_m: float
    timestamp_ms: float | None = None  # the browser's Position.timestamp


@dataclass(frozen=True)
class GeoDenied:
    reason: str


@dataclass(frozen=True)
class SenderStats:
    audio_packets_sent: int
    video_frames_encoded: int
    video_frames_sent: int
    round_trip_ms: float | None
    values: dict[str, Any]


@dataclass(frozen=True)
class Bye:
    pass


@dataclass(frozen=True)
class Tap:
    """The applicant tapped a choice on a prompt (consent, loan terms): "agree" / "decline"."""

    step: str
    choice: str


PageMessage = Hello | Geo | GeoDenied | SenderStats | Bye | Tap


def _finite(value: Any, lo: float, hi: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and lo <= value <= hi else None


def _int(value: Any) -> int:
    number = _finite(value, 0, 2**53)
    return int(number) if number is not None else 0


def parse_page_message(raw: str | bytes) -> PageMessage | None:
    if isinstance(raw, bytes):
        if len(raw) > MAX_MESSAGE_BYTES:
            return None
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if len(raw) > MAX_MESSAGE_BYTES:
        return None
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    kind = message.get("type")
    if kind == "hello":
        capture = message.get("capture") if isinstance(message.get("capture"), dict) else {}
        return Hello(_int(capture.get("width")), _int(capture.get("height")),
                     _finite(capture.get("frameRate"), 0, 120) or 0.0,
                     str(message.get("lang", ""))[:16], str(message.get("ua", ""))[:256],
                     str(message.get("timezone", ""))[:64])
    if kind == "geo":
        lat = _finite(message.get("latitude"), -90, 90)
        lon = _finite(message.get("longitude"), -180, 180)
        acc = _finite(message.get("accuracy"), 0, 1e7)
        if lat is None or lon is None or acc is None:
            return None
        return Geo(lat, lon, acc, _finite(message.get("timestamp"), 0, 1e14))
    if kind == "geo_denied":
        return GeoDenied(str(message.get("reason", ""))[:64])
    if kind == "stats":
        rtt = _finite(message.get("roundTripMs"), 0, 1e6)
        keep = {k: v for k, v in message.items() if isinstance(v, int | float | str)
                and not isinstance(v, bool) and len(str(k)) < 64}
        return SenderStats(_int(message.get("audioPacketsSent")),
                           _int(message.get("videoFramesEncoded")),
                           _int(message.get("videoFramesSent")), rtt, keep)
    if kind == "bye":
        return Bye()
    if kind == "tap":
        step, choice = message.get("step"), message.get("choice")
        if isinstance(step, str) and 0 < len(step) <= 64 and choice in ("agree", "decline"):
            return Tap(step, choice)
        return None
    return None


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))
