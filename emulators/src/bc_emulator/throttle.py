"""BC's per-user request limits (bc-api.md §8) plus a requests-per-second knob.

Per user (app registration): at most ``rate_limit_requests`` admitted requests in a sliding
``rate_limit_window_seconds`` window (6,000 / 5 min online) and optionally
``rate_limit_per_second`` in a sliding 1-second window, else **429**; at most
``max_concurrent_requests`` processed at once, with up to ``max_queued_requests`` more waiting
(else 429) for at most ``queue_timeout_seconds`` (else **503**). Rejections carry BC's error
envelope and, when enabled, ``Retry-After`` in whole seconds: the real time until enough of the
oldest admitted requests have left the window, rounded up, at least 1. The window uses the real
monotonic clock, not the emulated one: time travel must not reset rate limits, and a benchmark
compresses time by shrinking the window instead (600 per 30 s is the same 20 requests/s average
as 6,000 per 5 min).

A request may cost more than one unit of the rate limits (``cost``): a ``$batch`` counts once by
default and once per inner operation with ``batch_counts_operations`` (see
``batch_request.batch_cost``); either way it takes a single concurrency slot.
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

    def _check_window(
        self, window: deque[float], limit: int, seconds: float, cost: int, now: float
    ) -> None:
        """Raise 429 unless ``cost`` more requests fit into the sliding window."""
        while window and window[0] <= now - seconds:
            window.popleft()
        if len(window) + cost <= limit:
            return
        # The wait until the oldest entries that must make room have left the window; a cost
        # above the whole limit never fits, and the window length is as good an answer as any.
        must_leave = len(window) + cost - limit
        wait = seconds if must_leave > len(window) else window[must_leave - 1] + seconds - now
        raise self._too_many(len(window) + cost, limit, wait)

    def _check_rate(self, user: str, now: float, cost: int) -> None:
        cfg = self._knobs.config
        window = self._window.setdefault(user, deque())
        second = self._second.setdefault(user, deque())
        self._check_window(
            window, cfg.rate_limit_requests, cfg.rate_limit_window_seconds, cost, now
        )
        if cfg.rate_limit_per_second:
            limit = max(1, math.floor(cfg.rate_limit_per_second))
            self._check_window(second, limit, 1.0, cost, now)
        window.extend([now] * cost)
        second.extend([now] * cost)

    @contextmanager
    def admit(self, user: str, cost: int = 1) -> Iterator[None]:
        """Admit one request of ``user`` counting ``cost`` against the rate limits, or 429/503."""
        cfg = self._knobs.config
        with self._cond:
            self._check_rate(user, time.monotonic(), max(1, cost))
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
