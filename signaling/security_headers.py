"""Security headers on every response: HTML pages, JSON API, static files, errors.

Why one middleware and not per-route headers: a header that only some routes set is a header
an attacker looks for the route without. The policy allows exactly what the applicant page and
the reviewer console use: scripts and styles from this origin only (no inline script, so an
injected ``<script>`` never runs), ``fetch`` to this origin, camera/microphone previews and
recordings as ``blob:`` / ``mediastream:`` media, images from this origin, ``data:`` and
``blob:`` (the console's ID photo and timeline thumbnails). No page may be framed
(clickjacking), no ``<base>`` may redirect relative URLs, no plugins. WebRTC media itself is
not governed by CSP. HSTS is sent only when the request arrived over HTTPS (directly or as the
proxy's ``X-Forwarded-Proto`` says) or the public URL is HTTPS: on plain HTTP it would be
meaningless or, on a development machine, sticky.

Personal data must not linger in browser or proxy caches: every response under ``/console``
and ``/v1`` (session JSON, evidence, media, exports, and their error answers) gets
``Cache-Control: no-store`` unless the route set its own policy (the console's static scripts
say ``no-cache``: they hold no data). The app's handler of unexpected errors answers outside
this middleware (Starlette runs it outermost), so it takes the same headers from
:func:`headers_for`.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
))

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self), microphone=(self), geolocation=(self)",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"
NO_STORE = "no-store"
PRIVATE_PREFIXES = ("/console", "/v1/")


def is_https(scope: Scope, https_public: bool = False) -> bool:
    """Whether the client's request arrived over HTTPS (directly or as the proxy says)."""
    if https_public or scope.get("scheme") == "https":
        return True
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-proto":
            return value.split(b",")[0].strip().lower() == b"https"
    return False


def headers_for(scope: Scope, public_url: str | None = None) -> dict[str, str]:
    """Every header this module adds to a response to ``scope`` (lower-case names)."""
    out = {name.lower(): value for name, value in SECURITY_HEADERS.items()}
    https_public = bool(public_url and public_url.lower().startswith("https://"))
    if is_https(scope, https_public):
        out["strict-transport-security"] = HSTS
    if str(scope.get("path", "")).startswith(PRIVATE_PREFIXES):
        out["cache-control"] = NO_STORE
    return out


class SecurityHeadersMiddleware:
    """Pure ASGI (no response buffering: recordings stream through untouched)."""

    def __init__(self, app: ASGIApp, public_url: str | None = None) -> None:
        self.app = app
        self.public_url = public_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(k.encode("latin-1"), v.encode("latin-1"))
                 for k, v in headers_for(scope, self.public_url).items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                message["headers"] = [*message.get("headers", ()),
                                      *(h for h in extra if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
