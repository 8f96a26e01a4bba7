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


class SecurityHeadersMiddleware:
    """Pure ASGI (no response buffering: recordings stream through untouched)."""

    def __init__(self, app: ASGIApp, public_url: str | None = None) -> None:
        self.app = app
        self.https_public = bool(public_url and public_url.lower().startswith("https://"))

    def _is_https(self, scope: Scope) -> bool:
        if self.https_public or scope.get("scheme") == "https":
            return True
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-proto":
                return value.split(b",")[0].strip().lower() == b"https"
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                 for k, v in SECURITY_HEADERS.items()]
        if self._is_https(scope):
            extra.append((b"strict-transport-security", HSTS.encode("latin-1")))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                message["headers"] = [*message.get("headers", ()),
                                      *(h for h in extra if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)

