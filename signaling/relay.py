"""Live watch media: the applicant's decoded tracks, fanned out to reviewers by aiortc MediaRelay.

Why this shape: the applicant's tracks are already read by the analysis ingest (and tapped for
the recording before decoding), and an aiortc track can have only one reader. So the ingest's
reader hands each decoded frame it receives to a :class:`FeedTrack` as well (:func:`tapped`), and
``MediaRelay`` subscribes to that feed — never to the applicant's track itself. Consequences:

* no extra load on the applicant's uplink: every reviewer gets frames the server already has;
* the analysis and recording consumers never wait on a reviewer: handing a frame over is an
  append to a small bounded deque, done only while someone watches;
* a slow or dead reviewer never builds a queue: the feed keeps at most a few frames (oldest
  dropped, counted); video proxies are unbuffered (``buffered=False``: a subscriber busy
  encoding simply gets the newest frame next) and audio proxies hold at most
  ``WATCH_AUDIO_DEPTH`` frames, oldest dropped (unbuffered audio would lose a 20 ms frame
  whenever two arrive while the reviewer's encoder is busy, which the ear notices);
* a reconnecting applicant (a new peer, new tracks whose timestamps restart at zero) feeds the
  same per-interview feed, so watchers keep watching; timestamps are shifted to stay monotonic.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

log = logging.getLogger(__name__)

# Frames a feed may hold for the relay: a handful of audio frames (20 ms each, delivered in
# small bursts by the loss-robust receive path) and the newest video frame or two.
FEED_DEPTH = {"audio": 8, "video": 2}
_DEFAULT_STEP = {"audio": 960, "video": 6000}  # one frame in the usual 48 kHz / 90 kHz clocks
WATCH_AUDIO_DEPTH = 10  # 200 ms of audio per reviewer at most


class DropOldestQueue(asyncio.Queue):
    """An ``asyncio.Queue`` that never blocks and never grows: when full, the oldest item goes."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.dropped = 0

    def put_nowait(self, item: Any) -> None:
        if self.full():
            self.get_nowait()
            self.dropped += 1
        super().put_nowait(item)


@dataclass(frozen=True)
class FeedStats:
    offered: int
    dropped: int  # oldest frames pushed out because the relay lagged behind
    delivered: int


class FeedTrack(MediaStreamTrack):
    """The relay's source for one kind: frames handed over by the ingest, newest kept."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._frames: deque[tuple[Any, int]] = deque(maxlen=FEED_DEPTH[kind])
        self._ready = asyncio.Event()
        self._ended = False
        self._generation: int | None = None
        self._offset = 0
        self._last_pts: int | None = None
        self._step = _DEFAULT_STEP[kind]
        self.offered = self.dropped = self.delivered = 0

    def offer(self, frame: Any, generation: int) -> None:
        """Called by the ingest's reader for each frame; O(1) and never blocks."""
        if self._ended:
            return
        self.offered += 1
        if len(self._frames) == self._frames.maxlen:
            self.dropped += 1
        self._frames.append((frame, generation))
        self._ready.set()

    async def recv(self) -> Any:
        while not self._frames:
            if self._ended or self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        frame, generation = self._frames.popleft()
        self._continue_timeline(frame, generation)
        self.delivered += 1
        # Yield once, so the relay's subscribers that wait for a frame pick this one up before
        # the relay takes the next (unbuffered proxies keep only the newest frame).
        await asyncio.sleep(0)
        return frame

    def _continue_timeline(self, frame: Any, generation: int) -> None:
        """Shift a new connection's timestamps so each reviewer's stream stays monotonic.

        The ingest read this frame's timestamp synchronously before it was offered here, so
        changing it now changes only what the reviewers' encoders see."""
        if frame.pts is None:
            return
        if generation != self._generation:
            self._generation = generation
            self._offset = 0 if self._last_pts is None else \
                self._last_pts + self._step - frame.pts
        pts = frame.pts + self._offset
        if self._last_pts is not None and pts > self._last_pts:
            self._step = max(1, min(pts - self._last_pts, 10 * _DEFAULT_STEP[self.kind]))
        frame.pts = pts
        self._last_pts = pts

    def end(self) -> None:
        self._ended = True
        self._ready.set()

    @property
    def stats(self) -> FeedStats:
        return FeedStats(self.offered, self.dropped, self.delivered)


class LiveFeed:
    """One interview's watchable media: a feed per kind and the relay that fans it out."""

    def __init__(self) -> None:
        self.tracks = {kind: FeedTrack(kind) for kind in ("audio", "video")}
        self._relay = MediaRelay()
        self._subscribers: set[MediaStreamTrack] = set()
        self._generations = 0
        self.closed = False

    @property
    def watched(self) -> bool:
        return bool(self._subscribers)

    def next_generation(self) -> int:
        """A number for one applicant connection (its frames' timestamps restart at zero)."""
        self._generations += 1
        return self._generations

    def offer(self, kind: str, frame: Any, generation: int) -> None:
        if self._subscribers and kind in self.tracks:
            self.tracks[kind].offer(frame, generation)

    def subscribe(self, kind: str) -> MediaStreamTrack:
        """A relay proxy for one reviewer (stop it with :meth:`unsubscribe`): unbuffered for
        video, a short drop-oldest queue for audio."""
        if self.closed:
            raise MediaStreamError
        proxy = self._relay.subscribe(self.tracks[kind], buffered=kind == "audio")
        if kind == "audio":
            # aiortc 1.16 (pinned) keeps a buffered proxy's frames in ``_queue``, unbounded:
            # swap in a bounded one (the relay only ever calls put_nowait on it).
            proxy._queue = DropOldestQueue(WATCH_AUDIO_DEPTH)
        self._subscribers.add(proxy)
        return proxy

    def unsubscribe(self, proxy: MediaStreamTrack) -> None:
        self._subscribers.discard(proxy)
        proxy.stop()

    def close(self) -> None:
        """The interview ended: the relay stops and every proxy reports the end of its track."""
        self.closed = True
        for track in self.tracks.values():
            track.end()

    def stats(self) -> dict[str, FeedStats]:
        return {kind: track.stats for kind, track in self.tracks.items()}


class TappedTrack(MediaStreamTrack):
    """The applicant's received track as the ingest reads it, handing each frame to the feed."""

    def __init__(self, source: MediaStreamTrack, sink: Callable[[str, Any, int], None],
                 generation: int) -> None:
        super().__init__()
        self.kind = source.kind
        self._source = source
        self._sink = sink
        self._generation = generation

    async def recv(self) -> Any:
        frame = await self._source.recv()
        try:
            self._sink(self.kind, frame, self._generation)
        except Exception:  # a watcher problem must never cost the analysis a frame
            log.exception("live feed: frame hand-over failed")
        return frame


def tapped(track: MediaStreamTrack, feed: LiveFeed | None,
           generation: int) -> MediaStreamTrack:
    """``track`` itself when nobody can watch, else the same track with a hand-over to ``feed``."""
    if feed is None:
        return track
    return TappedTrack(track, feed.offer, generation)
