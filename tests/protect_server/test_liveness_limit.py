"""Failed liveness per applicant and per device: refused with 429 + Retry-After after the limit,
accepted again once the oldest failure leaves the window; passes never count."""

from __future__ import annotations

import pytest

from signaling.liveness_limit import LivenessFailureLimit, liveness_failed
from signaling.rate_limit import RateLimitedError

FAILED = {"decision": "reject", "checks": {"face_liveness": {"status": "contradicted"}}}
PASSED = {"decision": "pass", "checks": {"face_liveness": {"status": "supported"}}}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_only_a_contradicted_liveness_check_counts():
    assert liveness_failed(FAILED)
    assert not liveness_failed(PASSED) and not liveness_failed(None)
    assert not liveness_failed({"checks": {"face_liveness": {"status": "inconclusive"}}})


def test_an_applicant_is_locked_out_after_repeated_failures_then_let_back():
    clock = Clock()
    limit = LivenessFailureLimit(max_per_applicant=2, max_per_device=5, window_s=3600,
                                 clock=clock)
    assert not limit.record("APP-1", "10.0.0.1", PASSED)
    assert limit.record("APP-1", "10.0.0.1", FAILED)
    limit.check("APP-1", "10.0.0.2")  # one failure: still allowed
    clock.now = 600
    limit.record("APP-1", "10.0.0.3", FAILED)
    with pytest.raises(RateLimitedError) as refused:
        limit.check("APP-1", "10.0.0.9")  # another device, same applicant
    assert refused.value.http_status == 429 and refused.value.retry_after_s == 3000
    limit.check("APP-2", "10.0.0.9")  # other applicants are not affected
    clock.now = 3601
    limit.check("APP-1", "10.0.0.9")  # the first failure left the window


def test_a_device_is_locked_out_across_applicants():
    clock = Clock()
    limit = LivenessFailureLimit(max_per_applicant=3, max_per_device=2, window_s=60,
                                 clock=clock)
    limit.record("APP-1", "192.0.2.7", FAILED)
    limit.record("APP-2", "192.0.2.7", FAILED)
    with pytest.raises(RateLimitedError):
        limit.check("APP-3", "192.0.2.7")
    limit.check("APP-3", "192.0.2.8")
