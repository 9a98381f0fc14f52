"""The webhook ``clientState`` secret: read from the secret store, compared in constant time.

BC notifications carry no signature; ``clientState`` is the shared secret BC echoes in every
element (reliability.md §6.2). It is re-read from the store after ``ttl_s`` so a rotation takes
effect without a restart, and a store that cannot be read then raises ``SecretStoreError``: the
webhook answers 503 (BC retries) rather than anything in the 4xx range (BC would delete the
subscription). During a rotation ``client_state_previous`` is accepted too, until
``renew-subscriptions`` has moved every subscription to the new value.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable

from mlconnector.redaction import register_secrets
from mlconnector.secrets import SecretStore
from mlconnector.secrets import SecretStoreError


class ClientStates:
    """The accepted clientState values, cached for ``ttl_s`` seconds."""

    def __init__(
        self,
        store: SecretStore,
        path: str,
        *,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._path = path
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()
        self._read_at: float | None = None

    def _load(self) -> tuple[str, ...]:
        with self._lock:
            now = self._clock()
            if self._read_at is not None and now - self._read_at < self._ttl_s:
                return self._values
            values = self._store.read(self._path)
            register_secrets(values.values())
            current = values.get("client_state", "")
            if not current:
                raise SecretStoreError(f"the secrets at {self._path!r} lack client_state")
            previous = values.get("client_state_previous", "")
            self._values = (current, previous) if previous else (current,)
            self._read_at = now
            return self._values

    def current(self) -> str:
        """The value new and renewed subscriptions get."""
        return self._load()[0]

    def all_match(self, given: Iterable[object]) -> bool:
        """True when every value is an accepted clientState (constant time per comparison)."""
        accepted = [value.encode() for value in self._load()]
        verdict = True
        for value in given:
            candidate = value.encode() if isinstance(value, str) else b""
            # Compare with every accepted value, without short-cuts, so timing says nothing.
            matched = False
            for expected in accepted:
                matched |= hmac.compare_digest(candidate, expected)
            verdict &= matched and bool(candidate)
        return verdict
