"""The review console's settings (``MLC_CONSOLE_*``), read with the reconciler's own.

The console is on when an Entra ID app registration is configured: ``MLC_CONSOLE_AUTHORITY``
(``https://login.microsoftonline.com/<tenant id>``) and ``MLC_CONSOLE_CLIENT_ID``; its client
secret and the key that signs CSRF tokens come from the secret store
(``ml-connector/reconciler``: ``console_client_secret``, ``console_secret_key``), never from the
environment. Without them the API runs alone and ``/console`` answers 404.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from mlconnector.config import EnvReader
from mlconnector.config import bounded_int
from mlconnector.config import parse_bool

CONSOLE_SECRETS = ("console_client_secret", "console_secret_key")


def _https_authority(raw: str) -> str:
    # MSAL accepts https authorities only; the tenant is the last path segment.
    value = raw.rstrip("/")
    if not value.startswith("https://") or value.count("/") < 3:
        raise ValueError("expected https://<host>/<tenant id>")
    return value


def _session_store(raw: str) -> str:
    if not raw.startswith(("redis://", "rediss://", "file://")):
        raise ValueError("expected redis://host:6379/1 or file:///a/directory")
    return raw


def _public_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("expected the console's public http(s):// address")
    return raw.rstrip("/")


def _zone(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {raw!r}") from exc
    return raw


def _mode(raw: str) -> str:
    if raw not in ("test", "live"):
        raise ValueError("must be test or live")
    return raw


@dataclasses.dataclass(frozen=True)
class ConsoleSettings:
    """Where people sign in, where sessions live, and how links into BC and Stripe are built."""

    authority: str | None
    client_id: str | None
    public_url: str | None
    session_store: str = dataclasses.field(repr=False)
    cookie_secure: bool
    idle_minutes: int
    absolute_hours: int
    ca_bundle: Path | None
    assets_dir: Path | None
    timezone: str
    bc_tenant: str | None
    bc_environment: str
    bc_company_name: str | None
    bc_company_id: str | None
    stripe_mode: str

    @property
    def enabled(self) -> bool:
        return bool(self.authority and self.client_id)

    @property
    def tenant_id(self) -> str:
        return (self.authority or "").rsplit("/", 1)[-1]

    @classmethod
    def from_reader(cls, env: EnvReader) -> ConsoleSettings:
        return cls(
            authority=env.optional("CONSOLE_AUTHORITY", _https_authority),
            client_id=env.optional("CONSOLE_CLIENT_ID", str),
            public_url=env.optional("CONSOLE_PUBLIC_URL", _public_url),
            session_store=env("CONSOLE_SESSION_STORE", _session_store, "redis://127.0.0.1:6379/2"),
            cookie_secure=env("CONSOLE_COOKIE_SECURE", parse_bool, True),
            idle_minutes=env("CONSOLE_IDLE_MINUTES", bounded_int(5, 24 * 60), 30),
            absolute_hours=env("CONSOLE_SESSION_HOURS", bounded_int(1, 24), 10),
            ca_bundle=env.optional("CONSOLE_CA_BUNDLE", Path),
            assets_dir=env.optional("CONSOLE_ASSETS_DIR", Path),
            timezone=env("CONSOLE_TIMEZONE", _zone, "UTC"),
            bc_tenant=env.optional("BC_TENANT_ID", str),
            bc_environment=env("BC_ENVIRONMENT", default="production"),
            bc_company_name=env.optional("CONSOLE_BC_COMPANY", str),
            bc_company_id=env.optional("BC_COMPANY_ID", str),
            stripe_mode=env("CONSOLE_STRIPE_MODE", _mode, "test"),
        )
