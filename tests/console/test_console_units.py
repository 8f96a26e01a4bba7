"""The console's small rules without a server: byte ranges, timeline markers, location and
distances, the risk order, the audit sample, the login throttle, related sessions."""

from __future__ import annotations

import pytest

from signaling.console.limiter import LoginLimits, LoginThrottle
from signaling.console.location import location
from signaling.console.ranges import ByteRange, Unsatisfiable, parse_range
from signaling.console.related import related_sessions
from signaling.console.risk import risk_of, sampled_for_audit
from signaling.console.session_view import mask_name
from signaling.console.timeline import MediaClock, marker_kind, marker_outcome, reasons, timeline
from verification.geo.distance import haversine_m
from verification.store.db import make_engine
from verification.store.migrate import upgrade_database
from verification.store.schema import EvidenceRow, InterviewSessionRow
from verification.workflow import repository as repo


def row(entry_id: str, *, kind: str = "evidence", check: str | None = None,
        outcome: str | None = None, code: str = "", start: float | None = None,
        end: float | None = None, recorded_at: float = 0.0, step: str | None = None,
        payload: dict | None = None) -> EvidenceRow:
    return EvidenceRow(session_id="s", entry_id=entry_id, kind=kind, check=check,
                       outcome=outcome, code=code, summary=f"{code or kind} summary",
                       media_start=start, media_end=end, recorded_at=recorded_at,
                       step_id=step, payload=payload or {})


@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("", None), ("bytes=0-99", ByteRange(0, 100)),
    ("bytes=990-", ByteRange(990, 1000)),
    ("bytes=-10", ByteRange(990, 1000)), ("bytes=500-5000", ByteRange(500, 1000)),
    ("bytes=-5000", ByteRange(0, 1000)), ("bytes=0-1,5-6", None), ("items=0-1", None),
])
def test_byte_ranges(header, expected):
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5-4", "bytes=-0"])
def test_unsatisfiable_ranges(header):
    with pytest.raises(Unsatisfiable):
        parse_range(header, 1000)


def test_markers_name_what_the_reviewer_looks_for():
    cases = {
        ("evidence", "face_presence", "identity_changed"): "identity",
        ("evidence", "face_presence", "multiple_faces"): "second_face",
        ("evidence", "voiceprint", "voice_continuity"): "second_voice",
        ("evidence", "lip_sync", "lip_sync_segment_mismatch"): "lip_sync",
        ("evidence", "micro_expression", "expression_timeline"): "expression",
        ("evidence", "background", "background_jump"): "background",
        ("evidence", "lbs", "gps_implausible"): "location",
        ("evidence", "face_liveness", "challenge_failed"): "challenge",
        ("evidence", "face_match", "face_mismatch"): "face_match",
        ("evidence", "lip_sync", "digits_not_spoken"): "digits",
        ("flow", None, "challenge_issued"): "challenge",
        ("flow", None, "step_started"): "step",
        ("evidence", "speech_presence", "speech_segment"): "other",
    }
    for (kind, check, code), expected in cases.items():
        assert marker_kind(row("e", kind=kind, check=check, code=code)) == expected, code
    assert marker_kind(row("e", kind="flow", code="tap", step="consent")) == "consent"
    assert marker_outcome(row("e", outcome="contradicts")) == "fail"
    assert marker_outcome(row("e", outcome="inconclusive")) == "flag"
    assert marker_outcome(row("e", kind="flow", code="challenge_passed")) == "pass"


def test_times_are_seconds_of_the_recording():
    clock = MediaClock(origin=1000.0)
    rows = [row("ev-1", check="face_match", outcome="supports", code="face_match",
                start=4.0, end=9.5),
            row("ev-2", kind="flow", code="step_started", recorded_at=1012.25),
            row("ev-3", check="media_quality", code="reference_frame", start=3.0, end=3.0)]
    items = timeline(rows, clock)
    assert [(i["evidence_id"], i["t"], i["end_t"]) for i in items] == [
        ("ev-1", 4.0, 9.5), ("ev-2", 12.25, 12.25)]  # the reference frame is not a marker
    assert timeline(rows[1:2], MediaClock(None))[0]["t"] is None
    verdict = {"reasons": [
        {"code": "a", "message": "m", "check": "face_match", "evidence_ids": ["ev-1"],
         "windows": [{"start": 5.0, "end": 6.0}]},
        {"code": "b", "message": "m", "check": "interview", "evidence_ids": ["ev-2"],
         "windows": []},
        {"code": "c", "message": "m", "check": "lbs", "evidence_ids": [], "windows": []}]}
    assert [(r["t"], r["end_t"]) for r in reasons(verdict, rows, clock)] == [
        (5.0, 6.0), (12.25, 12.25), (None, None)]


def test_location_reads_gps_ip_and_declared_and_measures_distances():
    session = InterviewSessionRow(
        id="s", geo={"latitude": 31.2304, "longitude": 121.4737, "accuracy_m": 15.0},
        declared_business={"address": "8 Jinqiao Rd", "coordinates": {"lat": 31.25,
                                                                      "lon": 121.61}})
    ip = row("ev-9", check="lbs", outcome="supports", code="ip_location_consistent",
             payload={"details": {"ip_lat": 31.0, "ip_lon": 121.0, "ip_city": "Shanghai"}})
    got = location(session, [ip])
    assert got["gps"] == {"lat": 31.2304, "lon": 121.4737, "accuracy_m": 15.0}
    assert got["ip"]["city"] == "Shanghai" and got["declared"]["address"] == "8 Jinqiao Rd"
    distances = got["distances_m"]
    assert distances["gps_declared"] == pytest.approx(
        haversine_m(31.2304, 121.4737, 31.25, 121.61), abs=0.1)
    assert distances["gps_ip"] == pytest.approx(haversine_m(31.2304, 121.4737, 31.0, 121.0),
                                                abs=0.1)
    bare = location(InterviewSessionRow(id="t", geo=None, declared_business=None), [])
    assert bare == {"gps": None, "ip": None, "declared": None,
                    "distances_m": {"gps_declared": None, "ip_declared": None, "gps_ip": None}}


def test_risk_orders_hard_gates_before_doubts():
    clean = {"checks": {"face_match": {"status": "supported"}}, "reasons": []}
    doubtful = {"checks": {"voiceprint": {"status": "inconclusive"},
                           "lbs": {"status": "not_checked"}}, "reasons": []}
    gated = {"checks": {"face_match": {"status": "contradicted"}},
             "reasons": [{"code": "face_mismatch"}]}
    assert risk_of(clean) == 0.0
    assert 0 < risk_of(doubtful) < risk_of(gated) <= 1.0


def test_the_audit_sample_is_deterministic_and_near_its_rate():
    ids = [f"{n:032x}" for n in range(4000)]
    picked = [i for i in ids if sampled_for_audit(i, 0.05)]
    assert 0.035 < len(picked) / len(ids) < 0.065
    assert picked == [i for i in ids if sampled_for_audit(i, 0.05)]
    assert not any(sampled_for_audit(i, 0.0) for i in ids[:100])


def test_throttle_counts_failures_in_a_sliding_window():
    now = [0.0]
    throttle = LoginThrottle(lambda: now[0], LoginLimits(max_user_failures=3,
                                                         max_client_failures=5,
                                                         window_s=60.0))
    keys = ("user:eve", "client:1.2.3.4")
    for _ in range(3):
        assert throttle.retry_after(keys) is None
        throttle.failed(keys)
    assert throttle.retry_after(keys) == 60
    assert throttle.retry_after(("user:bob", "client:5.6.7.8")) is None
    now[0] = 61.0
    assert throttle.retry_after(keys) is None


def test_names_are_masked():
    assert mask_name("Wang Fang") == "W*** F***"
    assert mask_name("张伟") == "张*"
    assert mask_name(None) is None


def test_related_sessions_are_read_from_both_directions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade_database(engine)
    a, b, c = "a" * 32, "b" * 32, "c" * 32
    with repo.session_factory(engine).begin() as db:
        for n, sid in enumerate((a, b, c)):
            db.add(InterviewSessionRow(
                id=sid, loan_product="default", script_version="", policy_version="",
                locale="en", token_sha256=sid * 2, created_at=float(n), expires_at=9e9,
                updated_at=0.0, state="finished", step_index=0, connections=0,
                geo_denied=False, evidence_seq=0))
        db.flush()
        background = row("ev-1", check="background", outcome="contradicts",
                          code="background_seen_with_other_applicant", recorded_at=5.0,
                          payload={"details": {"matches": [{"session_id": a,
                                                            "applicant": "different"}]}})
        background.session_id = b
        cluster = row("ev-1", check="lbs", outcome="contradicts", code="location_cluster",
                      recorded_at=6.0, payload={"details": {"other_sessions": [
                          {"session_id": a, "distance_m": 40.0},
                          {"session_id": b, "distance_m": 12.0}]}})
        cluster.session_id = c
        db.add_all([background, cluster])
    with repo.session_factory(engine)() as db:
        of_a = {r["session_id"]: r["why"] for r in related_sessions(db, a, [], since=0.0)}
        of_c = {r["session_id"]: r["why"]
                for r in related_sessions(db, c, [cluster], since=2.0)}
    assert of_a == {b: "same background (different applicant)",
                    c: "same location cluster, 40 m apart"}
    assert of_c == {a: "same location cluster, 40 m apart",
                    b: "same location cluster, 12 m apart"}
    engine.dispose()
