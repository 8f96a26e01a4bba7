"""The live-watch feed without WebRTC: frames reach the ingest unchanged and at once, watchers
get them through MediaRelay, a watcher that stops reading holds at most one frame, and a new
applicant connection keeps each watcher's timestamps increasing."""

from __future__ import annotations

import asyncio
from fractions import Fraction

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from signaling.relay import FEED_DEPTH, WATCH_AUDIO_DEPTH, LiveFeed, tapped


def video_frame(pts: int, value: int = 0) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), value, np.uint8), format="rgb24")
    frame.pts = pts
    frame.time_base = Fraction(1, 90000)
    return frame


class ListTrack(MediaStreamTrack):
    """An applicant track: frames as fast as they are read, then the end."""

    kind = "video"

    def __init__(self, frames: list[av.VideoFrame]) -> None:
        super().__init__()
        self.frames = list(frames)

    async def recv(self) -> av.VideoFrame:
        await asyncio.sleep(0)
        if not self.frames:
            raise MediaStreamError
        return self.frames.pop(0)


async def read_all(track: MediaStreamTrack) -> list[av.VideoFrame]:
    out = []
    try:
        while True:
            out.append(await track.recv())
    except MediaStreamError:
        return out


def test_unwatched_feed_passes_frames_through_and_keeps_nothing():
    async def run():
        feed = LiveFeed()
        frames = [video_frame(i * 6000) for i in range(50)]
        got = await read_all(tapped(ListTrack(frames), feed, feed.next_generation()))
        return feed, frames, got

    feed, frames, got = asyncio.run(run())
    assert got == frames and [f.pts for f in got] == [i * 6000 for i in range(50)]
    assert feed.stats()["video"].offered == 0  # nobody watching: nothing handed over


def test_watchers_get_frames_and_a_stalled_one_holds_at_most_one():
    async def run():
        feed = LiveFeed()
        reader = feed.subscribe("video")
        stalled = feed.subscribe("video")
        frames = [video_frame(i * 6000, value=i) for i in range(200)]
        source = tapped(ListTrack(frames), feed, feed.next_generation())
        # the stalled watcher asks once (starting its subscription), then never again
        stalled_first = asyncio.create_task(stalled.recv())
        watcher = asyncio.create_task(read_all(reader))
        ingest = await read_all(source)
        await asyncio.sleep(0.05)
        feed.close()
        received = [frame.pts for frame in await asyncio.wait_for(watcher, 5)]
        await asyncio.wait_for(stalled_first, 5)
        return feed, stalled, ingest, received

    feed, stalled, ingest, received = asyncio.run(run())
    assert len(ingest) == 200  # the ingest lost nothing to the watchers
    stats = feed.stats()["video"]
    assert stats.offered == 200 and stats.delivered + stats.dropped <= 200
    assert len(received) >= 150 and received == sorted(received)
    # unbuffered proxy: no queue, just the newest frame; the feed itself is bounded
    assert stalled._queue is None
    assert len(feed.tracks["video"]._frames) <= FEED_DEPTH["video"]


def test_reconnected_applicant_continues_the_watchers_timeline():
    async def run():
        feed = LiveFeed()
        proxy = feed.subscribe("video")
        watcher = asyncio.create_task(read_all(proxy))
        await asyncio.sleep(0)
        for generation_start in (900_000, 0):  # the second connection restarts at zero
            generation = feed.next_generation()
            frames = [video_frame(generation_start + i * 6000) for i in range(10)]
            ingest = await read_all(tapped(ListTrack(frames), feed, generation))
            assert ingest[0].pts is not None
            await asyncio.sleep(0.01)
        feed.close()
        return [frame.pts for frame in await asyncio.wait_for(watcher, 5)]

    seen = asyncio.run(run())
    assert len(seen) >= 15
    assert all(b > a for a, b in zip(seen, seen[1:], strict=False)), seen


def test_closed_feed_refuses_new_watchers():
    feed = LiveFeed()
    feed.close()
    with pytest.raises(MediaStreamError):
        feed.subscribe("audio")


def audio_frame(pts: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 1920), np.int16), format="s16",
                                       layout="stereo")
    frame.sample_rate = 48000
    frame.pts = pts
    frame.time_base = Fraction(1, 48000)
    return frame


def test_audio_watchers_get_every_frame_and_a_stalled_one_stays_bounded():
    async def run():
        feed = LiveFeed()
        reader, stalled = feed.subscribe("audio"), feed.subscribe("audio")
        first = asyncio.create_task(stalled.recv())  # starts its subscription, then stalls
        listener = asyncio.create_task(read_all(reader))
        source = ListTrack([audio_frame(i * 960) for i in range(300)])
        source.kind = "audio"
        ingest = await read_all(tapped(source, feed, feed.next_generation()))
        await asyncio.sleep(0.05)
        backlog = stalled._queue.qsize()
        feed.close()
        got = [frame.pts for frame in await asyncio.wait_for(listener, 5)]
        await asyncio.wait_for(first, 5)
        return ingest, got, backlog, stalled._queue.dropped

    ingest, got, backlog, dropped = asyncio.run(run())
    assert len(ingest) == 300
    assert got == [i * 960 for i in range(300)]  # a listening reviewer misses nothing
    assert backlog <= WATCH_AUDIO_DEPTH and dropped >= 300 - WATCH_AUDIO_DEPTH - 1
