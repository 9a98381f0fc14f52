"""Settings every service shares, and the start-up steps they all take.

A service's own ``Settings`` embeds a ``CommonSettings`` read from the same ``EnvReader``, so a
single start-up error lists the problems of both. ``load_service_secrets`` is the one place a
service reads its secret path: every value is registered for redaction before anything can log
it, and a missing path or key is a start-up error naming the path and the keys, never a value.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from collections.abc import Sequence

from mlconnector.bus import DEFAULT_URL
from mlconnector.bus import Publisher
from mlconnector.bus import Topology
from mlconnector.config import ConfigError
from mlconnector.config import Environment
from mlconnector.config import EnvReader
from mlconnector.config import bounded_int
from mlconnector.identity import IDENTITY_PATH
from mlconnector.identity import JWKS_KEY
from mlconnector.identity import SIGNING_KEY
from mlconnector.identity import CallerPolicy
from mlconnector.identity import TokenIssuer
from mlconnector.identity import TokenVerifier
from mlconnector.ratelimit import RateLimitSettings
from mlconnector.redaction import redact
from mlconnector.redaction import register_secrets
from mlconnector.secrets import SecretNotFound
from mlconnector.secrets import SecretsSettings
from mlconnector.secrets import SecretStore
from mlconnector.secrets import SecretStoreError


def _environment(raw: str) -> Environment:
    return Environment(raw.strip().lower())


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError("expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def _namespace(raw: str) -> str:
    if not raw.replace("-", "").replace("_", "").isalnum():
        raise ValueError("use letters, digits, '-' and '_' only")
    return raw


def _amqp_url(raw: str) -> str:
    if not raw.startswith(("amqp://", "amqps://")):
        raise ValueError("expected an amqp:// or amqps:// URL")
    return raw


DEFAULT_COMMAND_CALLERS = "reconciler=*"


def _storage_uri(raw: str) -> str:
    if not raw.startswith(("memory://", "redis://", "rediss://", "redis+sentinel://")):
        raise ValueError("expected memory:// or a redis:// URI")
    return raw


@dataclasses.dataclass(frozen=True)
class CommonSettings:
    """What every service reads: where it runs, how it logs, the broker and the secrets."""

    environment: Environment
    log_level: str
    amqp_url: str = dataclasses.field(repr=False)
    secrets: SecretsSettings
    readiness_timeout_s: float
    bus_namespace: str | None = None
    # Where rate-limit counters live: ``memory://`` (one process) or ``redis://host:6379`` so
    # every worker and replica shares one budget (Flask-Limiter's storage URI).
    ratelimit_storage_uri: str = dataclasses.field(default="memory://", repr=False)
    # How many reverse proxies (the ingress controller) stand in front of the service and set
    # X-Forwarded-For: only that many hops are trusted for the client's address. 0 = none.
    trusted_proxies: int = 0
    # When set, gateways serve their command API on this port only and webhooks only on the
    # main port, so a NetworkPolicy can admit the reconciler and the ingress controller apart.
    command_port: int | None = None
    # The budgets of the rate limits (``MLC_RATELIMIT_*``), checked with everything else.
    ratelimits: RateLimitSettings = dataclasses.field(default_factory=RateLimitSettings)
    # Which authenticated caller may use which gateway command (``MLC_COMMAND_CALLERS``).
    command_callers: CallerPolicy = dataclasses.field(
        default_factory=lambda: CallerPolicy.parse(DEFAULT_COMMAND_CALLERS)
    )

    def topology(self) -> Topology:
        """The standard topology, or an isolated copy when ``MLC_BUS_NAMESPACE`` is set.

        A namespace lets two environments (or concurrent test runs) share one broker.
        """
        return Topology.isolated(self.bus_namespace) if self.bus_namespace else Topology()

    @classmethod
    def from_reader(cls, env: EnvReader) -> CommonSettings:
        return cls(
            environment=env("ENVIRONMENT", _environment, Environment.DEVELOPMENT),
            log_level=env("LOG_LEVEL", _log_level, "INFO"),
            amqp_url=env("AMQP_URL", _amqp_url, DEFAULT_URL),
            secrets=SecretsSettings.from_reader(env),
            readiness_timeout_s=env("READINESS_TIMEOUT", float, 2.0),
            bus_namespace=env.optional("BUS_NAMESPACE", _namespace),
            ratelimit_storage_uri=env("RATELIMIT_STORAGE", _storage_uri, "memory://"),
            trusted_proxies=env("TRUSTED_PROXIES", bounded_int(0, 5), 0),
            command_port=env.optional("COMMAND_PORT", bounded_int(1, 65535)),
            ratelimits=RateLimitSettings.from_reader(env),
            command_callers=env(
                "COMMAND_CALLERS", CallerPolicy.parse, CallerPolicy.parse(DEFAULT_COMMAND_CALLERS)
            ),
        )


class MissingSecrets(RuntimeError):
    """The service's secret path lacks keys it needs; the message names them, not values."""


def load_service_secrets(
    store: SecretStore, path: str, required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, str]:
    """Read the service's secrets, register them for redaction, and check the required keys."""
    try:
        values = store.read(path)
    except SecretNotFound as exc:
        raise MissingSecrets(
            f"no secrets at {path!r}; set them with: mlc-secrets set {path} " + " ".join(required)
        ) from exc
    register_secrets(values.values())
    missing = [key for key in required if not values.get(key)]
    if missing:
        raise MissingSecrets(
            f"secrets at {path!r} lack {', '.join(missing)}; set them with: "
            f"mlc-secrets set {path} {' '.join(missing)}"
        )
    wanted = set(required) | set(optional)
    return {k: v for k, v in values.items() if k in wanted}


def build_publisher(common: CommonSettings, client_name: str) -> Publisher:
    """The process's confirmed publisher on the standard topology (declared on first use)."""
    topology = common.topology()
    return Publisher(
        common.amqp_url, exchange=topology.exchange, topology=topology, client_name=client_name
    )


def preflight(service: str, check: Callable[[], object]) -> bool:
    """Run a service's start-up checks in the foreground, before gunicorn or the consumer.

    A configuration or secrets problem is printed as one clear message on stderr (False is
    returned, the caller exits 2) instead of surfacing as a worker that fails to boot.
    """
    try:
        check()
    except (ConfigError, MissingSecrets, SecretStoreError, ValueError) as exc:
        print(f"{service}: cannot start: {redact(str(exc))}", file=sys.stderr)
        return False
    return True


def _secret_reader(store: SecretStore, path: str, key: str) -> Callable[[], str | None]:
    def read() -> str | None:
        try:
            value = store.read(path).get(key)
        except SecretNotFound:
            return None
        if value:
            register_secrets([value])
        return value

    return read


def identity_verifier(store: SecretStore, audience: str) -> TokenVerifier:
    """Checks callers' tokens for ``audience`` against the key set at ``ml-connector/identity``.

    Nothing is read until the first command arrives, so a gateway serves its webhooks even
    before the identity keys exist.
    """
    return TokenVerifier(_secret_reader(store, IDENTITY_PATH, JWKS_KEY), audience=audience)


def identity_issuer(store: SecretStore, path: str) -> TokenIssuer:
    """Signs this service's tokens with the private key at ``path`` (key ``identity_key``)."""
    return TokenIssuer(_secret_reader(store, path, SIGNING_KEY))
