"""The fusion policy never gates on micro-expression evidence, whatever it says."""

from __future__ import annotations

import pytest

from verification.fusion.policy import ALWAYS_ADVISORY, DefaultPolicy, PolicyConfig
from verification.types import Check, CheckStatus, Decision, Evidence, Outcome, TimeWindow

W = TimeWindow(0.0, 10.0)
REQUIRED = (Check.FACE_PRESENCE, Check.FACE_MATCH)


def supported() -> list[Evidence]:
    return [Evidence(c, Outcome.SUPPORTS, W, "ok") for c in REQUIRED]


def micro(outcome: Outcome, code: str = "micro_expression") -> Evidence:
    return Evidence(Check.MICRO_EXPRESSION, outcome, W, "brief lip press", code=code)


def test_micro_expression_is_advisory_by_default():
    assert Check.MICRO_EXPRESSION in PolicyConfig().advisory
    assert Check.MICRO_EXPRESSION not in PolicyConfig().required
    assert Check.MICRO_EXPRESSION in ALWAYS_ADVISORY


@pytest.mark.parametrize("outcome", list(Outcome))
@pytest.mark.parametrize("code", ["micro_expression", "brief_expression",
                                  "presentation_attack", "face_mismatch"])
def test_no_micro_expression_evidence_changes_a_pass(outcome: Outcome, code: str):
    policy = DefaultPolicy(PolicyConfig(required=REQUIRED))
    evidence = supported() + [micro(outcome, code) for _ in range(20)]
    verdict = policy.decide(evidence)
    assert verdict.decision is Decision.PASS
    assert all(r.check is not Check.MICRO_EXPRESSION for r in verdict.reasons)


def test_micro_expression_never_turns_review_into_reject():
    policy = DefaultPolicy(PolicyConfig(required=REQUIRED))
    evidence = [Evidence(Check.FACE_PRESENCE, Outcome.SUPPORTS, W, "ok"),
                micro(Outcome.CONTRADICTS, "presentation_attack")]
    assert policy.decide(evidence).decision is Decision.REVIEW


def test_it_is_still_reported_for_reviewers():
    verdict = DefaultPolicy(PolicyConfig(required=REQUIRED)).decide(
        supported() + [micro(Outcome.INCONCLUSIVE)])
    assert verdict.checks[Check.MICRO_EXPRESSION].status is CheckStatus.INCONCLUSIVE


def test_a_product_cannot_make_it_a_gate():
    # dropping it from the advisory list does not make it decisive ...
    config = PolicyConfig(required=REQUIRED, advisory=())
    assert Check.MICRO_EXPRESSION in config.advisory
    verdict = DefaultPolicy(config).decide(supported() + [micro(Outcome.CONTRADICTS,
                                                                "presentation_attack")])
    assert verdict.decision is Decision.PASS
    # ... and requiring it is refused outright
    with pytest.raises(ValueError, match="micro_expression"):
        PolicyConfig(required=(*REQUIRED, Check.MICRO_EXPRESSION))

