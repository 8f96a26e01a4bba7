"""Offer validation and answer shaping for low-bitrate uplinks.

The answer is where the server states what it wants to *receive* (RFC 3556 / RFC 3890 / RFC
7587): ``b=TIAS`` + ``b=AS`` on the video section cap the browser's start and maximum bitrate
before any feedback exists, and the Opus ``fmtp`` asks for mono wideband speech with DTX (no
packets in silence) and in-band FEC (a lost 20 ms frame can be rebuilt from the next packet).
Chromium honours all of them (measured, ``shared/notes/webrtc.md``).

Why 24 kbit/s and ``maxplaybackrate=16000``: libopus only adds FEC (LBRR) data when the bitrate
clears a threshold that grows with the coded audio bandwidth and the loss it is told about. At
5 % loss (complexity 9, as desktop Chromium) wideband needs ~24 kbit/s; at 12 kbit/s no packet
carries FEC, and without a bandwidth cap Chromium codes fullband and needs ~32 kbit/s (measured
with libopus on LibriSpeech: ``tests/unit/test_opus_fec.py``). The analysis runs at 16 kHz, so
``maxplaybackrate=16000`` (wideband) costs it nothing. Phones (complexity 5) start FEC at 28
kbit/s at exactly 5 % loss and from ~20 kbit/s above 5 % (libopus then narrows the band). The
price is ~12 kbit/s more than a FEC-less 12 kbit/s stream, taken from video in the ``low``
profile so it stays within 150 kbit/s; DTX sends nothing in silence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiortc import sdp as aiortc_sdp

from signaling.errors import InvalidOfferError

MAX_SDP_BYTES = 64 * 1024


@dataclass(frozen=True)
class OfferSummary:
    audio: bool
    video: bool
    datachannel: bool
    video_codecs: tuple[str, ...]


def validate_offer(sdp: str) -> OfferSummary:
    """Reject what aiortc would choke on with a clear message, before touching a peer."""
    if not isinstance(sdp, str) or not sdp.strip():
        raise InvalidOfferError("the offer has no SDP")
    if len(sdp.encode("utf-8", "replace")) > MAX_SDP_BYTES:
        raise InvalidOfferError("the SDP offer is too large")
    if not sdp.lstrip().startswith("v=0"):
        raise InvalidOfferError("not an SDP offer (it must start with v=0)")
    try:
        parsed = aiortc_sdp.SessionDescription.parse(sdp)
    except Exception as err:  # aiortc's parser raises assorted errors on bad input
        raise InvalidOfferError(f"malformed SDP offer ({type(err).__name__})") from None
    kinds = [m.kind for m in parsed.media]
    video_codecs = tuple(c.name for m in parsed.media if m.kind == "video" for c in m.rtp.codecs)
    for media in parsed.media:
        if media.kind in ("audio", "video") and (
                media.ice is None or not media.ice.usernameFragment):
            raise InvalidOfferError(f"the {media.kind} section has no ICE credentials")
        if media.kind in ("audio", "video") and media.direction not in ("sendonly", "sendrecv"):
            raise InvalidOfferError(f"the {media.kind} section does not send media")
    if "audio" not in kinds and "video" not in kinds:
        raise InvalidOfferError("the offer sends neither audio nor video")
    if "video" in kinds and not any(c in ("VP8", "H264") for c in video_codecs):
        raise InvalidOfferError("the offer has no supported video codec (VP8 or H264)")
    return OfferSummary("audio" in kinds, "video" in kinds, "application" in kinds, video_codecs)


@dataclass(frozen=True)
class AnswerShape:
    video_max_bps: int
    opus_max_average_bps: int = 24_000
    opus_max_playback_hz: int = 16_000  # wideband: what the 16 kHz analysis uses


def shape_answer(sdp: str, shape: AnswerShape) -> str:
    """Add the bandwidth lines to the video section and the Opus parameters to the audio one."""
    lines = sdp.replace("\r\n", "\n").rstrip("\n").split("\n")
    out: list[str] = []
    section = None
    opus_pt = None
    seen_fmtp = False
    for line in lines:
        if line.startswith("m="):
            if section == "audio" and opus_pt is not None and not seen_fmtp:
                out.append(_opus_fmtp(opus_pt, "", shape))
            section = line[2:].split(" ", 1)[0]
            opus_pt, seen_fmtp = None, False
            out.append(line)
            continue
        if section == "video" and line.startswith("b="):
            continue  # replaced below
        if section == "audio":
            match = re.match(r"a=rtpmap:(\d+) opus/48000", line, re.IGNORECASE)
            if match:
                opus_pt = match.group(1)
            if opus_pt is not None and line.startswith(f"a=fmtp:{opus_pt} "):
                out.append(_opus_fmtp(opus_pt, line.split(" ", 1)[1], shape))
                seen_fmtp = True
                continue
        out.append(line)
        if section == "video" and line.startswith("c="):
            out.append(f"b=AS:{max(1, shape.video_max_bps // 1000)}")
            out.append(f"b=TIAS:{shape.video_max_bps}")
    if section == "audio" and opus_pt is not None and not seen_fmtp:
        out.append(_opus_fmtp(opus_pt, "", shape))
    return "\r\n".join(out) + "\r\n"


def _opus_fmtp(pt: str, existing: str, shape: AnswerShape) -> str:
    params: dict[str, str] = {}
    for item in existing.split(";"):
        if "=" in item:
            key, value = item.strip().split("=", 1)
            params[key] = value
    params.update({"minptime": params.get("minptime", "10"), "useinbandfec": "1", "usedtx": "1",
                   "stereo": "0", "sprop-stereo": "0",
                   "maxaveragebitrate": str(shape.opus_max_average_bps),
                   "maxplaybackrate": str(shape.opus_max_playback_hz)})
    return f"a=fmtp:{pt} " + ";".join(f"{k}={v}" for k, v in params.items())
