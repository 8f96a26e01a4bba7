"""The evidence timeline a reviewer scrubs: persisted evidence as markers on the recording.

Times: the recording's timestamps are the interview's media clock (``signaling.recording``:
0 = the recording's start), and evidence windows are on that same clock, so a marker's ``t``
is the evidence's ``media_start`` and ``video.currentTime = t`` lands on it. Flow entries
without a media window are placed by their wall-clock time minus the media clock's start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from verification.store.schema import EvidenceRow

MAX_ITEMS = 2000

_OUTCOMES = {"supports": "pass", "contradicts": "fail", "inconclusive": "flag",
             "not_checked": "info"}
_FLOW_OUTCOMES = {"challenge_passed": "pass", "step_completed": "pass",
                  "challenge_failed_attempt": "fail", "step_attempt_failed": "fail",
                  "declined": "flag", "connection_lost": "flag", "server_restarted": "flag"}
_CHECK_KINDS = {"face_match": "face_match", "lip_sync": "lip_sync",
                "micro_expression": "expression", "background": "background",
                "lbs": "location", "poi": "location", "interview": "step"}
_CODE_KINDS = {"identity_changed": "identity", "face_continuity": "identity",
               "multiple_faces": "second_face", "second_voice": "second_voice",
               "voice_continuity": "second_voice", "consent": "consent",
               "digits_not_spoken": "digits"}


@dataclass(frozen=True)
class MediaClock:
    """Where media time 0 lies on the wall clock (epoch s), when known."""

    origin: float | None

    def at(self, row: EvidenceRow) -> tuple[float | None, float | None]:
        if row.media_start is not None:
            end = row.media_end if row.media_end is not None else row.media_start
            return round(row.media_start, 3), round(max(end, row.media_start), 3)
        if self.origin is None or row.recorded_at is None:
            return None, None
        t = round(max(0.0, row.recorded_at - self.origin), 3)
        return t, t


def marker_kind(row: EvidenceRow) -> str:
    code = row.code or ""
    if code in _CODE_KINDS:
        return _CODE_KINDS[code]
    if code.startswith("digits") or (row.step_id or "").startswith("digits"):
        return "digits"
    if row.kind == "flow":
        if code.startswith("challenge"):
            return "challenge"
        if (row.step_id or "") == "consent":
            return "consent"
        return "step"
    if code.startswith("challenge"):
        return "challenge"
    return _CHECK_KINDS.get(row.check or "", "other")


def marker_outcome(row: EvidenceRow) -> str:
    if row.kind == "flow":
        return _FLOW_OUTCOMES.get(row.code or "", "info")
    return _OUTCOMES.get(row.outcome or "", "info")


def timeline(rows: Sequence[EvidenceRow], clock: MediaClock) -> list[dict[str, Any]]:
    items = []
    for row in rows[:MAX_ITEMS]:
        if row.code == "reference_frame":
            continue  # shown as the reference image, not as a marker
        t, end_t = clock.at(row)
        items.append({"t": t, "end_t": end_t, "kind": marker_kind(row), "label": row.summary,
                      "outcome": marker_outcome(row), "evidence_id": row.entry_id,
                      "code": row.code, "check": row.check})
    items.sort(key=lambda item: (item["t"] is None, item["t"] or 0.0))
    return items


def face_match_series(rows: Iterable[EvidenceRow]) -> tuple[list[dict[str, float]], float | None]:
    """Similarity to the ID photo over time, and the session's match score (the median)."""
    series: list[dict[str, float]] = []
    score = None
    for row in rows:
        if row.check != "face_match":
            continue
        payload = row.payload or {}
        details = payload.get("details") or {}
        for pair in details.get("similarities") or ():
            if isinstance(pair, list | tuple) and len(pair) == 2:
                series.append({"t": round(float(pair[0]), 3), "score": round(float(pair[1]), 4)})
        if payload.get("score") is not None:
            score = float(payload["score"])
    if score is None:
        for row in rows:
            similarity = (((row.payload or {}).get("details") or {}).get("similarity_to_id")
                          if row.code == "reference_frame" else None)
            if similarity is not None:
                score = float(similarity)
    series.sort(key=lambda point: point["t"])
    return series, score


def reasons(verdict_body: Mapping[str, Any], rows: Sequence[EvidenceRow],
            clock: MediaClock) -> list[dict[str, Any]]:
    """Each reason with the media time it points at: its first window, else its evidence."""
    by_id = {row.entry_id: row for row in rows}
    out = []
    for reason in verdict_body.get("reasons") or ():
        ids = [str(i) for i in reason.get("evidence_ids") or ()]
        windows = [w for w in reason.get("windows") or () if isinstance(w, Mapping)]
        t = end_t = None
        if windows:
            t = min(float(w.get("start", 0.0)) for w in windows)
            end_t = max(float(w.get("end", t)) for w in windows)
        else:
            times = [clock.at(by_id[i]) for i in ids if i in by_id]
            times = [pair for pair in times if pair[0] is not None]
            if times:
                t = min(pair[0] for pair in times)
                end_t = max(pair[1] for pair in times)
        out.append({"code": reason.get("code"), "message": reason.get("message"),
                    "check": reason.get("check"), "evidence_ids": ids,
                    "t": None if t is None else round(t, 3),
                    "end_t": None if end_t is None else round(end_t, 3)})
    return out
