"""Inference off the event loop, in a bounded pool sized by the thread budget.

Colour conversion, resizing and ``InferenceSession.run`` all happen here, never on the asyncio
loop: a 20 ms model call on the loop delays every WebRTC packet of every session by 20 ms.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from verification.runtime.providers import ThreadBudget

T = TypeVar("T")


class InferenceExecutor:
    def __init__(self, budget: ThreadBudget | None = None) -> None:
        self.budget = budget or ThreadBudget.for_machine()
        self.budget.validate()
        self._pool = ThreadPoolExecutor(
            max_workers=self.budget.workers, thread_name_prefix="inference"
        )

    async def run(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def submit(self, fn: Callable[..., T], *args: object, **kwargs: object):
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)
