"""The console's HTML pages and static files (written by the UI: ``signaling/static/console``).

Pages are public files (no data in them; every byte of data comes from the cookie-protected
JSON API). The CSP and other security headers come from ``signaling.security_headers`` (one
middleware for every response). A page not yet present answers 404.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from signaling.console.errors import MediaNotFoundError

STATIC = Path(__file__).resolve().parent.parent / "static" / "console"
PAGE_HEADERS = {"Cache-Control": "no-store"}

router = APIRouter(include_in_schema=False)


class PageNotFoundError(MediaNotFoundError):
    code = "not_found"


def _page(name: str) -> FileResponse:
    path = STATIC / name
    if not path.is_file():
        raise PageNotFoundError(f"console page {name} is not installed")
    return FileResponse(path, media_type="text/html", headers=PAGE_HEADERS)


@router.get("/console")
def console_page() -> FileResponse:
    return _page("index.html")


@router.get("/console/sessions/{session_id}")
def session_page(session_id: str) -> FileResponse:  # noqa: ARG001 - the page reads the URL
    return _page("session.html")


@router.get("/console/live")
def live_page() -> FileResponse:
    return _page("live.html")


@router.get("/console/live/{session_id}")
def live_session_page(session_id: str) -> FileResponse:  # noqa: ARG001
    return _page("live_session.html")


@router.get("/console/static/{path:path}")
def static_file(path: str) -> FileResponse:
    """A file under ``signaling/static/console`` (no traversal outside it)."""
    target = (STATIC / path).resolve()
    if STATIC.resolve() not in target.parents or not target.is_file():
        raise PageNotFoundError("no such console file")
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if target.suffix == ".js":
        media_type = "text/javascript"
    return FileResponse(target, media_type=media_type, headers={"Cache-Control": "no-cache"})
