"""The active webhook signing secrets, re-read from the secret store so rotation needs no restart.

The stripe secret path holds ``webhook_secret`` (the current ``whsec_...``) and, during a
rotation, ``webhook_secret_previous``; either may also hold several comma-separated secrets
(e.g. one per endpoint when two endpoints deliver to this gateway). A delivery is accepted when
any ``v1`` matches any of them, which is how Stripe's own rotation works: while the old secret is
valid, each delivery carries one ``v1`` per secret (reliability.md §4.2).

Reading the store on every request would put Vault (or scrypt) on the hot path, so values are
cached for ``ttl_s``; a verification failure may force an early refresh (at most once per
``min_refresh_s``), so a secret just written by ``register-webhook`` is honoured at once and a
removed one stops working within ``ttl_s``. When a refresh fails, the last values keep serving
for up to ``max_stale_s``; after that ``SecretsUnavailable`` makes the webhook answer 503 (Stripe
retries) rather than verify against secrets that may have been revoked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping

from mlconnector.redaction import register_secrets
from mlconnector.secrets import SecretStore
from mlconnector.secrets import SecretStoreError

logger = logging.getLogger(__name__)

CURRENT_KEY = "webhook_secret"
PREVIOUS_KEY = "webhook_secret_previous"


class SecretsUnavailable(RuntimeError):
    """The secret store cannot be read and the cached secrets are too old to trust."""


def active_secrets(values: Mapping[str, str]) -> tuple[str, ...]:
    """The secrets to try, current first, from the values stored at the stripe path."""
    found: list[str] = []
    for key in (CURRENT_KEY, PREVIOUS_KEY):
        for part in values.get(key, "").split(","):
            secret = part.strip()
            if secret and secret not in found:
                found.append(secret)
    return tuple(found)


class WebhookSecrets:
    """Cached, periodically refreshed view of the active webhook secrets."""

    def __init__(
        self,
        store: SecretStore,
        path: str,
        *,
        ttl_s: float = 30.0,
        max_stale_s: float = 300.0,
        min_refresh_s: float = 5.0,
        initial: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._path = path
        self._ttl_s = ttl_s
        self._max_stale_s = max_stale_s
        self._min_refresh_s = min_refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self._loaded_at: float | None = None  # last successful read
        self._tried_at: float | None = None  # last attempt, successful or not
        if initial is not None:
            self._secrets = active_secrets(initial)
            self._loaded_at = clock()

    def current(self) -> tuple[str, ...]:
        """The active secrets, re-read when older than the TTL; ``SecretsUnavailable`` if stale."""
        with self._lock:
            now = self._clock()
            if self._loaded_at is None or now - self._loaded_at >= self._ttl_s:
                self._refresh_locked(now)
            return self._secrets

    def refresh_after_failure(self) -> tuple[str, ...] | None:
        """Re-read now (rate-limited) after a failed verification; new secrets or ``None``."""
        with self._lock:
            now = self._clock()
            if self._tried_at is not None and now - self._tried_at < self._min_refresh_s:
                return None
            before = self._secrets
            self._refresh_locked(now)
            return self._secrets if self._secrets != before else None

    def _refresh_locked(self, now: float) -> None:
        self._tried_at = now
        try:
            values = self._store.read(self._path)
        except SecretStoreError as exc:
            age = None if self._loaded_at is None else now - self._loaded_at
            if age is not None and age <= self._max_stale_s and self._secrets:
                logger.warning(
                    "cannot refresh the webhook secrets (%s); using values %.0fs old", exc, age
                )
                return
            raise SecretsUnavailable(f"cannot read the webhook secrets: {exc}") from exc
        register_secrets(values.values())
        secrets = active_secrets(values)
        if not secrets:
            raise SecretsUnavailable(f"no {CURRENT_KEY} at {self._path!r}")
        self._secrets = secrets
        self._loaded_at = now
