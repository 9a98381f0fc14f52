"""Publishing envelopes with publisher confirms, many in flight at once.

A webhook answers 2xx only after *every* message it carries is confirmed by the broker
(reliability.md finding 1), and a page of 1,000 observed invoices should not cost 1,000 round
trips: all publishes of a batch are queued at once (``Publisher.publish_async``) and then awaited
together against one deadline. The first failure (broker down, nack, unroutable, timeout) is
raised as a ``PublishError`` after the rest have settled, so the caller answers 503 and the
sender retries; the deterministic message ids make the repeats harmless.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterable
from typing import Protocol

from mlconnector.bus import Publisher
from mlconnector.bus import PublishError
from mlconnector.bus import PublishTimeout
from mlconnector.contracts import Envelope


class Publish(Protocol):
    """Publishes a batch of envelopes and returns how many were confirmed."""

    def __call__(self, envelopes: Iterable[Envelope]) -> int: ...


class ConfirmedPublisher:
    """``Publish`` over the shared ``Publisher``: all or nothing, confirmed."""

    def __init__(self, publisher: Publisher, *, timeout_s: float = 10.0) -> None:
        self._publisher = publisher
        self._timeout_s = timeout_s

    def __call__(self, envelopes: Iterable[Envelope]) -> int:
        futures: list[concurrent.futures.Future[None]] = []
        for envelope in envelopes:
            futures.append(
                self._publisher.publish_async(
                    envelope.routing_key,
                    envelope.to_json(),
                    message_id=envelope.id,
                    correlation_id=envelope.correlation_id,
                )
            )
        deadline = time.monotonic() + self._timeout_s
        first_error: BaseException | None = None
        for future in futures:
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except concurrent.futures.TimeoutError:
                first_error = first_error or PublishTimeout(
                    f"no confirm within {self._timeout_s:g}s; outcome unknown"
                )
            except PublishError as exc:
                first_error = first_error or exc
        if first_error is not None:
            raise first_error
        return len(futures)
