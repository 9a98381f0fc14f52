"""BC's per-user request limits (bc-api.md §8) plus a requests-per-second knob.

Per user (app registration): at most ``rate_limit_requests`` admitted requests in a sliding
``rate_limit_window_seconds`` window (6,000 / 5 min online) and optionally
``rate_limit_per_second`` in a sliding 1-second window, else **429**; at most
``max_concurrent_requests`` processed at once, with up to ``max_queued_requests`` more waiting
(else 429) for at most ``queue_timeout_seconds`` (else **503**). Rejections carry BC's error
envelope and, when enabled, ``Retry-After`` in whole seconds. The window uses the real monotonic
clock, not the emulated one: time travel must not reset rate limits.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from bc_emulator.config import RuntimeKnobs
from bc_emulator.errors import BCError


class Throttle:
    """Sliding-window rate limits and a per-user concurrency gate."""

    def __init__(self, knobs: RuntimeKnobs) -> None:
        self._knobs = knobs
        self._cond = threading.Condition()
        self._window: dict[str, deque[float]] = {}
        self._second: dict[str, deque[float]] = {}
        self._active: dict[str, int] = {}
        self._queued: dict[str, int] = {}
        self.rejected = 0

    def reset(self) -> None:
        """Forget all counters."""
        with self._cond:
            self._window.clear()
            self._second.clear()
            self.rejected = 0

    def _too_many(self, actual: int, maximum: int, retry_after: float) -> BCError:
        self.rejected += 1
        headers = {}
        if self._knobs.config.retry_after_on_429:
            headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        # The reference gives no body for BC's 429; this code and text are the emulator's choice.
        return BCError(
            429,
            "Request_TooManyRequests",
            f"Too many requests reached. Actual ({actual}). Maximum ({maximum}).",
            headers,
        )

    def _check_rate(self, user: str, now: float) -> None:
        cfg = self._knobs.config
        window = self._window.setdefault(user, deque())
        while window and window[0] <= now - cfg.rate_limit_window_seconds:
            window.popleft()
        if len(window) >= cfg.rate_limit_requests:
            wait = window[0] + cfg.rate_limit_window_seconds - now
            raise self._too_many(len(window) + 1, cfg.rate_limit_requests, wait)
        second = self._second.setdefault(user, deque())
        if cfg.rate_limit_per_second:
            limit = max(1, math.floor(cfg.rate_limit_per_second))
            while second and second[0] <= now - 1.0:
                second.popleft()
            if len(second) >= limit:
                raise self._too_many(len(second) + 1, limit, second[0] + 1.0 - now)
        window.append(now)
        second.append(now)

    @contextmanager
    def admit(self, user: str) -> Iterator[None]:
        """Admit one request of ``user`` or raise 429/503."""
        cfg = self._knobs.config
        with self._cond:
            self._check_rate(user, time.monotonic())
            if self._active.get(user, 0) >= cfg.max_concurrent_requests:
                if self._queued.get(user, 0) >= cfg.max_queued_requests:
                    total = cfg.max_concurrent_requests + cfg.max_queued_requests
                    raise self._too_many(total + 1, total, 1)
                self._queued[user] = self._queued.get(user, 0) + 1
                deadline = time.monotonic() + cfg.queue_timeout_seconds
                try:
                    while self._active.get(user, 0) >= cfg.max_concurrent_requests:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            self.rejected += 1
                            raise BCError(
                                503,
                                "Internal_ServiceUnavailable",
                                "The request waited too long in the queue and was cancelled.",
                                {"Retry-After": "1"},
                            )
                        self._cond.wait(remaining)
                finally:
                    self._queued[user] -= 1
            self._active[user] = self._active.get(user, 0) + 1
        try:
            yield
        finally:
            with self._cond:
                self._active[user] -= 1
                self._cond.notify_all()
