"""One log line per HTTP request, without personal data: method, route template, status, time.

Why not uvicorn's access log: it prints the client's IP address and the full request path with
its query string, and both identify applicants (an IP address is personal data; paths carry
session ids, ``?reason=`` of a data-subject deletion is free text). ``verification serve`` turns
uvicorn's access log off and this middleware logs instead, on the ``signaling.access`` logger
at INFO:

    GET /console/api/sessions/{session_id} 200 12.3 ms

- the path is the matched **route template**, never the concrete path: ids and tokens in a path
  become ``{session_id}``, ``{peer_id}``;
- the query string is never logged;
- a mounted app (``/static``) is logged as its mount point plus ``/…``; a path that matched no
  route as ``(no route)``, since anything at all may be in it;
- no client address, no headers (cookies, bearer keys), no bodies (join tokens travel there).

Pure ASGI, outermost of the app's middleware, so a request whose handler raised is logged as
500 too (Starlette's error handler answers it further out).
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("signaling.access")
NO_ROUTE = "(no route)"
# Libraries that log network addresses at INFO: aioice prints every ICE candidate pair (the
# applicant's public and local IP addresses) as it checks them.
ADDRESS_LOGGERS = ("aioice",)


def quiet_address_loggers(level: int | str) -> None:
    """Keep the address-printing libraries at WARNING unless the operator asked for DEBUG
    (troubleshooting ICE needs the pairs; that log is then personal data, handle it so)."""
    number = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if isinstance(number, int) and number <= logging.DEBUG:
        return
    for name in ADDRESS_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def route_template(scope: Scope) -> str:
    """The request's route as declared (``/v1/sessions/{session_id}``), never its values."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(template, str) and template:
        return template
    mount = scope.get("root_path") or ""
    app_root = scope.get("app_root_path") or ""
    if mount and mount != app_root:
        return f"{mount.removeprefix(app_root)}/…"
    return NO_ROUTE


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the handler raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            log.info("%s %s %d %.1f ms", scope.get("method", "?"), route_template(scope), status,
                     (time.perf_counter() - started) * 1000.0)
