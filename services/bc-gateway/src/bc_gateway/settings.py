"""bc-gateway settings, from ``MLC_*`` environment variables (one error lists every problem).

The Business Central connection (tenant, environment, company) is optional at start-up so that the
webhook endpoint and the health probes run before BC is configured; every use of BC goes through
``Settings.require_bc()``, which raises one ``ConfigError`` naming the missing variables. Setting
only half of it (a tenant without a company, say) is a start-up error. ``MLC_BC_POLL_CURSOR``
names the file a long ``poll-invoices`` saves its position in, so a Job restarted after an
interruption resumes instead of starting over (``invoice_poll.py``).
"""

from __future__ import annotations

import dataclasses
import math
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from limits import parse

from mlconnector.clearing import CurrencyClearing
from mlconnector.clearing import parse_currency_clearing
from mlconnector.config import ConfigError
from mlconnector.config import EnvReader
from mlconnector.config import parse_bool
from mlconnector.runtime import CommonSettings

SERVICE = "bc-gateway"
SECRETS_PATH = "ml-connector/bc"
REQUIRED_SECRETS = ("client_id", "client_secret", "client_state")
# Accepted alongside client_state while subscriptions still carry the old value (rotation).
OPTIONAL_SECRETS = ("client_state_previous",)

DEFAULT_API_BASE = "https://api.businesscentral.dynamics.com"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"
_ENTRA_HOSTS = {"login.microsoftonline.com", "login.microsoft.com", "login.windows.net"}


def _https_base(raw: str) -> str:
    """An absolute https URL without credentials, query or trailing slash."""
    value = raw.strip().rstrip("/")
    parts = urllib.parse.urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc:
        raise ValueError("expected https://host[:port] without credentials")
    if parts.query or parts.fragment:
        raise ValueError("expected a base URL without query or fragment")
    return value


def _notification_url(raw: str) -> str:
    value = raw.strip()
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise ValueError("expected an http(s) URL without credentials")
    return value


def _guid(raw: str) -> str:
    value = raw.strip().lower()
    parts = value.split("-")
    if [len(p) for p in parts] != [8, 4, 4, 4, 12] or not all(
        c in "0123456789abcdef" for c in value.replace("-", "")
    ):
        raise ValueError("expected a GUID such as 5d115c9c-44e3-ea11-bb43-000d3a2feca1")
    return value


def _tenant(raw: str) -> str:
    """A tenant GUID or a verified domain (``cronus.com``)."""
    value = raw.strip()
    if not value or "/" in value or " " in value:
        raise ValueError("expected the Entra tenant id (GUID) or a verified domain")
    return value


def _budget(raw: str) -> str:
    """A ``limits`` rate string (``6000/5 minutes``, ``600 per 30 seconds``), checked now."""
    try:
        parse(raw)
    except ValueError:
        raise ValueError("expected a rate like '6000/5 minutes' or '600 per 30 seconds'") from None
    return raw


def _batch_counts(raw: str) -> str:
    if raw not in ("operations", "once"):
        raise ValueError("expected 'operations' or 'once'")
    return raw


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value) or value <= 0:
        raise ValueError("expected a positive number")
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("expected a positive whole number")
    return value


def _journal_code(raw: str) -> str:
    """A journal batch name: Code[10], upper-cased like BC does."""
    value = raw.strip().upper()
    if not 1 <= len(value) <= 10:
        raise ValueError("expected 1-10 characters (a BC journal batch name is Code[10])")
    return value


def _account_number(raw: str) -> str:
    value = raw.strip().upper()
    if not 1 <= len(value) <= 20:
        raise ValueError("expected 1-20 characters (a BC account number is Code[20])")
    return value


@dataclasses.dataclass(frozen=True)
class BCSettings:
    """Where Business Central is and how the client talks to it."""

    tenant_id: str
    environment: str
    company_id: str
    api_base: str = DEFAULT_API_BASE
    authority_host: str = DEFAULT_AUTHORITY_HOST
    ca_bundle: Path | None = None
    # False only when the CA bundle must win over REQUESTS_CA_BUNDLE (bc-api.md §2.3); it also
    # makes requests ignore proxy variables, so production keeps the default.
    trust_env: bool = True
    instance_discovery: bool = True
    max_rps: float | None = None
    # The connector's share of BC's per-user window, for every process together (e.g.
    # "5000/5 minutes"; ``adapters.shared_budget``). None: per-process pacing and 429s only.
    budget: str | None = None
    # Whether the budget charges a $batch per operation (cautious: Microsoft does not say how
    # BC counts one) or once ("once" when the tenant's telemetry shows BC counts it once).
    batch_counts_operations: bool = True
    timeout_s: float = 30.0
    max_attempts: int = 5
    retry_budget_s: float = 30.0
    page_size: int = 1000

    @property
    def api_root(self) -> str:
        """``<base>/v2.0/<tenant>/<environment>/api/v2.0``."""
        return f"{self.api_base}/v2.0/{self.tenant_id}/{self.environment}/api/v2.0"

    @property
    def authority(self) -> str:
        """The msal authority: ``<authority host>/<tenant>``."""
        return f"{self.authority_host}/{self.tenant_id}"


@dataclasses.dataclass(frozen=True)
class Settings:
    common: CommonSettings
    secrets_path: str
    max_body_bytes: int
    bc: BCSettings | None = None
    notification_url: str | None = None
    renew_margin_s: float = 24 * 3600.0
    payment_journal: str = "STRIPE"
    refund_journal: str = "STRIPEREF"
    general_journal: str = "STRIPE"
    clearing_account: str | None = None
    currency_clearing: Mapping[str, CurrencyClearing] = dataclasses.field(default_factory=dict)
    secret_ttl_s: float = 60.0
    # Where ``poll-invoices`` keeps its resumable position (``--cursor`` overrides); None: nowhere.
    poll_cursor: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = EnvReader(environ)
        settings = cls(
            common=CommonSettings.from_reader(env),
            secrets_path=env("BC_SECRETS_PATH", default=SECRETS_PATH),
            max_body_bytes=env("BC_MAX_BODY_BYTES", int, 1024 * 1024),
            bc=_bc_settings(env),
            notification_url=env.optional("BC_NOTIFICATION_URL", _notification_url),
            renew_margin_s=env("BC_RENEW_MARGIN_HOURS", _positive_float, 24.0) * 3600,
            payment_journal=env("BC_PAYMENT_JOURNAL", _journal_code, "STRIPE"),
            refund_journal=env("BC_REFUND_JOURNAL", _journal_code, "STRIPEREF"),
            general_journal=env("BC_GENERAL_JOURNAL", _journal_code, "PAYOUT"),
            clearing_account=env.optional("BC_CLEARING_ACCOUNT", _account_number),
            currency_clearing=env("CURRENCY_CLEARING", parse_currency_clearing, {}),
            secret_ttl_s=env("BC_SECRET_TTL", float, 60.0),
            poll_cursor=env.optional("BC_POLL_CURSOR", Path),
        )
        env.finish()
        return settings

    def require_bc(self) -> BCSettings:
        """The BC connection, or one ConfigError naming what to set."""
        if self.bc is None:
            raise ConfigError(
                [
                    "MLC_BC_TENANT_ID is required to talk to Business Central",
                    "MLC_BC_COMPANY_ID is required to talk to Business Central",
                ]
            )
        return self.bc

    def require_notification_url(self) -> str:
        """The public webhook URL BC calls, or a ConfigError."""
        if not self.notification_url:
            raise ConfigError(
                ["MLC_BC_NOTIFICATION_URL is required (the public URL of /webhooks/bc)"]
            )
        return self.notification_url


def _bc_settings(env: EnvReader) -> BCSettings | None:
    tenant = env.optional("BC_TENANT_ID", _tenant)
    company = env.optional("BC_COMPANY_ID", _guid)
    authority_host = env("BC_AUTHORITY_HOST", _https_base, DEFAULT_AUTHORITY_HOST)
    ca_bundle = env.optional("BC_CA_BUNDLE", Path)
    if ca_bundle is not None and not ca_bundle.is_file():
        env.problems.append(f"MLC_BC_CA_BUNDLE={str(ca_bundle)!r} is invalid: no such file")
    host = urllib.parse.urlsplit(authority_host).hostname or ""
    settings = BCSettings(
        tenant_id=tenant or "",
        environment=env("BC_ENVIRONMENT", default="production"),
        company_id=company or "",
        api_base=env("BC_API_BASE", _https_base, DEFAULT_API_BASE),
        authority_host=authority_host,
        ca_bundle=ca_bundle,
        trust_env=env("BC_TRUST_ENV", parse_bool, ca_bundle is None),
        # msal asks login.microsoftonline.com about any other host unless told not to.
        instance_discovery=env("BC_INSTANCE_DISCOVERY", parse_bool, host in _ENTRA_HOSTS),
        max_rps=env.optional("BC_MAX_RPS", _positive_float),
        budget=env.optional("BC_BUDGET", _budget),
        batch_counts_operations=env("BC_BATCH_COUNTS", _batch_counts, "operations") == "operations",
        timeout_s=env("BC_TIMEOUT", _positive_float, 30.0),
        max_attempts=env("BC_MAX_ATTEMPTS", _positive_int, 5),
        retry_budget_s=env("BC_RETRY_BUDGET", _positive_float, 30.0),
        page_size=env("BC_PAGE_SIZE", _page_size, 1000),
    )
    if tenant is None and company is None:
        return None
    if tenant is None or company is None:
        missing = "MLC_BC_TENANT_ID" if tenant is None else "MLC_BC_COMPANY_ID"
        env.problems.append(f"{missing} is required when the other BC id is set")
        return None
    return settings


def _page_size(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 20000:
        raise ValueError("expected 1-20000 (BC's page size limit)")
    return value
