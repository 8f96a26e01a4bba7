"""From geo evidence to a geo outcome (pass / review / reject with reasons), and from that to
the evidence a verification session fuses.

Rules:

* **reject** - a contradiction whose code is a hard gate: the mock-location signature
  (``gps_spoofed``) or ``impossible_travel``; both mean the location claim is false.
* **review** - any other contradiction (far from the declared business, VPN exit, time zone
  mismatch, a location cluster, ...), or a *core* input that could not be verified: no or a
  malformed GPS fix, a fix too coarse or too borderline to place the applicant at the declared
  business, a declared business without usable coordinates. A geo check is never passed on
  missing evidence, so a check without any supporting evidence is a review reason too.
* **pass** - otherwise. Inconclusive or not-checked side checks (an unconfigured IP database, an
  IP missing from it, no earlier sessions) are listed as notes.

The sub-checks are distinct tests that must all hold, not repeated observations of one thing,
so the session receives one *conclusion* per geo check (LBS, POI) - supporting when that check
passed, else contradicting / inconclusive - plus every sub-check that did not support. The
fusion policy's support-share rule then cannot let four passing sub-checks outvote one failing
one; the passing sub-checks' numbers stay in the conclusion's details.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from verification.types import Check, Evidence, Outcome, TimeWindow

GEO_CHECKS: tuple[Check, ...] = (Check.LBS, Check.POI)
REJECT_CODES = frozenset({"gps_spoofed", "impossible_travel"})
CORE_UNVERIFIED_CODES = frozenset({
    "gps_missing", "gps_invalid", "gps_too_coarse", "declared_location_borderline",
    "declared_location_missing", "declared_location_unverified", "declared_invalid"})


class GeoOutcome(StrEnum):
    PASS = "pass"
    REVIEW = "review"
    REJECT = "reject"


@dataclass(frozen=True)
class GeoReason:
    code: str
    check: Check
    message: str
    evidence_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "check": self.check.value, "message": self.message,
                "evidence_id": self.evidence_id}


@dataclass(frozen=True)
class GeoReport:
    session_id: str
    outcome: GeoOutcome
    check_outcomes: Mapping[Check, GeoOutcome]
    reasons: tuple[GeoReason, ...]
    notes: tuple[GeoReason, ...]
    evidence: tuple[Evidence, ...]
    latency_ms: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "check_outcomes", MappingProxyType(dict(self.check_outcomes)))

    def codes(self) -> set[str]:
        return {e.code for e in self.evidence}

    def by_code(self, code: str) -> Evidence | None:
        return next((e for e in self.evidence if e.code == code), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "outcome": self.outcome.value,
            "checks": {c.value: o.value for c, o in self.check_outcomes.items()},
            "reasons": [r.to_json() for r in self.reasons],
            "notes": [n.to_json() for n in self.notes],
            "evidence": [e.to_json() for e in self.evidence],
            "latency_ms": round(self.latency_ms, 3),
        }

    def session_evidence(self, window: TimeWindow) -> list[Evidence]:
        """What the verification session fuses: one conclusion per geo check plus every
        sub-check that did not support (see the module docstring)."""
        out = []
        for check in GEO_CHECKS:
            items = [e for e in self.evidence if e.check is check]
            outcome = self.check_outcomes[check]
            reasons = [r for r in self.reasons if r.check is check]
            if outcome is GeoOutcome.PASS:
                verdict = Outcome.SUPPORTS
            elif any(e.outcome is Outcome.CONTRADICTS for e in items):
                verdict = Outcome.CONTRADICTS
            elif items and all(e.outcome is Outcome.NOT_CHECKED for e in items):
                verdict = Outcome.NOT_CHECKED
            else:
                verdict = Outcome.INCONCLUSIVE
            supporting = sum(e.outcome is Outcome.SUPPORTS for e in items)
            if outcome is GeoOutcome.PASS:
                summary = f"{check.value}: consistent ({supporting} sub-checks support)"
                code = f"{check.value}_consistent"
            else:
                summary = (f"{check.value} {outcome.value}: "
                           + "; ".join(r.message for r in reasons))
                code = f"{check.value}_{outcome.value}"
            out.append(Evidence(
                check, verdict, window, summary, model="geo", latency_ms=self.latency_ms,
                code=code,
                details={"geo_outcome": outcome.value,
                         "reasons": [r.code for r in reasons],
                         "subchecks": [{"code": e.code, "outcome": e.outcome.value,
                                        "summary": e.summary, "details": dict(e.details)}
                                       for e in items]}))
            out.extend(e for e in items if e.outcome is not Outcome.SUPPORTS)
        return out


def _reason(item: Evidence) -> GeoReason:
    return GeoReason(item.code, item.check, item.summary, item.id)


def decide(evidence: Iterable[Evidence], session_id: str, latency_ms: float) -> GeoReport:
    items = tuple(evidence)
    reasons: list[GeoReason] = []
    notes: list[GeoReason] = []
    per_check: dict[Check, GeoOutcome] = {}
    for check in GEO_CHECKS:
        mine = [e for e in items if e.check is check]
        outcome = GeoOutcome.PASS
        for item in mine:
            if item.outcome is Outcome.CONTRADICTS:
                reasons.append(_reason(item))
                if item.code in REJECT_CODES:
                    outcome = GeoOutcome.REJECT
                elif outcome is GeoOutcome.PASS:
                    outcome = GeoOutcome.REVIEW
            elif item.outcome is not Outcome.SUPPORTS:
                if item.code in CORE_UNVERIFIED_CODES:
                    reasons.append(_reason(item))
                    if outcome is GeoOutcome.PASS:
                        outcome = GeoOutcome.REVIEW
                else:
                    notes.append(_reason(item))
        if outcome is GeoOutcome.PASS and not any(e.outcome is Outcome.SUPPORTS for e in mine):
            outcome = GeoOutcome.REVIEW
            reasons.append(GeoReason(f"{check.value}_unverified", check,
                                     f"{check.value}: no sub-check could confirm the location",
                                     None))
        per_check[check] = outcome
    if any(o is GeoOutcome.REJECT for o in per_check.values()):
        overall = GeoOutcome.REJECT
    elif any(o is GeoOutcome.REVIEW for o in per_check.values()):
        overall = GeoOutcome.REVIEW
    else:
        overall = GeoOutcome.PASS
    return GeoReport(session_id, overall, per_check, tuple(reasons), tuple(notes), items,
                     latency_ms)
