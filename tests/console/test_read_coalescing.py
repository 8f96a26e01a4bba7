"""Repeated console reads are audited once a minute (queue refreshes, Range requests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from signaling.console import services as services_module
from signaling.console.services import READ_COALESCE_S, ConsoleServices
from verification.protect.audit import AuditLog


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def svc(tmp_path: Path) -> tuple[ConsoleServices, Clock]:
    clock = Clock()
    services = ConsoleServices(settings=None, accounts=None, audit=AuditLog.for_data_dir(tmp_path),
                               sessions=None, throttle=None, clock=clock, core=None)
    return services, clock


def _reads(services: ConsoleServices) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.target) for e in services.audit.entries()]


def test_a_repeated_read_is_written_once_per_window(svc) -> None:
    services, clock = svc
    assert services.record_read("rob", "reviewer", "queue.view", "queue", (None, None), items=3)
    clock.now += 5.0
    assert not services.record_read("rob", "reviewer", "queue.view", "queue", (None, None))
    clock.now += READ_COALESCE_S
    assert services.record_read("rob", "reviewer", "queue.view", "queue", (None, None))
    assert _reads(services) == [("rob", "queue.view", "queue")] * 2
    assert services.audit.verify().ok


def test_other_readers_targets_and_media_are_separate(svc) -> None:
    services, _ = svc
    assert services.record_read("rob", "reviewer", "recording.play", "session:a", "recording")
    assert services.record_read("rita", "reviewer", "recording.play", "session:a", "recording")
    assert services.record_read("rob", "reviewer", "recording.play", "session:b", "recording")
    assert services.record_read("rob", "reviewer", "queue.view", "queue", ("express", None))
    assert services.record_read("rob", "reviewer", "queue.view", "queue", (None, None))
    assert len(_reads(services)) == 5


def test_a_clock_stepping_back_does_not_silence_reads(svc) -> None:
    services, clock = svc
    assert services.record_read("rob", "reviewer", "queue.view", "queue", None)
    clock.now -= 3600.0  # wall clock corrected backwards
    assert services.record_read("rob", "reviewer", "queue.view", "queue", None)


def test_memory_of_recent_reads_is_bounded(svc, monkeypatch) -> None:
    services, _ = svc
    monkeypatch.setattr(services_module, "_RECENT_READS_MAX", 3)
    for target in ("a", "b", "c", "d"):
        services.record_read("rob", "reviewer", "session.view_id_photo", target, "id_photo")
    assert len(services._recent_reads) == 3
    # the oldest was forgotten, so reading it again is written again
    assert services.record_read("rob", "reviewer", "session.view_id_photo", "a", "id_photo")
