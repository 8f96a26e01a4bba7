"""Fusion: a pure, versioned function from evidence to a verdict (design idea 8).

Order of decision:
1. **Hard gates** — contradicting evidence whose ``code`` the policy lists as a hard gate
   (an attack cue, another face, a change of person, ...) rejects.
2. **Per-check aggregation** over the whole interview: every required check must be
   *supported*; contradicted, inconclusive or missing evidence makes it a review reason.
3. **Advisory checks** (micro-expression) are reported but can never change the decision.

Missing evidence is never a pass: a check that no analyzer could run is ``not_checked`` and
sends the session to review with a reason saying so. Every reason names its evidence ids and
media times so a reviewer can jump to them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from verification.types import (
    Check,
    CheckResult,
    CheckStatus,
    Decision,
    Evidence,
    Outcome,
    Reason,
    Verdict,
)

MISSION_CHECKS: tuple[Check, ...] = (
    Check.FACE_LIVENESS,
    Check.MICRO_EXPRESSION,
    Check.VOICEPRINT,
    Check.BACKGROUND,
    Check.POI,
    Check.LBS,
)


# Emotion recognition must never decide a credit application (treated as high-risk in several
# jurisdictions): these checks are advisory in every policy, whatever a product configures.
ALWAYS_ADVISORY: tuple[Check, ...] = (Check.MICRO_EXPRESSION,)


class FusionPolicy(Protocol):
    version: str

    def decide(self, evidence: Sequence[Evidence]) -> Verdict: ...


@dataclass(frozen=True)
class PolicyConfig:
    """Per loan product: which checks must be supported, which codes reject outright."""

    version: str = "default-1"
    required: tuple[Check, ...] = (
        Check.FACE_PRESENCE,
        Check.FACE_MATCH,
        Check.FACE_LIVENESS,
        Check.VOICEPRINT,
        Check.LIP_SYNC,
        Check.BACKGROUND,
        Check.POI,
        Check.LBS,
    )
    advisory: tuple[Check, ...] = (Check.MICRO_EXPRESSION,)
    hard_gate_codes: frozenset[str] = field(default_factory=lambda: frozenset({
        "presentation_attack",
        "multiple_faces",
        "identity_changed",
        "face_mismatch",
        "lip_sync_mismatch",
        "challenge_failed",
        "second_voice",
        "gps_spoofed",  # geo: mock-location signature
        "impossible_travel",  # geo: faster than an airliner since the last session
    }))
    # A check is "supported" when at least this share of its decisive evidence supports it.
    support_share: float = 0.8
    # Checks that are "supported" only when *every* piece of their evidence supports them (no
    # contradicting, inconclusive or not-checked item). Used for passive-only liveness: without
    # a challenge script, every passive cue must clearly support a live person.
    unanimous: tuple[Check, ...] = ()

    def __post_init__(self) -> None:
        # Advisory checks (micro-expression cues) inform reviewers and must never decide: the
        # ALWAYS_ADVISORY ones stay advisory in every product, and a configuration that also
        # requires an advisory check is refused, not silently obeyed.
        advisory = tuple(dict.fromkeys((*self.advisory, *ALWAYS_ADVISORY)))
        object.__setattr__(self, "advisory", advisory)
        both = set(self.required) & set(advisory)
        if both:
            raise ValueError("advisory checks cannot be required: "
                             + ", ".join(sorted(c.value for c in both)))


class DefaultPolicy:
    """The policy every product starts from; configure with a :class:`PolicyConfig`."""

    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config or PolicyConfig()
        self.version = self.config.version

    def decide(self, evidence: Sequence[Evidence]) -> Verdict:
        by_check: dict[Check, list[Evidence]] = defaultdict(list)
        for item in evidence:
            by_check[item.check].append(item)

        reasons: list[Reason] = []
        hard = [e for e in evidence
                if e.outcome is Outcome.CONTRADICTS and e.code in self.config.hard_gate_codes
                and e.check not in self.config.advisory]
        for code, items in _group_by_code(hard).items():
            reasons.append(Reason(
                code=code,
                message=items[0].summary + (f" ({len(items)} times)" if len(items) > 1 else ""),
                check=items[0].check,
                evidence_ids=tuple(e.id for e in items),
                windows=tuple(e.window for e in items),
            ))

        checks: dict[Check, CheckResult] = {}
        all_checks = list(dict.fromkeys(
            [*self.config.required, *MISSION_CHECKS, *self.config.advisory, *by_check]))
        for check in all_checks:
            result = self._aggregate(check, by_check.get(check, []))
            checks[check] = result
            if check in self.config.required and result.status is not CheckStatus.SUPPORTED:
                reasons.append(self._review_reason(check, result, by_check.get(check, [])))

        if hard:
            decision = Decision.REJECT
        elif any(checks[c].status is not CheckStatus.SUPPORTED for c in self.config.required):
            decision = Decision.REVIEW
        else:
            decision = Decision.PASS
        return Verdict(decision=decision, reasons=tuple(reasons), checks=checks,
                       policy_version=self.version)

    def _aggregate(self, check: Check, items: list[Evidence]) -> CheckResult:
        decisive = [e for e in items if e.outcome in (Outcome.SUPPORTS, Outcome.CONTRADICTS)]
        ids = tuple(e.id for e in items)
        scores = [e.score for e in decisive if e.score is not None]
        score = sum(scores) / len(scores) if scores else None
        if not items or all(e.outcome is Outcome.NOT_CHECKED for e in items):
            summary = items[0].summary if items else "no analyzer produced evidence for this check"
            return CheckResult(check, CheckStatus.NOT_CHECKED, summary, None, ids)
        if not decisive:
            return CheckResult(check, CheckStatus.INCONCLUSIVE,
                               f"{len(items)} observations, none decisive", None, ids)
        supporting = sum(e.outcome is Outcome.SUPPORTS for e in decisive)
        share = supporting / len(decisive)
        if check in self.config.unanimous and supporting != len(items):
            return CheckResult(check, CheckStatus.CONTRADICTED if supporting < len(decisive)
                               else CheckStatus.INCONCLUSIVE,
                               f"{supporting}/{len(items)} observations support; every one must",
                               score, ids)
        if share >= self.config.support_share:
            return CheckResult(check, CheckStatus.SUPPORTED,
                               f"{supporting}/{len(decisive)} observations support", score, ids)
        return CheckResult(check, CheckStatus.CONTRADICTED,
                           f"only {supporting}/{len(decisive)} observations support", score, ids)

    @staticmethod
    def _review_reason(check: Check, result: CheckResult, items: list[Evidence]) -> Reason:
        relevant = [e for e in items if e.outcome is not Outcome.SUPPORTS] or items
        return Reason(
            code=f"{check.value}_{result.status.value}",
            message=f"{check.value}: {result.summary}",
            check=check,
            evidence_ids=tuple(e.id for e in relevant),
            windows=tuple(e.window for e in relevant),
        )


def _group_by_code(items: Iterable[Evidence]) -> dict[str, list[Evidence]]:
    grouped: dict[str, list[Evidence]] = defaultdict(list)
    for item in items:
        grouped[item.code].append(item)
    return dict(grouped)
