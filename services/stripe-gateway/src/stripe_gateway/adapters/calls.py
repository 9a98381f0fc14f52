"""Calling the stripe SDK: a bounded in-process retry loop, classified failures, paging.

Retries happen in two layers. The SDK retries connection errors, 409 and 5xx itself (as many
times as its ``max_network_retries``), honouring ``Stripe-Should-Retry``. It does not retry a
plain 429, so ``StripeCalls.call`` adds a bounded loop for the cases ``stripe_errors`` marks
``retry_in_process`` (429 ``rate_limit`` / ``lock_timeout``, 409 ``idempotency_key_in_use``),
sleeping with full jitter (a random delay between 0 and an exponentially growing cap) so a burst
of callers does not retry in lock-step. A ``Stripe-Should-Retry: false`` or an idempotent replay
of a stored error is never retried in process: the same request cannot get another answer.

Every failure leaves as ``StripeCallError`` carrying its classification, except errors no row
knows, which propagate unchanged as real failures. Lists are walked page by page, each page
through the same loop, so a 429 on page 7 does not lose pages 1-6.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any
from typing import TypeVar

import stripe

from mlconnector import metrics
from stripe_gateway.stripe_errors import Verdict
from stripe_gateway.stripe_errors import classify

logger = logging.getLogger(__name__)

PAGE_SIZE = 100

T = TypeVar("T")


_READS = ("retrieve", "list", "search")


def operation_family(operation: str) -> str:
    """``read``, ``create``, ``update``, ``delete`` or ``action`` (finalize, void, pay)."""
    verb = operation.partition("_")[0]
    if verb in _READS:
        return "read"
    if verb == "create":
        return "create"
    if verb in ("update", "add"):
        return "update"
    if verb == "delete":
        return "delete"
    return "action"


class StripeCallError(Exception):
    """A classified Stripe failure; ``verdict`` says what it means, ``error`` is the SDK's."""

    def __init__(self, operation: str, verdict: Verdict, error: stripe.StripeError) -> None:
        # The SDK's message is Stripe's user-facing text; it names objects, never our key.
        super().__init__(f"{operation}: {verdict.case.name}: {error.user_message or error}")
        self.operation = operation
        self.verdict = verdict
        self.error = error

    @property
    def request_id(self) -> str | None:
        return self.error.request_id


class StripeCalls:
    """The retry policy every Stripe call goes through."""

    def __init__(
        self,
        *,
        rate_limit_retries: int = 3,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 4.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._retries = rate_limit_retries
        self._base = backoff_base_s
        self._cap = backoff_cap_s
        self._sleep = sleep

    def call(self, operation: str, fn: Callable[[], T]) -> T:
        """Run one SDK call with the in-process retry policy and classified failures.

        Each attempt is one observation of ``mlc_api_request_duration_seconds{system="stripe"}``
        (the SDK's own network retries inside it are not seen apart).
        """
        attempt = 0
        family = operation_family(operation)
        while True:
            started = time.monotonic()
            try:
                result = fn()
            except stripe.StripeError as exc:
                metrics.observe_api_call(
                    "stripe", family, exc.http_status, time.monotonic() - started
                )
                verdict = classify(exc, operation)
                if verdict is None:
                    raise
                if verdict.retry_in_process and attempt < self._retries:
                    delay = self.backoff(attempt)
                    logger.warning(
                        "stripe %s: %s (request %s); retry %d/%d in %.2fs",
                        operation,
                        verdict.case.name,
                        exc.request_id,
                        attempt + 1,
                        self._retries,
                        delay,
                    )
                    self._sleep(delay)
                    attempt += 1
                    continue
                raise StripeCallError(operation, verdict, exc) from exc
            metrics.observe_api_call("stripe", family, 200, time.monotonic() - started)
            return result

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        ceiling = min(self._cap, self._base * (2**attempt))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography

    def _pages(
        self, operation: str, fetch: Callable[[dict[str, Any]], Any], params: Mapping[str, Any]
    ) -> Iterator[Any]:
        """Every item of a cursor-paginated list, each page fetched through ``call``."""
        cursor: str | None = None
        while True:
            page_params = {**params, "limit": PAGE_SIZE}
            if cursor:
                page_params["starting_after"] = cursor
            page = self.call(operation, functools.partial(fetch, page_params))
            yield from page.data
            if not page.has_more or not page.data:
                return
            cursor = page.data[-1].id
