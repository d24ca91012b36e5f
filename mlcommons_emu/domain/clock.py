"""Time as epoch milliseconds, replaceable by tests."""
from __future__ import annotations

import time


class SystemClock:
    def now(self) -> int:
        return time.time_ns() // 1_000_000

    __call__ = now


class ManualClock:
    """A clock that moves only when told to; for deterministic tests."""

    def __init__(self, start: int = 1_700_000_000_000) -> None:
        self.value = start

    def now(self) -> int:
        return self.value

    __call__ = now

    def advance(self, millis: int) -> None:
        self.value += millis
