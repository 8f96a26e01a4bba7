"""A 0..1 risk score to order the review queue, and the audit sample of automatic verdicts.

Risk is a noisy-OR over the verdict's checks: each contradicted, inconclusive or unchecked
required check independently "raises the alarm" with a weight, and a reason whose code is a
hard gate counts as near-certain. Noisy-OR keeps the score in [0, 1], grows with every extra
problem, and lets one strong problem outrank several weak ones - the order a reviewer wants.

The audit sample is deterministic (a SHA-256 of the session id against the configured rate),
so a session is sampled or not in every process and after every restart, without a stored flag.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from verification.fusion.policy import PolicyConfig

STATUS_WEIGHTS = {"contradicted": 0.6, "inconclusive": 0.25, "not_checked": 0.15}
HARD_GATE_WEIGHT = 0.9
HARD_GATES = PolicyConfig().hard_gate_codes


def risk_of(verdict: Mapping[str, Any], hard_gates: Iterable[str] = HARD_GATES) -> float:
    gates = frozenset(hard_gates)
    calm = 1.0
    for check in (verdict.get("checks") or {}).values():
        if isinstance(check, Mapping):
            calm *= 1.0 - STATUS_WEIGHTS.get(str(check.get("status")), 0.0)
    for reason in verdict.get("reasons") or ():
        if isinstance(reason, Mapping) and reason.get("code") in gates:
            calm *= 1.0 - HARD_GATE_WEIGHT
    return round(1.0 - calm, 4)


def sampled_for_audit(session_id: str, rate: float) -> bool:
    if rate <= 0:
        return False
    digest = hashlib.sha256(f"audit-sample/{session_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate
