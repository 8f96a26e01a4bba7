"""A crafted header with non-ASCII bytes is a refusal (403 / False), never a 500: constant-time
comparisons run on bytes, since ``hmac.compare_digest`` raises on non-ASCII ``str``."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from signaling.console.auth import CSRF_COOKIE, CSRF_HEADER, check_csrf
from signaling.console.errors import CsrfError
from verification.workflow.webhooks import signature, verify_signature


def _post(headers: list[tuple[bytes, bytes]]) -> Request:
    return Request({"type": "http", "method": "POST", "path": "/console/api/x",
                    "headers": headers, "query_string": b""})


def test_a_non_ascii_csrf_token_is_refused_not_a_crash():
    token = "\u00e9\u00e9-token"
    request = _post([(CSRF_HEADER.lower().encode(), token.encode("latin-1")),
                     (b"cookie", f"{CSRF_COOKIE}=".encode() + token.encode("latin-1"))])
    with pytest.raises(CsrfError):
        check_csrf(request, "the-real-token")


def test_a_non_ascii_webhook_signature_is_invalid_not_a_crash():
    body, secret = b'{"ok": true}', "s3cret"
    good = signature(secret, 1000, body)
    assert verify_signature(secret, f"t=1000,v1={good}", body, now=1000.0)
    assert not verify_signature(secret, "t=1000,v1=\u00e9" + good[1:], body, now=1000.0)
