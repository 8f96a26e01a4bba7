"""Fold per-frame conditions into time spans, so evidence reads like a timeline.

Why: "no face 12.4-15.0 s" is evidence a reviewer can jump to; one item per frame is noise.
A :class:`SpanTracker` follows any number of named boolean conditions over analysed frames and
hands back each span when its condition ends (or when the interview ends).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Span:
    """One uninterrupted run of a condition over analysed frames (media seconds)."""

    name: str
    start: float
    end: float
    frames: int = 1
    peak: float = 0.0  # the largest value the caller reported inside the span
    details: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.end - self.start


class SpanTracker:
    """Open/close spans per condition name as frames arrive in media-time order."""

    def __init__(self) -> None:
        self._open: dict[str, Span] = {}

    def update(self, pts: float, active: dict[str, float]) -> list[Span]:
        """``active`` maps each condition true at ``pts`` to a value (kept as the span's peak).

        Returns the spans that ended: their condition is not active at ``pts``, and the span's
        ``end`` is set to ``pts`` (the first frame seen without it), so a one-frame span lasts
        one frame interval rather than zero.
        """
        closed = [span for name, span in self._open.items() if name not in active]
        for span in closed:
            del self._open[span.name]
            span.end = pts
        for name, value in active.items():
            span = self._open.get(name)
            if span is None:
                self._open[name] = Span(name, pts, pts, 1, value)
            else:
                span.end = pts
                span.frames += 1
                span.peak = max(span.peak, value)
        return closed

    def close_all(self, end: float | None = None) -> list[Span]:
        """End every open span (at ``end`` when given, else at its last active frame)."""
        spans = list(self._open.values())
        for span in spans:
            if end is not None:
                span.end = max(span.end, end)
        self._open.clear()
        return spans
