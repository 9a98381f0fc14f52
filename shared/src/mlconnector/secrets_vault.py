"""Secrets in Vault (or OpenBao) KV v2 through hvac, with token or Kubernetes auth.

Nothing touches the network when a ``VaultSecrets`` is built: the hvac client is created, and with
Kubernetes auth the login happens, on first use. The service-account JWT is read from its file at
every login, because since Kubernetes 1.21 the mounted token expires and is rotated by the kubelet.
A Vault token obtained by login is replaced before its TTL runs out, and once more when Vault
answers 403 (token revoked or expired early). Every hvac or network failure is translated here into
the ``mlconnector.secrets`` errors (transient ones into ``SecretStoreUnavailable``), with messages
built from the address, mount and path only, never from tokens, JWTs or values.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import TypeVar

import hvac
import hvac.exceptions as vault_errors
import requests

from mlconnector.redaction import MASK
from mlconnector.redaction import redact
from mlconnector.redaction import register_secret
from mlconnector.redaction import register_secrets
from mlconnector.secrets import DEFAULT_K8S_JWT_PATH
from mlconnector.secrets import DEFAULT_VAULT_MOUNT
from mlconnector.secrets import DEFAULT_VAULT_TIMEOUT_SECONDS
from mlconnector.secrets import SecretAccessDenied
from mlconnector.secrets import SecretNotFound
from mlconnector.secrets import SecretStoreError
from mlconnector.secrets import SecretStoreUnavailable
from mlconnector.secrets import validate_path
from mlconnector.secrets import validate_values

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_LIST_PREFIX = "ml-connector"
# Log in again once this share of the token's TTL has passed, well before Vault expires it.
_RENEW_FRACTION = 0.8
_CAS_ATTEMPTS = 3
_TRANSIENT_VAULT_ERRORS = (
    vault_errors.VaultDown,
    vault_errors.InternalServerError,
    vault_errors.BadGateway,
    vault_errors.VaultNotInitialized,
    vault_errors.RateLimitExceeded,
)


@dataclass(frozen=True)
class TokenAuth:
    """A fixed Vault token (development, CI, or a token delivered by an agent)."""

    token: str = field(repr=False)


@dataclass(frozen=True)
class KubernetesAuth:
    """Log in with the pod's service-account JWT against Vault's Kubernetes auth method."""

    role: str
    jwt_path: Path = Path(DEFAULT_K8S_JWT_PATH)
    mount: str = "kubernetes"

    def read_jwt(self) -> str:
        """Read the JWT now (never cached: the kubelet rotates the file)."""
        try:
            jwt = self.jwt_path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretStoreError(
                f"cannot read the Kubernetes service-account token {self.jwt_path}: {exc.strerror}"
            ) from None
        if not jwt:
            raise SecretStoreError(f"the Kubernetes service-account token {self.jwt_path} is empty")
        register_secret(jwt)
        return jwt


class VaultSecrets:
    """``SecretStore`` over a KV v2 mount. ``write`` merges keys unless ``replace=True``."""

    def __init__(
        self,
        addr: str,
        *,
        auth: TokenAuth | KubernetesAuth,
        mount: str = DEFAULT_VAULT_MOUNT,
        verify: bool | str = True,
        timeout: int = DEFAULT_VAULT_TIMEOUT_SECONDS,
        list_prefix: str = DEFAULT_LIST_PREFIX,
    ) -> None:
        self._addr = addr.rstrip("/")
        self._auth = auth
        self._mount = mount
        self._verify = verify
        self._timeout = timeout
        self._list_prefix = validate_path(list_prefix)
        self._lock = threading.RLock()
        self._client: hvac.Client | None = None
        self._logged_in = False
        self._renew_at: float | None = None
        self._credentials: set[str] = set()
        if isinstance(auth, TokenAuth):
            self._remember(auth.token)

    def __repr__(self) -> str:
        return f"VaultSecrets({self._addr!r}, mount={self._mount!r}, auth={self._auth!r})"

    def read(self, path: str) -> dict[str, str]:
        """Return the latest version at ``path``; ``SecretNotFound`` if absent or deleted."""
        validate_path(path)

        def op(client: hvac.Client) -> dict[str, str]:
            response = client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=self._mount, raise_on_deleted_version=True
            )
            return _string_values(response["data"]["data"], path)

        values = self._call(f"read {path}", op)
        register_secrets(values.values())
        return values

    def write(self, path: str, values: Mapping[str, str], *, replace: bool = False) -> None:
        """Write a new version: current keys merged with ``values`` (check-and-set), or only
        ``values`` with ``replace=True``. A concurrent writer makes the merge retry, not lose keys.
        """
        validate_path(path)
        new_values = validate_values(values)
        register_secrets(new_values.values())

        def op(client: hvac.Client) -> None:
            engine = client.secrets.kv.v2
            if replace:
                engine.create_or_update_secret(
                    path=path, secret=new_values, mount_point=self._mount
                )
                return
            for _ in range(_CAS_ATTEMPTS):
                try:
                    current = engine.read_secret_version(
                        path=path, mount_point=self._mount, raise_on_deleted_version=True
                    )
                except vault_errors.InvalidPath:
                    # Never written, or latest version deleted: nothing to merge, and no version
                    # number that check-and-set could match in both cases.
                    merged, cas = dict(new_values), None
                else:
                    existing = _string_values(current["data"]["data"], path)
                    register_secrets(existing.values())
                    merged, cas = {**existing, **new_values}, current["data"]["metadata"]["version"]
                try:
                    engine.create_or_update_secret(
                        path=path, secret=merged, cas=cas, mount_point=self._mount
                    )
                    return
                except vault_errors.InvalidRequest as exc:
                    if cas is None or "check-and-set" not in str(exc):
                        raise
            raise SecretStoreError(f"{path} kept changing during the write; try again")

        self._call(f"write {path}", op)

    def list_paths(self) -> list[str]:
        """Every secret path under the list prefix (``ml-connector/`` by default), sorted."""

        def op(client: hvac.Client) -> list[str]:
            found: list[str] = []
            pending = [self._list_prefix]
            while pending:
                folder = pending.pop()
                try:
                    response = client.secrets.kv.v2.list_secrets(
                        path=folder, mount_point=self._mount
                    )
                except vault_errors.InvalidPath:
                    continue  # an empty folder does not exist in KV v2
                for key in response["data"]["keys"]:
                    if key.endswith("/"):
                        pending.append(f"{folder}/{key.rstrip('/')}")
                    else:
                        found.append(f"{folder}/{key}")
            return sorted(found)

        return self._call(f"list {self._list_prefix}/", op)

    def check(self) -> None:
        """Unsealed, reachable, and our token is accepted; raises within the client timeout."""

        def op(client: hvac.Client) -> None:
            health = client.sys.read_health_status(method="GET", standby_ok=True)
            if not isinstance(health, dict):  # hvac returns the raw response for non-200 codes
                state = {503: "sealed", 501: "not initialised"}.get(health.status_code, "unhealthy")
                raise SecretStoreUnavailable(
                    f"Vault at {self._addr} is {state} (HTTP {health.status_code})"
                )
            client.auth.token.lookup_self()

        self._call("check health", op)

    def close(self) -> None:
        """Close the HTTP session; a later call opens a new one."""
        with self._lock:
            if self._client is not None:
                self._client.adapter.close()
                self._client = None
                self._logged_in = False

    # -- internals ---------------------------------------------------------------------------

    def _call(self, action: str, op: Callable[[hvac.Client], T]) -> T:
        with self._lock:
            for attempt in (1, 2):
                try:
                    return op(self._authenticated_client())
                except vault_errors.Forbidden as exc:
                    if attempt == 1 and isinstance(self._auth, KubernetesAuth):
                        logger.info("Vault refused our token (%s); logging in again", action)
                        self._logged_in = False
                        continue
                    raise SecretAccessDenied(
                        f"Vault at {self._addr} denied access ({action}): {self._detail(exc)}; "
                        "the token is invalid or expired, or its policy does not allow this"
                    ) from None
                except (vault_errors.VaultError, requests.RequestException) as exc:
                    raise self._translate(exc, action) from None
            raise AssertionError("unreachable")  # pragma: no cover

    def _authenticated_client(self) -> hvac.Client:
        if self._client is None:
            token = self._auth.token if isinstance(self._auth, TokenAuth) else None
            self._client = hvac.Client(
                url=self._addr, token=token, verify=self._verify, timeout=self._timeout
            )
        if isinstance(self._auth, KubernetesAuth):
            expired = self._renew_at is not None and time.monotonic() >= self._renew_at
            if not self._logged_in or expired:
                self._login(self._client, self._auth)
        return self._client

    def _login(self, client: hvac.Client, auth: KubernetesAuth) -> None:
        self._logged_in = False
        jwt = auth.read_jwt()
        self._remember(jwt)
        action = f"log in with role {auth.role!r} at auth/{auth.mount}"
        try:
            response: Any = client.auth.kubernetes.login(
                role=auth.role, jwt=jwt, mount_point=auth.mount
            )
        except (
            vault_errors.Forbidden,
            vault_errors.Unauthorized,
            vault_errors.InvalidRequest,
            vault_errors.InvalidPath,
        ) as exc:
            raise SecretAccessDenied(
                f"Vault at {self._addr} rejected the Kubernetes login ({action}): "
                f"{self._detail(exc)}"
            ) from None
        except (vault_errors.VaultError, requests.RequestException) as exc:
            raise self._translate(exc, action) from None
        self._remember(client.token)
        lease = int(response["auth"].get("lease_duration") or 0)
        self._renew_at = time.monotonic() + lease * _RENEW_FRACTION if lease > 0 else None
        self._logged_in = True
        logger.info("logged in to Vault at %s with role %s", self._addr, auth.role)

    def _translate(self, exc: Exception, action: str) -> SecretStoreError:
        where = f"Vault at {self._addr}"
        if isinstance(exc, requests.exceptions.SSLError):
            return SecretStoreUnavailable(
                f"TLS with {where} failed ({action}); check MLC_VAULT_CACERT"
            )
        if isinstance(exc, requests.exceptions.Timeout):
            return SecretStoreUnavailable(
                f"{where} did not answer within {self._timeout}s ({action})"
            )
        if isinstance(exc, requests.RequestException):
            return SecretStoreUnavailable(f"cannot reach {where} ({action}): {type(exc).__name__}")
        if isinstance(exc, vault_errors.VaultDown):
            return SecretStoreUnavailable(f"{where} is sealed or unavailable ({action})")
        if isinstance(exc, _TRANSIENT_VAULT_ERRORS):
            return SecretStoreUnavailable(f"{where} failed ({action}): {self._detail(exc)}")
        if isinstance(exc, vault_errors.InvalidPath):
            return SecretNotFound(f"nothing found ({action}) in mount {self._mount!r} of {where}")
        if isinstance(exc, vault_errors.Unauthorized):
            return SecretAccessDenied(f"{where} denied access ({action}): {self._detail(exc)}")
        return SecretStoreError(f"{where} refused the request ({action}): {self._detail(exc)}")

    def _detail(self, exc: Exception) -> str:
        """Vault's own error text, scrubbed of our credentials and of anything secret-looking."""
        errors = getattr(exc, "errors", None)
        text = ", ".join(str(e) for e in errors) if errors else type(exc).__name__
        for credential in self._credentials:
            text = text.replace(credential, MASK)
        return redact(text)[:300]

    def _remember(self, credential: str | None) -> None:
        if credential:
            self._credentials.add(credential)
            register_secret(credential)


def _string_values(data: object, path: str) -> dict[str, str]:
    if not isinstance(data, dict):
        raise SecretStoreError(f"{path} does not hold a key/value secret")
    bad = sorted(str(key) for key, value in data.items() if not isinstance(value, str))
    if bad:
        raise SecretStoreError(f"{path}: keys {bad} hold non-string values")
    return {str(key): value for key, value in data.items()}
