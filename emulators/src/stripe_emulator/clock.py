"""The emulator clock: wall time plus an offset that tests can advance.

Every Stripe timestamp (`created`, event retention, idempotency-key expiry, search indexing
delay, balance availability) reads this clock, so a test can jump 24 hours or 31 days ahead
without sleeping. Rate limiting and webhook retry scheduling use real monotonic time instead,
because they model what the caller experiences on the wire.
"""

from __future__ import annotations

import threading
import time


class Clock:
    """Wall clock shifted by an adjustable offset (seconds)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        """Current emulator time as a float unix timestamp."""
        with self._lock:
            return time.time() + self._offset

    def now(self) -> int:
        """Current emulator time as an integer unix timestamp (Stripe's `created` unit)."""
        return int(self.time())

    def advance(self, seconds: float) -> int:
        """Move the clock forward (or back, if negative); returns the new `now()`."""
        with self._lock:
            self._offset += seconds
        return self.now()

    def set(self, timestamp: float) -> int:
        """Jump to an absolute unix timestamp."""
        with self._lock:
            self._offset = timestamp - time.time()
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
