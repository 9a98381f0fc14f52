"""The emulator's clock: real UTC time plus an offset that tests can advance ("time travel").

Everything time-dependent in the emulated BC (token expiry, subscription expiry, notification
due times, ``lastModifiedDateTime``) reads this clock, so advancing it makes a 3-day expiry or a
30-second batching delay happen instantly. Times are truncated to milliseconds because that is
what the API serialises; a client filtering ``lastModifiedDateTime gt <value it read>`` must see
exactly the stored value.
"""

from __future__ import annotations

import threading
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta


class Clock:
    """UTC clock with a settable offset; thread-safe."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Current emulated UTC time, millisecond precision."""
        with self._lock:
            offset = self._offset
        value = datetime.now(UTC) + offset
        return value.replace(microsecond=value.microsecond // 1000 * 1000)

    def today(self) -> date:
        """Current emulated UTC date (BC's work date)."""
        return self.now().date()

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward and return the new time."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def reset(self) -> None:
        """Back to real time."""
        with self._lock:
            self._offset = timedelta(0)

    @property
    def offset_seconds(self) -> float:
        """How far the clock has been advanced."""
        with self._lock:
            return self._offset.total_seconds()
