"""The emulator's whole in-memory world, kept on `app.extensions["stripe_emulator"]`.

One re-entrant lock guards every record: API views run entirely under it (the request
pipeline takes it), so each request is atomic like a Stripe API call. The webhook dispatcher
and rate limiter have their own small locks and never hold them while taking this one.
"""

from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING

from flask import Flask
from flask import current_app

from .clock import Clock
from .config import EmulatorConfig
from .idempotency import IdempotencyStore
from .limits import Faults
from .limits import RateLimiter
from .request_log import RequestLog
from .store import Store

if TYPE_CHECKING:
    from .delivery import Dispatcher

EXTENSION = "stripe_emulator"


class EmulatorState:
    """Records, settings, clock and the machinery around them."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.initial_config = config.copy()
        self.config = config
        self.clock = Clock()
        self.lock = threading.RLock()
        self.store = Store(self.clock.time)
        self.store.search_delay = config.search_index_delay
        self.idempotency = IdempotencyStore()
        self.rate_limiter = RateLimiter()
        self.faults = Faults()
        self.requests = RequestLog()
        self.rng = random.Random(config.seed)  # noqa: S311 - knobs, not security
        self.dispatcher: Dispatcher | None = None
        self.base_url = ""

    def apply_config(self) -> None:
        """Propagate settings that live in helper objects after a config change."""
        self.store.search_delay = self.config.search_index_delay
        if self.config.seed is not None:
            self.rng.seed(self.config.seed)

    def reset(self, *, keep_config: bool = False) -> None:
        """Forget every object, key, request and delivery; optionally keep the knobs."""
        with self.lock:
            if not keep_config:
                self.config.update(self.initial_config.to_dict())
            self.clock.reset()
            self.store = Store(self.clock.time)
            self.idempotency = IdempotencyStore()
            self.rate_limiter = RateLimiter()
            self.faults = Faults()
            self.requests = RequestLog()
            self.apply_config()
            if self.dispatcher is not None:
                self.dispatcher.reset()


def get_state(app: Flask | None = None) -> EmulatorState:
    """The state of `app` (default: the current app)."""
    target = app if app is not None else current_app
    state = target.extensions[EXTENSION]
    assert isinstance(state, EmulatorState)
    return state
