"""Failed-login throttling: after repeated failures a username (or a client) waits.

Why both keys: per username stops guessing one reviewer's password from many addresses; per
client stops one address from spraying a common password over many usernames. The window is
sliding; memory is bounded (oldest keys are forgotten first), so a flood of random usernames
cannot grow it without limit. Per process: with several server processes an attacker gets at
most ``processes x max_failures`` guesses per window, still far below what argon2id allows.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class LoginLimits:
    max_user_failures: int = 5  # per username within the window
    max_client_failures: int = 20  # per client address (an office shares one address)
    window_s: float = 15 * 60.0
    max_keys: int = 10_000

    def limit(self, key: str) -> int:
        return self.max_client_failures if key.startswith("client:") else \
            self.max_user_failures


class LoginThrottle:
    def __init__(self, clock: Callable[[], float], limits: LoginLimits = LoginLimits()) -> None:
        self.clock = clock
        self.limits = limits
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.limits.window_s:
            times.popleft()
        return times

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Seconds until a locked-out key (``user:<name>``, ``client:<address>``) may try
        again; ``None`` when none is locked out."""
        now = self.clock()
        waits = []
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.limits.limit(key):
                    waits.append(times[0] + self.limits.window_s - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, keys: Iterable[str]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                times = self._failures.pop(key, None) or deque(maxlen=self.limits.limit(key))
                times.append(now)
                self._failures[key] = times
            while len(self._failures) > self.limits.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, username_key: str) -> None:
        with self._lock:
            self._failures.pop(username_key, None)
