"""`Idempotency-Key` semantics from stripe-api.md §11.

The first response for a key (status, body and headers, 5xx included) is stored and replayed
for the same key and parameters for `idempotency_ttl` seconds of emulator time; the same key
with other parameters is a 400 `idempotency_error`; a key whose first request is still running
is a 409 `idempotency_key_in_use`. Requests that fail before the endpoint starts (validation,
auth, rate limits) store nothing, so they can be retried. The store has its own lock because
the in-flight check must happen before a request waits for the state lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .errors import IDEMPOTENCY_ERROR
from .errors import StripeError


@dataclass
class StoredResponse:
    status: int
    body: bytes
    headers: dict[str, str]
    request_id: str


@dataclass
class _Entry:
    fingerprint: str
    created: int
    response: StoredResponse | None = None


class IdempotencyStore:
    """Keys -> first response, pruned after the TTL."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def begin(self, key: str, fingerprint: str, now: int, ttl: int) -> StoredResponse | None:
        """Claim `key` for a new request, or return the response to replay.

        Raises the mismatch / in-use errors described in the module docstring.
        """
        if len(key) > 255:
            raise StripeError(
                400,
                "Idempotency keys can be at most 255 characters long.",
                param="Idempotency-Key",
                stored=False,
            )
        with self._lock:
            self._prune(now, ttl)
            entry = self._entries.get(key)
            if entry is None:
                self._entries[key] = _Entry(fingerprint, now)
                return None
            if entry.fingerprint != fingerprint:
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    f"they were first used with. Try using a key other than '{key}' if you "
                    "meant to execute a different request.",
                    type_=IDEMPOTENCY_ERROR,
                    stored=False,
                )
            if entry.response is None:
                raise StripeError(
                    409,
                    "There is currently another in-progress request using this "
                    f"Idempotent Key (that probably means you submitted twice, and the other "
                    f"request is still going through): {key}. Please try again later.",
                    type_=IDEMPOTENCY_ERROR,
                    code="idempotency_key_in_use",
                    stored=False,
                )
            return entry.response

    def finish(self, key: str, response: StoredResponse) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.response is None:
                entry.response = response

    def abandon(self, key: str) -> None:
        """Forget a key whose request stored nothing (it may be retried with other params)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.response is None:
                del self._entries[key]

    def _prune(self, now: int, ttl: int) -> None:
        expired = [k for k, e in self._entries.items() if e.response and e.created + ttl <= now]
        for key in expired:
            del self._entries[key]
