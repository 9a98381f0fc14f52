"""Fault injection: make the next N requests (or those in a time window) fail or stall.

A rule names the HTTP status to return (408, 429, 500, 502, 503, 504, 409, ...), optionally a
BC error code/message, ``Retry-After`` seconds, a delay before answering (``delaySeconds``,
for client-side timeouts), which requests it hits (``target`` ``api``/``token``/``all``, a path
substring, methods), and how long it lives (``count`` requests or ``seconds``). A ``rate`` below
1 hits each matching request with that probability only (a seeded draw per rule, ``seed``), for a
steady background error rate; spared requests go on to the next rule. Bodies use BC's envelope for
the API and Entra's for the token endpoint, like every other emulator response.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from typing import Any

from flask import request

from bc_emulator.errors import BCError
from bc_emulator.errors import EntraError

_DEFAULTS = {
    408: ("Request_Timeout", "The operation has timed out."),
    409: (
        "Internal_ConcurrencyConflict",
        "The operation could not complete because of a conflict.",
    ),
    429: ("Request_TooManyRequests", "Too many requests reached."),
    500: ("Internal_ServerError", "An unexpected error occurred on the server."),
    502: ("BadGateway", "The gateway received an invalid response."),
    503: ("Internal_ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The request timed out."),
}


@dataclass
class FaultRule:
    """One injected fault."""

    status: int
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    code: str | None = None
    message: str | None = None
    count: int | None = 1
    until: float | None = None
    retry_after: int | None = None
    delay_seconds: float = 0.0
    target: str = "api"
    path_contains: str | None = None
    methods: tuple[str, ...] = ()
    hits: int = 0
    rate: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        self._rng = random.Random(self.seed)  # noqa: S311 - a fault knob, not security

    def fires(self) -> bool:
        """Whether a matching request is hit: always at rate 1, else by the rule's seeded draw."""
        return self.rate >= 1.0 or self._rng.random() < self.rate

    def matches(self, target: str, path: str, method: str, now: float) -> bool:
        """Whether this rule applies to the request."""
        if self.count is not None and self.count <= 0:
            return False
        if self.until is not None and now > self.until:
            return False
        if self.target not in ("all", target):
            return False
        if self.path_contains and self.path_contains not in path:
            return False
        return not self.methods or method in self.methods

    def describe(self) -> dict[str, Any]:
        """Admin view of the rule."""
        return {
            "id": self.id,
            "status": self.status,
            "code": self.code,
            "count": self.count,
            "remainingSeconds": None
            if self.until is None
            else _seconds(self.until - time.monotonic()),
            "retryAfter": self.retry_after,
            "delaySeconds": _seconds(self.delay_seconds),
            "target": self.target,
            "pathContains": self.path_contains,
            "methods": list(self.methods),
            "hits": self.hits,
            "rate": Decimal(str(self.rate)),
        }


def _seconds(value: float) -> Decimal:
    """Seconds for JSON output (no floats in responses)."""
    return Decimal(str(round(max(0.0, value), 3)))


def rule_from_json(body: dict[str, Any]) -> FaultRule:
    """Build a rule from the admin API's JSON."""
    seconds = body.get("seconds")
    count = body.get("count", None if seconds is not None else 1)
    return FaultRule(
        status=int(body.get("status", 503)),
        code=body.get("code"),
        message=body.get("message"),
        count=None if count is None else int(count),
        until=None if seconds is None else time.monotonic() + float(seconds),
        retry_after=None if body.get("retryAfter") is None else int(body["retryAfter"]),
        delay_seconds=float(body.get("delaySeconds", 0)),
        target=str(body.get("target", "api")),
        path_contains=body.get("pathContains"),
        methods=tuple(m.upper() for m in body.get("methods", ())),
        rate=float(body.get("rate", 1)),
        seed=None if body.get("seed") is None else int(body["seed"]),
    )


class Faults:
    """Active fault rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rules: list[FaultRule] = []
        self.injected = 0

    def add(self, rule: FaultRule) -> FaultRule:
        """Activate a rule."""
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove all rules."""
        with self._lock:
            self.rules.clear()

    def apply(self, target: str) -> None:
        """Raise the first matching rule's error (after its delay), if any."""
        now = time.monotonic()
        with self._lock:
            rule = next(
                (
                    r
                    for r in self.rules
                    if r.matches(target, request.path, request.method, now) and r.fires()
                ),
                None,
            )
            if rule is None:
                return
            if rule.count is not None:
                rule.count -= 1
            rule.hits += 1
            self.injected += 1
        if rule.delay_seconds:
            time.sleep(rule.delay_seconds)
        code, message = _DEFAULTS.get(rule.status, ("Unknown", "Injected fault."))
        headers = {}
        if rule.retry_after is not None:
            headers["Retry-After"] = str(rule.retry_after)
        elif rule.status in (502, 503):
            headers["Retry-After"] = "1"  # BC adds Retry-After on 502/503 (bc-api.md §6.4)
        if target == "token":
            raise EntraError(rule.status, "temporarily_unavailable", 50196, rule.message or message)
        raise BCError(rule.status, rule.code or code, rule.message or message, headers)
