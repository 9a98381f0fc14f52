"""Rate limits and injected faults.

The limiter is a token bucket per scope (`global`, `search`) holding one second's worth of
requests, refilled continuously in real time: sandbox 25 requests/s and search 20 requests/s
by default (stripe-api.md §12). A refusal is Stripe's 429 with code `rate_limit` and
`Stripe-Rate-Limited-Reason`. Faults are rules (status, count, method, path, stage) consumed
per matching request. A rule's path is a prefix (`/v1/customers`), or, when it holds a `*`, a
shell-style pattern for the whole path (`/v1/invoices/*/finalize`: one step of any invoice,
whose id a test cannot know in advance). Stages:

- `edge`: answered before the endpoint runs; nothing is stored under the idempotency key
  (a load balancer or network failure);
- `endpoint`: answered instead of running the endpoint, and stored under the key, so an SDK
  retry with the same key gets the same 5xx (Stripe stores 500s);
- `after`: the endpoint runs (its effects happen) and the caller gets the fault, stored.

A rule with a `rate` below 1 hits each matching request with that probability only (drawn
from its own generator, seeded by the rule's `seed`), for a steady background error rate; the
requests it spares go on to the next rule.
"""

from __future__ import annotations

import fnmatch
import random
import threading
import time
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from .errors import API_ERROR
from .errors import INVALID_REQUEST
from .errors import StripeError

STAGES = ("edge", "endpoint", "after")

RATE_LIMIT_MESSAGE = (
    "Request rate limit exceeded. Learn more about rate limits here "
    "https://stripe.com/docs/rate-limits."
)
LOCK_TIMEOUT_MESSAGE = (
    "This object cannot be accessed right now because another API request or Stripe process "
    "is currently accessing it. If you see this error intermittently, retry the request. If "
    "you see this error frequently and are making multiple concurrent requests to a single "
    "object, make your requests serially or at a lower rate."
)


def rate_limited(reason: str) -> StripeError:
    return StripeError(
        429,
        RATE_LIMIT_MESSAGE,
        code="rate_limit",
        stored=False,
        headers={"Stripe-Rate-Limited-Reason": reason},
    )


class RateLimiter:
    """Token buckets keyed by scope; a rate of 0 disables a scope."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, scope: str, rate: float) -> bool:
        if rate <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(scope, (rate, now))
            tokens = min(rate, tokens + (now - last) * rate)
            if tokens < 1:
                self._buckets[scope] = (tokens, now)
                return False
            self._buckets[scope] = (tokens - 1, now)
            return True


def path_matches(rule: str, path: str) -> bool:
    """A prefix match, or a whole-path pattern match when the rule holds a `*`."""
    if "*" in rule:
        return fnmatch.fnmatchcase(path, rule)
    return path.startswith(rule)


@dataclass
class Fault:
    """One injected-fault rule; `count=None` means until cleared."""

    status: int = 500
    count: int | None = 1
    method: str | None = None
    path: str | None = None
    stage: str = "edge"
    type: str = API_ERROR
    code: str | None = None
    message: str = "An unknown error occurred"
    should_retry: bool | None = None
    headers: dict[str, str] = field(default_factory=dict)
    rate: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        self._rng = random.Random(self.seed)  # noqa: S311 - a fault knob, not security

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Fault:
        """Build from control-surface JSON; `kind` gives presets (lock_timeout, rate_limit)."""
        values = dict(spec)
        kind = values.pop("kind", None)
        if kind == "lock_timeout":
            values = {
                "status": 429,
                "type": INVALID_REQUEST,
                "code": "lock_timeout",
                "message": LOCK_TIMEOUT_MESSAGE,
                "should_retry": True,
                **values,
            }
        elif kind == "rate_limit":
            values = {
                "status": 429,
                "type": INVALID_REQUEST,
                "code": "rate_limit",
                "message": RATE_LIMIT_MESSAGE,
                "headers": {"Stripe-Rate-Limited-Reason": "global-rate"},
                **values,
            }
        elif kind not in (None, "api_error"):
            raise ValueError(f"unknown fault kind: {kind}")
        fault = cls(**values)
        if fault.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}")
        return fault

    def matches(self, stage: str, method: str, path: str) -> bool:
        return (
            self.stage == stage
            and (self.method is None or self.method.upper() == method)
            and (self.path is None or path_matches(self.path, path))
            and (self.count is None or self.count > 0)
        )

    def fires(self) -> bool:
        """Whether this matching request is hit: always at rate 1, else by a seeded draw."""
        return self.rate >= 1.0 or self._rng.random() < self.rate

    def error(self) -> StripeError:
        headers = dict(self.headers)
        if self.should_retry is not None:
            headers["Stripe-Should-Retry"] = "true" if self.should_retry else "false"
        return StripeError(
            self.status,
            self.message,
            type_=self.type,
            code=self.code,
            stored=self.stage != "edge",
            headers=headers,
        )


class Faults:
    """Active fault rules, consumed first-match-first."""

    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._rules.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, stage: str, method: str, path: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(stage, method, path) and rule.fires():
                    if rule.count is not None:
                        rule.count -= 1
                    return rule
            self._rules = [r for r in self._rules if r.count is None or r.count > 0]
        return None

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self._rules if r.count is None or r.count > 0]
