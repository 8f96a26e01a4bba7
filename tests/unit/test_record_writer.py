"""An interview's status writes run in worker threads, in order, bounded, never after the end."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from signaling import record_writer
from signaling.record_writer import RecordWriter


def test_writes_run_off_the_loop_in_submission_order() -> None:
    async def scenario() -> tuple[list[int], set[int]]:
        done: list[int] = []
        threads: set[int] = set()
        writer = RecordWriter("interview t")

        def write(i: int) -> None:
            threads.add(threading.get_ident())
            time.sleep(0.02 if i == 0 else 0.0)  # a slow first write must not be overtaken
            done.append(i)

        for i in range(5):
            assert writer.submit(f"write {i}", lambda i=i: write(i))
        assert writer.pending == 5
        await writer.drain()
        assert writer.pending == 0
        return done, threads

    done, threads = asyncio.run(scenario())
    assert done == [0, 1, 2, 3, 4]
    assert threading.get_ident() not in threads


def test_a_failing_write_is_logged_and_the_next_still_runs(caplog) -> None:
    async def scenario() -> list[str]:
        done: list[str] = []
        writer = RecordWriter("interview t")

        def broken() -> None:
            raise RuntimeError("database is locked")

        writer.submit("connected", broken)
        writer.submit("prompt shown", lambda: done.append("prompt"))
        await writer.drain()
        return done

    assert asyncio.run(scenario()) == ["prompt"]
    assert "writing connected failed" in caplog.text


def test_nothing_is_written_after_close(caplog) -> None:
    async def scenario() -> list[str]:
        done: list[str] = []
        writer = RecordWriter("interview t")
        writer.submit("connected", lambda: done.append("connected"))
        await writer.close()
        assert not writer.submit("late", lambda: done.append("late"))
        await writer.drain()
        return done

    assert asyncio.run(scenario()) == ["connected"]
    assert "late after the final record" in caplog.text


def test_waiting_writes_are_bounded(monkeypatch, caplog) -> None:
    monkeypatch.setattr(record_writer, "MAX_PENDING", 3)

    async def scenario() -> tuple[list[bool], int]:
        gate = threading.Event()
        writer = RecordWriter("interview t")
        accepted = [writer.submit(f"w{i}", gate.wait) for i in range(5)]
        gate.set()
        await writer.drain()
        return accepted, writer.pending

    accepted, pending = asyncio.run(scenario())
    assert accepted == [True, True, True, False, False] and pending == 0
    assert "dropped" in caplog.text


def test_drain_with_nothing_submitted_returns() -> None:
    asyncio.run(RecordWriter("interview t").drain())


@pytest.mark.parametrize("fixes", [1, 50])
def test_location_fixes_are_coalesced(fixes: int) -> None:
    """The live interview's pattern: one location write waits at a time and writes the newest
    fix (signaling.live.LiveInterview._record_geo)."""
    from signaling.live import LiveInterview

    written: list[int] = []

    class Service:
        def geolocation(self, interview_id: str, fix: int) -> None:
            time.sleep(0.01)
            written.append(fix)

    class Hub:
        service = Service()

    async def scenario() -> None:
        live = LiveInterview.__new__(LiveInterview)  # only the location path is exercised
        live.id, live.hub = "t", Hub()
        live.records = RecordWriter("interview t")
        live._geo_latest, live._geo_queued = None, False
        for fix in range(fixes):
            live._record_geo(fix)
            await asyncio.sleep(0)
        await live.records.drain()

    asyncio.run(scenario())
    assert written[-1] == fixes - 1
    assert len(written) <= 2
