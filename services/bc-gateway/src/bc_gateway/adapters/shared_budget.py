"""BC's request budget shared by every process that calls BC as the same app registration.

BC counts requests per user (an app registration is one user): 6,000 in any 5-minute sliding
window, then 429 with ``Retry-After`` (bc-api.md §8). The per-process ``Pacer`` keeps each
process smooth, but bc-gateway runs several gunicorn workers, replicas and CronJob pods, and a
static split of the budget wastes whatever share a quiet process does not use. ``SharedBudget``
keeps one window for all of them, in the same store as the services' own rate limits
(``MLC_RATELIMIT_STORAGE``: Redis in a deployment, memory for a single process), through the
``limits`` library's moving window, which is exactly BC's rule: at most N requests in any
window of T seconds.

- ``acquire`` blocks until the window has room (asking the store when the oldest request leaves
  it) and takes one place;
- ``hold`` makes every process wait when one of them was answered 429 or 503 with
  ``Retry-After``: a key that expires when BC said to try again;
- a store that cannot be reached never stops BC traffic: the budget fails open (one warning,
  then each process's own pacing and BC's 429s govern) and tries the store again later.

``MLC_BC_BUDGET`` names the share of BC's limit the connector may use (for example
``5000/5 minutes``, leaving room for the firm's other integrations); unset, only the per-process
pacing and the 429s apply, as before.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from limits import parse
from limits.storage import Storage
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

logger = logging.getLogger(__name__)

# The longest single wait: a held or full window is asked again at least this often.
MAX_WAIT_S = 1.0
# The share of the window left unused, for requests that arrive out of order (see __init__).
MARGIN = 0.02
# After the store fails, it is tried again this much later (meanwhile the budget is open).
RETRY_STORE_S = 30.0


class SharedBudget:
    """One sliding window of BC requests for every process of the app registration."""

    def __init__(
        self,
        limit: str,
        storage_uri: str,
        key: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        item = parse(limit)
        # BC counts a request when it arrives, the window here when it is sent; two requests
        # can arrive in another order than they left, by a few milliseconds. Keeping 2 % of
        # the window unused absorbs that: a 429 costs every process a whole Retry-After.
        self._item = type(item)(max(1, math.floor(item.amount * (1 - MARGIN))), item.multiples)
        storage = storage_from_string(storage_uri)
        if not isinstance(storage, Storage):  # an asyncio storage URI ("async+redis://")
            raise ValueError(f"{storage_uri.split(':', 1)[0]}: not a synchronous store")
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._key = key
        self._hold_key = f"{key}:hold"
        self._clock = clock
        self._sleep = sleep
        self._open_until = 0.0
        self.waited_s = 0.0

    @property
    def limit(self) -> str:
        return str(self._item)

    def acquire(self, cost: int = 1) -> None:
        """Wait until BC's window (as every process sees it) has room, then take ``cost``
        places (a ``$batch`` counts its operations when BC is taken to count them)."""
        cost = min(max(1, cost), self._item.amount)
        while True:
            if self._clock() < self._open_until:
                return
            try:
                wait = self._hold_left()
                if wait <= 0:
                    if self._limiter.hit(self._item, self._key, cost=cost):
                        return
                    stats = self._limiter.get_window_stats(self._item, self._key)
                    wait = stats.reset_time - self._clock()
            except Exception as exc:  # the store is down: never stop BC traffic for it
                self._fail_open(exc)
                return
            wait = min(MAX_WAIT_S, max(0.005, wait))
            self.waited_s += wait
            self._sleep(wait)

    def hold(self, seconds: float) -> None:
        """Every process sends nothing for ``seconds`` (BC said so with ``Retry-After``)."""
        if seconds <= 0:
            return
        try:
            self._storage.incr(self._hold_key, math.ceil(seconds))
        except Exception as exc:
            self._fail_open(exc)

    def _hold_left(self) -> float:
        if not self._storage.get(self._hold_key):
            return 0.0
        return float(self._storage.get_expiry(self._hold_key)) - self._clock()

    def _fail_open(self, exc: Exception) -> None:
        if self._open_until <= self._clock():
            logger.warning(
                "the shared BC budget's store failed (%s); pacing per process for %.0fs",
                type(exc).__name__,
                RETRY_STORE_S,
            )
        self._open_until = self._clock() + RETRY_STORE_S
