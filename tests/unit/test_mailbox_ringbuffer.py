"""Latest-frame mailbox and the audio ring buffer."""

from __future__ import annotations

import asyncio

import numpy as np

from verification.pipeline.mailbox import LatestMailbox
from verification.pipeline.ringbuffer import AudioRingBuffer
from verification.types import AudioChunk


def test_mailbox_keeps_only_newest_and_counts_drops():
    async def run():
        box: LatestMailbox[int] = LatestMailbox()
        for i in range(5):
            box.offer(i)
        assert await box.get() == 4
        assert box.stats.dropped == 4 and box.stats.delivered == 1
        box.offer(9)
        box.close()
        assert await box.get() == 9
        assert await box.get() is None

    asyncio.run(run())


def test_mailbox_close_wakes_waiting_consumer():
    async def run():
        box: LatestMailbox[int] = LatestMailbox()
        waiter = asyncio.create_task(box.get())
        await asyncio.sleep(0)
        box.close()
        assert await asyncio.wait_for(waiter, 1) is None

    asyncio.run(run())


def chunk(t: float, n: int, value: float = 0.5) -> AudioChunk:
    return AudioChunk(np.full(n, value, np.float32), pts=t)


def test_ringbuffer_marks_lost_packets_as_gaps():
    ring = AudioRingBuffer(capacity_seconds=2)
    ring.write(chunk(0.0, 320))  # 20 ms
    ring.write(chunk(0.1, 320))  # 80 ms lost in between
    read = ring.read()
    assert len(read.samples) == 320 + 1280 + 320
    assert [g.kind for g in read.gaps] == ["lost"]
    gap = read.gaps[0].window
    assert abs(gap.start - 0.02) < 1e-6 and abs(gap.end - 0.1) < 1e-6
    assert np.all(read.samples[320:1600] == 0)  # the hole is zeros *and* marked
    assert ring.lost_samples == 1280


def test_ringbuffer_is_bounded_and_reports_overrun():
    ring = AudioRingBuffer(capacity_seconds=1)
    for i in range(30):  # 3 s written, nobody reading
        ring.write(chunk(i * 0.1, 1600, value=float(i)))
    assert ring.available == 16000
    read = ring.read()
    assert read.samples[0] == 20.0  # oldest kept is the 21st chunk
    assert any(g.kind == "overrun" for g in ring.gaps)
    assert ring.overrun_samples == 32000


def test_ringbuffer_overlap_keeps_continuity_and_window_peeks():
    ring = AudioRingBuffer(capacity_seconds=2)
    ring.write(chunk(0.0, 1600, 1.0))
    ring.write(chunk(0.05, 1600, 2.0))  # overlaps by 800 samples: only the new tail is kept
    assert ring.available == 2400 and not ring.gaps
    peek = ring.window(0.05, 0.15)
    assert len(peek.samples) == 1600 and peek.samples[-1] == 2.0
    assert ring.available == 2400  # peeking does not consume
