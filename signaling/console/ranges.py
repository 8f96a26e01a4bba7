"""HTTP range requests (RFC 9110 section 14) over a media source: seeking in the browser.

A ``<video>`` element asks for ``bytes=N-`` when the reviewer seeks; answering 206 with the
bytes from N lets it jump without downloading what lies before. One range per request (what
browsers send); a multi-range request is answered with the whole object (allowed by the RFC).
Bytes are read and sent in bounded chunks from a worker thread, never all at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi.responses import Response, StreamingResponse

from signaling.console.media import MediaSource

CHUNK_BYTES = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class ByteRange:
    start: int
    stop: int  # exclusive


class Unsatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The requested range clipped to the object; ``None``: send everything (no/odd header)."""
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None  # multi-range or another unit: ignore, send the whole object
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - length), size)
    start = int(first)
    if start >= size:
        raise Unsatisfiable
    stop = size if not last else min(size, int(last) + 1)
    if stop <= start:
        raise Unsatisfiable
    return ByteRange(start, stop)


def _chunks(source: MediaSource, start: int, stop: int) -> Iterator[bytes]:
    position = start
    while position < stop:
        end = min(stop, position + CHUNK_BYTES)
        block = source.read(position, end)
        if not block:
            return
        yield block
        position += len(block)


def media_response(source: MediaSource, range_header: str | None) -> Response:
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "no-store",
               "X-Content-Type-Options": "nosniff"}
    try:
        wanted = parse_range(range_header, source.size)
    except Unsatisfiable:
        return Response(status_code=416, headers={**headers,
                                                  "Content-Range": f"bytes */{source.size}"})
    if wanted is None:
        headers["Content-Length"] = str(source.size)
        return StreamingResponse(_chunks(source, 0, source.size), status_code=200,
                                 media_type=source.content_type, headers=headers)
    headers["Content-Range"] = f"bytes {wanted.start}-{wanted.stop - 1}/{source.size}"
    headers["Content-Length"] = str(wanted.stop - wanted.start)
    return StreamingResponse(_chunks(source, wanted.start, wanted.stop), status_code=206,
                             media_type=source.content_type, headers=headers)
