"""Client-side pacing and retry timing for the BC client.

``Pacer`` keeps this process under ``MLC_BC_MAX_RPS``: at most ``capacity`` requests in any
window of ``capacity / rps`` seconds, like BC's own sliding window. BC counts a request when it
*arrives*, and a request can spend longer on the way than the one after it, so a log of send
times alone still lets a burst arrive too close together (and a 429 costs a whole
``Retry-After``, usually a second). So each request holds its slot from the moment it is sent
until its answer is back, and the window runs from that moment: the next request that reuses the
slot can only arrive a full window after the previous one arrived. A 429 or 503 with
``Retry-After`` also *holds* the pacer, so every thread of the process waits instead of each one
hitting the limit again. The limit is per process: with several gunicorn workers, divide BC's
limit among them.

``Backoff`` is exponential backoff with full jitter (a uniformly random wait between zero and the
exponential cap), bounded by a number of attempts and a total time budget, and never shorter than
a ``Retry-After`` BC asked for.
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
import time
from collections.abc import Callable

# Clocks of two machines drift apart by far less than 1 %; the margin only absorbs that.
WINDOW_MARGIN = 1.01
_IN_FLIGHT = math.inf


class Slot:
    """One request's place in the window: in flight (``inf``) or finished at ``done``."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = _IN_FLIGHT


class Pacer:
    """At most ``rps`` requests per second for this process, shared by all its threads."""

    def __init__(self, rps: float | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._slots: list[Slot] = []
        self._held_until = 0.0
        if rps:
            self.capacity = max(1, math.floor(rps))
            self.window_s = self.capacity / rps * WINDOW_MARGIN
        else:
            self.capacity = 0
            self.window_s = 0.0

    def acquire(self) -> Slot:
        """Block until a request may be sent; ``release`` the slot when its answer is back."""
        with self._cond:
            while True:
                slot, wait = self._take(self._clock())
                if slot is not None:
                    return slot
                self._cond.wait(None if math.isinf(wait) else wait)

    def try_acquire(self) -> Slot | None:
        """A slot if a request may be sent now, else None (never blocks)."""
        with self._cond:
            return self._take(self._clock())[0]

    def _take(self, now: float) -> tuple[Slot | None, float]:
        """(a new slot, 0) or (None, seconds to wait; inf while every slot is in flight)."""
        wait = self._held_until - now
        if wait > 0:
            return None, wait
        if self.capacity:
            self._slots = [s for s in self._slots if s.done > now - self.window_s]
            if len(self._slots) >= self.capacity:
                return None, min(s.done for s in self._slots) + self.window_s - now
        slot = Slot()
        if self.capacity:
            self._slots.append(slot)
        return slot, 0.0

    def release(self, slot: Slot) -> None:
        """The request's answer arrived: its slot frees up one window from now."""
        with self._cond:
            slot.done = self._clock()
            self._cond.notify_all()

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (BC asked for it with Retry-After)."""
        with self._cond:
            self._held_until = max(self._held_until, self._clock() + seconds)


@dataclasses.dataclass(frozen=True)
class Backoff:
    """Bounded exponential backoff with full jitter."""

    max_attempts: int = 5
    budget_s: float = 30.0
    base_s: float = 0.25
    cap_s: float = 8.0

    def delay(self, attempt: int, retry_after_s: float | None, rng: random.Random) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        ceiling = min(self.cap_s, self.base_s * 2 ** (attempt - 1))
        jittered = rng.uniform(0, ceiling)
        return max(jittered, retry_after_s or 0.0)

    def allows(self, attempt: int, elapsed_s: float, delay_s: float) -> bool:
        """Whether another attempt fits the attempt count and the time budget."""
        return attempt < self.max_attempts and elapsed_s + delay_s <= self.budget_s
