"""Errors of the WebRTC edge that a client can cause; ``http_status`` picks the response code."""

from __future__ import annotations

from verification.errors import RetryLaterError, VerificationError


class InvalidOfferError(VerificationError):
    code = "invalid_sdp"
    http_status = 400


class AlreadyConnectedError(VerificationError):
    code = "already_connected"
    http_status = 409


class UnknownPeerError(VerificationError):
    code = "unknown_peer"
    http_status = 404


class ForbiddenError(VerificationError):
    code = "forbidden"
    http_status = 403


class ServerBusyError(RetryLaterError):
    """Admission control refused a new interview: the client retries after ``retry_after_s``."""

    code = "server_busy"
    http_status = 503
