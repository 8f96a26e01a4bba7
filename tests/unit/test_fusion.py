"""Fusion policy on canned evidence: hard gates, per-check aggregation, never pass on missing."""

from __future__ import annotations

from verification.fusion.policy import DefaultPolicy, PolicyConfig
from verification.types import Check, CheckStatus, Decision, Evidence, Outcome, TimeWindow


def ev(check, outcome, code="", t=0.0):
    return Evidence(check, outcome, TimeWindow(t, t + 1), f"{check} {outcome}", code=code)


SMALL = PolicyConfig(required=(Check.FACE_PRESENCE, Check.FACE_MATCH))


def test_all_required_supported_passes():
    verdict = DefaultPolicy(SMALL).decide([ev(Check.FACE_PRESENCE, Outcome.SUPPORTS),
                                           ev(Check.FACE_MATCH, Outcome.SUPPORTS)])
    assert verdict.decision is Decision.PASS
    assert verdict.checks[Check.FACE_MATCH].status is CheckStatus.SUPPORTED


def test_missing_evidence_is_review_never_pass():
    verdict = DefaultPolicy(SMALL).decide([ev(Check.FACE_PRESENCE, Outcome.SUPPORTS)])
    assert verdict.decision is Decision.REVIEW
    assert verdict.checks[Check.FACE_MATCH].status is CheckStatus.NOT_CHECKED
    assert any(r.code == "face_match_not_checked" for r in verdict.reasons)
    assert DefaultPolicy().decide([]).decision is Decision.REVIEW


def test_hard_gate_rejects_and_names_evidence_and_time():
    second_face = ev(Check.FACE_PRESENCE, Outcome.CONTRADICTS, "multiple_faces", t=12.0)
    verdict = DefaultPolicy(SMALL).decide([ev(Check.FACE_PRESENCE, Outcome.SUPPORTS),
                                           ev(Check.FACE_MATCH, Outcome.SUPPORTS), second_face])
    assert verdict.decision is Decision.REJECT
    reason = next(r for r in verdict.reasons if r.code == "multiple_faces")
    assert reason.evidence_ids == (second_face.id,)
    assert reason.windows[0].start == 12.0


def test_advisory_checks_never_gate():
    items = [ev(Check.FACE_PRESENCE, Outcome.SUPPORTS), ev(Check.FACE_MATCH, Outcome.SUPPORTS),
             ev(Check.MICRO_EXPRESSION, Outcome.CONTRADICTS, "multiple_faces")]
    assert DefaultPolicy(SMALL).decide(items).decision is Decision.PASS


def test_inconclusive_and_contradicted_go_to_review():
    policy = DefaultPolicy(SMALL)
    inconclusive = policy.decide([ev(Check.FACE_PRESENCE, Outcome.SUPPORTS),
                                  ev(Check.FACE_MATCH, Outcome.INCONCLUSIVE)])
    assert inconclusive.decision is Decision.REVIEW
    contradicted = policy.decide([ev(Check.FACE_PRESENCE, Outcome.SUPPORTS),
                                  ev(Check.FACE_MATCH, Outcome.CONTRADICTS, "weak_match")])
    assert contradicted.decision is Decision.REVIEW
    assert contradicted.checks[Check.FACE_MATCH].status is CheckStatus.CONTRADICTED


def test_verdict_json_has_decision_checks_reasons():
    data = DefaultPolicy().decide([]).to_json()
    assert data["decision"] == "review"
    assert {"face_liveness", "voiceprint", "background", "poi", "lbs"} <= set(data["checks"])
    assert data["reasons"] and all(r["check"] for r in data["reasons"])
