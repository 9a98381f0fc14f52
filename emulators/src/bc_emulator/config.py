"""Emulator configuration: every knob in one frozen dataclass.

The defaults are Business Central online's documented values (bc-api.md §7, §8). ``test_mode``
swaps the slow ones (30 s notification batching, minutes-long retry schedule) for time-scaled
values so a test suite can watch a whole webhook life cycle in well under a second, while keeping
the *shape* of the behaviour identical.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from typing import Any

from bc_emulator.people import DirectoryUser
from bc_emulator.people import WebApp
from bc_emulator.people import user_from_json
from bc_emulator.people import web_app_from_json

DEFAULT_TENANT = "00000000-0000-0000-0000-0000000000a1"
DEFAULT_CLIENT_ID = "00000000-0000-0000-0000-0000000000c1"
BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"

# BC's webhook retry schedule (codeunit 6154 GetDelayTimeForAttempt): +1, +1, +1, +10, +100,
# +1000 minutes. The reference notes the mapping of attempt numbers to delays is uncertain, so the
# schedule is a knob.
REALISTIC_RETRY_DELAYS = (60.0, 60.0, 60.0, 600.0, 6000.0, 60000.0)
TEST_RETRY_DELAYS = (0.05, 0.05, 0.05, 0.1, 0.2, 0.4)


@dataclass(frozen=True)
class ClientApp:
    """An Entra app registration the token endpoint accepts (client credentials)."""

    tenant: str
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class EmulatorConfig:
    """All behaviour knobs; build with :func:`make_config`."""

    test_mode: bool = False
    clients: tuple[ClientApp, ...] = ()
    environments: tuple[str, ...] = ("production", "sandbox")
    lcy_code: str = "USD"
    token_lifetime_seconds: int = 3599
    admin_token: str | None = None
    # OData
    max_page_size: int = 20000
    require_if_match_on_delete: bool = True
    # Whether `$filter` on Code fields upper-cases the literal for the caller. Unverified in BC
    # (bc-api.md §3.6); the strict default makes a client that forgets to upper-case fail here.
    code_filter_case_insensitive: bool = False
    # Webhooks
    notification_delay_seconds: float = 30.0
    collection_threshold: int = 1000
    retry_delays_seconds: tuple[float, ...] = REALISTIC_RETRY_DELAYS
    max_retry_attempt: int = 5
    validation_timeout_seconds: float = 5.0
    notification_timeout_seconds: float = 30.0
    subscription_lifetime_seconds: float = 3 * 24 * 3600.0
    max_subscriptions: int = 200
    allow_http_notification_url: bool = False
    notification_ca_file: str | None = None
    # Throttling (per user = per app registration)
    rate_limit_requests: int = 6000
    rate_limit_window_seconds: float = 300.0
    rate_limit_per_second: float | None = None
    max_concurrent_requests: int = 5
    max_queued_requests: int = 95
    queue_timeout_seconds: float = 480.0
    retry_after_on_429: bool = True
    latency_ms: int = 0
    # $batch (bc-api.md §6.3, §8): BC allows 100 operations per batch. How a batch counts against
    # the rate limits is not documented; once per $batch is the default, see batch.py.
    max_batch_operations: int = 100
    batch_counts_operations: bool = False
    # Interactive sign-in (signin.py): people and web app registrations of the emulated Entra
    # tenant. More can be added at run time (POST /_emulator/signin/...; signin_seed.py).
    users: tuple[DirectoryUser, ...] = ()
    web_apps: tuple[WebApp, ...] = ()

    def with_changes(self, **changes: Any) -> EmulatorConfig:
        """A copy with the given fields replaced (used by the admin config endpoint)."""
        return dataclasses.replace(self, **_coerce(changes))


_TEST_MODE_DEFAULTS: dict[str, Any] = {
    "notification_delay_seconds": 0.05,
    "retry_delays_seconds": TEST_RETRY_DELAYS,
    "notification_timeout_seconds": 2.0,
    "allow_http_notification_url": True,
    "queue_timeout_seconds": 5.0,
}

_FIELD_NAMES = {f.name for f in dataclasses.fields(EmulatorConfig)}


def _coerce(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    tenant = _first_tenant(values)
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in _FIELD_NAMES:
            raise ValueError(f"unknown emulator setting {key!r}")
        if name == "clients":
            value = tuple(
                c if isinstance(c, ClientApp) else ClientApp(**_client_kwargs(c)) for c in value
            )
        elif name == "users":
            value = tuple(user_from_json(u, tenant) for u in value)
        elif name == "web_apps":
            value = tuple(web_app_from_json(a, tenant) for a in value)
        elif name == "retry_delays_seconds":
            value = tuple(float(v) for v in value)
        elif name == "environments":
            value = tuple(value)
        elif isinstance(value, Decimal):
            value = float(value)  # knobs (seconds, rates) are not money; JSON gives Decimals
        out[name] = value
    return out


def _first_tenant(values: Mapping[str, Any]) -> str:
    """Users and web apps without a tenant belong to the first configured app's tenant."""
    for client in values.get("clients") or ():
        return client.tenant if isinstance(client, ClientApp) else str(client["tenant"])
    return DEFAULT_TENANT


def _client_kwargs(raw: Mapping[str, str]) -> dict[str, str]:
    return {
        "tenant": raw["tenant"],
        "client_id": raw.get("client_id") or raw["clientId"],
        "client_secret": raw.get("client_secret") or raw["clientSecret"],
    }


def make_config(values: Mapping[str, Any] | EmulatorConfig | None = None) -> EmulatorConfig:
    """Build a configuration from a mapping; ``test_mode`` fills in time-scaled defaults."""
    if isinstance(values, EmulatorConfig):
        return values
    given = _coerce(values or {})
    if given.get("test_mode"):
        given = {**_TEST_MODE_DEFAULTS, **given}
    return EmulatorConfig(**given)


@dataclass
class RuntimeKnobs:
    """Mutable settings the admin API may change while the emulator runs."""

    config: EmulatorConfig
    extra_clients: list[ClientApp] = field(default_factory=list)

    def all_clients(self) -> list[ClientApp]:
        """Configured apps plus apps registered through the admin API."""
        return [*self.config.clients, *self.extra_clients]
