"""Webhook events: their JSON body, the signature header, and how a receiver verifies it.

Signature (Stripe-style, so receivers can reuse what they know)::

    X-Verification-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

``t`` is the time of *this* attempt, so a receiver can refuse old replays (default tolerance
5 minutes) while a retried event still verifies. ``X-Verification-Event-Id`` is the idempotency
key: the same event is retried with the same id and the same body, and a receiver that stores
the ids it processed applies each event once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

SIGNATURE_HEADER = "X-Verification-Signature"
EVENT_ID_HEADER = "X-Verification-Event-Id"
EVENT_TYPE_HEADER = "X-Verification-Event-Type"
DEFAULT_TOLERANCE_S = 300


def iso(ts: float | None) -> str | None:
    """Epoch seconds -> RFC 3339 UTC with milliseconds (``None`` stays ``None``)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def event_body(event_id: str, event_type: str, created_at: float, data: dict[str, Any]) -> str:
    """The exact text that is stored, POSTed and signed (compact, keys sorted)."""
    return json.dumps({"id": event_id, "type": event_type, "created_at": iso(created_at),
                       "data": data}, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify_signature(secret: str, header: str, body: bytes, now: float,
                     tolerance_s: float = DEFAULT_TOLERANCE_S) -> bool:
    """What a receiver does (documented in the README): parse ``t`` and every ``v1``, recompute
    the HMAC over the raw body, compare in constant time, refuse stale timestamps."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates)
