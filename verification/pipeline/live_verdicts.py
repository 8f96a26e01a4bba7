"""Live per-challenge verdicts: from the analyzers (executor threads) to the interview script.

Why a separate handoff and not the evidence stream: the script engine must learn whether the
challenge it just issued was performed within seconds of the challenge window closing, so that
it can ask for a *new* challenge while the applicant is still there; the evidence stream is for
the verdict and the reviewer timeline and carries no link to the step that asked. A verdict
here names the prompt by what the prompt script recorded for it (kind, media time, action or
digits), so the driver can match it to the challenge id the step issued.

The box is bounded and thread-safe: analyzers :meth:`LiveVerdictBox.put` from the inference
executor, the interview driver :meth:`LiveVerdictBox.drain` s it on the event loop once per
control tick. A few verdicts per minute arrive in practice; the bound only guards memory if the
loop stalls (the oldest verdict is dropped and counted, and that challenge is then judged from
the recording at the end, as without a live verifier).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

CHALLENGE = "challenge"
DIGITS = "digits"
MAX_PENDING = 64


@dataclass(frozen=True)
class LiveVerdict:
    """One judged prompt. ``passed``: True / False, or None when the analyzer could not decide
    (the step then leaves it to the recording). ``prompt_t``: the media time the prompt script
    recorded for the prompt; ``judged_t``: the media time the verdict was reached."""

    kind: str  # CHALLENGE | DIGITS
    prompt_t: float
    passed: bool | None
    outcome: str  # the analyzer's reason code (passed, not_performed, digits_not_spoken, ...)
    judged_t: float
    action: str | None = None  # challenges
    digits: str | None = None  # digit readings
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))


class LiveVerdictBox:
    def __init__(self, capacity: int = MAX_PENDING) -> None:
        self._items: deque[LiveVerdict] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self.dropped = 0

    def put(self, verdict: LiveVerdict) -> None:
        with self._lock:
            if len(self._items) == self._items.maxlen:
                self.dropped += 1
            self._items.append(verdict)

    def drain(self) -> list[LiveVerdict]:
        with self._lock:
            items = list(self._items)
            self._items.clear()
        return items
