"""Failed liveness per applicant and per device: a presentation attack is not retried forever.

Why: an attacker with a replay or a mask learns from each failed attempt. After
``max_per_applicant`` interviews of one application (the loan system's application id) or
``max_per_device`` interviews from one client address end with the liveness check
*contradicted* within ``window_s``, new interviews for that applicant / from that address are
refused with HTTP 429 and ``Retry-After`` until the oldest failure leaves the window; a person
who simply failed once (bad light) can still retry. The sliding-window bookkeeping is the
console's login throttle (bounded memory, per process).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from signaling.console.limiter import LoginLimits, LoginThrottle
from signaling.rate_limit import RateLimitedError


def liveness_failed(verdict: Mapping[str, Any] | None) -> bool:
    checks = (verdict or {}).get("checks") or {}
    return (checks.get("face_liveness") or {}).get("status") == "contradicted"


class LivenessFailureLimit:
    def __init__(self, max_per_applicant: int, max_per_device: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._throttle = LoginThrottle(clock, LoginLimits(
            max_user_failures=max_per_applicant, max_client_failures=max_per_device,
            window_s=window_s))

    @staticmethod
    def _keys(applicant: str | None, address: str | None) -> list[str]:
        # "client:" keys get the per-device limit, the others the per-applicant one
        return ([f"applicant:{applicant}"] if applicant else []) + (
            [f"client:{address}"] if address else [])

    def check(self, applicant: str | None, address: str | None) -> None:
        """Raise :class:`RateLimitedError` while the applicant or the device is locked out."""
        wait = self._throttle.retry_after(self._keys(applicant, address))
        if wait is not None:
            raise RateLimitedError("too many interviews with a failed liveness check for this "
                                   f"applicant or device; retry in {wait} s", wait)

    def record(self, applicant: str | None, address: str | None,
               verdict: Mapping[str, Any] | None) -> bool:
        """Count a finished interview; returns True when its liveness check failed."""
        if not liveness_failed(verdict):
            return False
        self._throttle.failed(self._keys(applicant, address))
        return True
