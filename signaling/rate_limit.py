"""Rate limit on interview creation, per API key: a token bucket with a bounded key table.

Why a token bucket: a loan system legitimately sends bursts (a batch of applications at
opening time) but a leaked or buggy key must not create thousands of join links (each costs a
face detection on the ID photo and an encrypted photo on disk). ``burst`` requests may arrive at
once; after that one request per ``60 / per_minute`` seconds. A refused request gets HTTP 429
with ``Retry-After`` (whole seconds, rounded up) saying when the next one will be accepted.

The limit is per process (a multi-process deployment multiplies it by the process count) and
keyed by a hash of the presented credential, so the key table never holds a secret. The table
is bounded: the least recently used keys are forgotten first, and a forgotten key starts with
a full bucket, which errs on the side of serving.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from verification.errors import RetryLaterError

MAX_KEYS = 10_000


class RateLimitedError(RetryLaterError):
    code = "rate_limited"
    http_status = 429


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    def __init__(self, per_minute: float, burst: int,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be > 0 and burst >= 1")
        self.rate_per_s = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key_for(credential: str) -> str:
        return hashlib.sha256(credential.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def acquire(self, credential: str, what: str = "requests") -> None:
        """Take one token for ``credential`` or raise :class:`RateLimitedError`."""
        key = self.key_for(credential)
        now = self.clock()
        with self._lock:
            bucket = self._buckets.pop(key, None) or _Bucket(self.burst, now)
            bucket.tokens = min(self.burst,
                                bucket.tokens + (now - bucket.updated) * self.rate_per_s)
            bucket.updated = now
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            wait = (1.0 - bucket.tokens) / self.rate_per_s
        raise RateLimitedError(f"too many {what}: at most {self.burst:.0f} at once and "
                               f"{self.rate_per_s * 60:g} per minute per API key; retry in "
                               f"{math.ceil(wait)} s", max(1, math.ceil(wait)))
