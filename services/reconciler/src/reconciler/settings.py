"""Reconciler settings, from ``MLC_*`` environment variables (one error lists every problem)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from mlconnector.clearing import parse_currency_accounts
from mlconnector.clearing import parse_currency_clearing
from mlconnector.config import EnvReader
from mlconnector.config import bounded
from mlconnector.config import bounded_int
from mlconnector.config import parse_bool
from mlconnector.db import DEFAULT_SQLITE_URL
from mlconnector.runtime import CommonSettings
from reconciler.console.settings import ConsoleSettings
from reconciler.rules import Rules

SECRETS_PATH = "ml-connector/reconciler"
# ``identity_key``: the private key the reconciler signs its calls to the gateways with
# (``mlc-secrets identity rotate`` creates it and publishes its public half).
REQUIRED_SECRETS = ("replay_token", "identity_key")


def _http_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("expected an http(s):// URL")
    return raw.rstrip("/")


def _code(raw: str) -> str:
    """A BC Code value: upper-cased, at most 20 characters (journal batches: 10)."""
    value = raw.strip().upper()
    if not value or len(value) > 20:
        raise ValueError("expected 1 to 20 characters")
    return value


CREDIT_AFTER_PAYMENT = ("customer_balance", "out_of_band", "refund_after_approval")


def _delivery(raw: str) -> str:
    if raw not in ("firm", "stripe_email"):
        raise ValueError("must be firm or stripe_email")
    return raw


def _credit_after_payment(raw: str) -> str:
    if raw not in CREDIT_AFTER_PAYMENT:
        raise ValueError(f"must be one of {', '.join(CREDIT_AFTER_PAYMENT)}")
    return raw


def _currency(raw: str) -> str:
    from mlconnector.money import normalize_currency

    return normalize_currency(raw)


WEB_PARTS = ("api", "console")


def _web_serves(raw: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not parts or any(part not in WEB_PARTS for part in parts):
        raise ValueError("expected api, console or api,console")
    return parts


def _database_url(raw: str) -> str:
    if not raw.startswith(("sqlite:", "postgresql:", "postgresql+")):
        raise ValueError("expected a sqlite:/// or postgresql:// URL")
    return raw


@dataclasses.dataclass(frozen=True)
class Settings:
    common: CommonSettings
    database_url: str = dataclasses.field(repr=False)
    secrets_path: str
    prefetch: int
    workers: int
    max_retries: int
    heartbeat_file: Path | None
    max_body_bytes: int
    stripe_gateway_url: str
    bc_gateway_url: str
    gateway_timeout_s: float
    claim_lease_s: float
    batch_post_interval_s: float
    batch_post_lines: int
    rules: Rules
    console: ConsoleSettings
    # What ``reconciler serve`` serves: the JSON API, the console, or both (one machine).
    web_serves: tuple[str, ...] = WEB_PARTS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = EnvReader(environ)
        settings = cls(
            common=CommonSettings.from_reader(env),
            database_url=env("DATABASE_URL", _database_url, DEFAULT_SQLITE_URL),
            secrets_path=env("RECONCILER_SECRETS_PATH", default=SECRETS_PATH),
            # Twice the workers: enough to keep them busy (issue 11 explains why not more).
            prefetch=env("PREFETCH", int, 8),
            workers=env("CONSUMER_WORKERS", int, 4),
            max_retries=env("MAX_RETRIES", int, 8),
            heartbeat_file=env.optional("HEARTBEAT_FILE", Path),
            max_body_bytes=env("RECONCILER_MAX_BODY_BYTES", int, 64 * 1024),
            stripe_gateway_url=env("STRIPE_GATEWAY_URL", _http_url, "http://127.0.0.1:8082"),
            bc_gateway_url=env("BC_GATEWAY_URL", _http_url, "http://127.0.0.1:8081"),
            gateway_timeout_s=env("GATEWAY_TIMEOUT", float, 60.0),
            claim_lease_s=env("CLAIM_LEASE", float, 120.0),
            # One post books many lines (batch_poster explains the 4 s and the 50 lines).
            batch_post_interval_s=env("BATCH_POST_INTERVAL", bounded(float, 0.05, 60.0), 4.0),
            batch_post_lines=env("BATCH_POST_LINES", bounded_int(1, 10000), 50),
            rules=Rules(
                payment_journal=env("PAYMENT_JOURNAL", _code, Rules.payment_journal),
                refund_journal=env("REFUND_JOURNAL", _code, Rules.refund_journal),
                payout_journal=env("PAYOUT_JOURNAL", _code, Rules.payout_journal),
                auto_post_payments=env("AUTO_POST_PAYMENTS", parse_bool, True),
                auto_post_refunds=env("AUTO_POST_REFUNDS", parse_bool, False),
                fee_account=env("FEE_ACCOUNT", _code, Rules.fee_account),
                bank_account=env("BANK_ACCOUNT", _code, Rules.bank_account),
                clearing_account=env("CLEARING_ACCOUNT", _code, Rules.clearing_account),
                lcy_currency=env("LCY_CURRENCY", _currency, Rules.lcy_currency),
                refund_account=env("REFUND_ACCOUNT", _code, Rules.refund_account),
                dispute_account=env("DISPUTE_ACCOUNT", _code, Rules.dispute_account),
                dispute_fee_account=env("DISPUTE_FEE_ACCOUNT", _code, Rules.dispute_fee_account),
                fee_tax_account=env.optional("FEE_TAX_ACCOUNT", _code),
                fx_account=env("FX_ACCOUNT", _code, Rules.fx_account),
                currency_clearing=env("CURRENCY_CLEARING", parse_currency_clearing, {}),
                payout_banks=env("PAYOUT_BANKS", parse_currency_accounts, {}),
                invoice_delivery=env("INVOICE_DELIVERY", _delivery, Rules.invoice_delivery),
                credit_after_payment=env(
                    "CREDIT_AFTER_PAYMENT", _credit_after_payment, Rules.credit_after_payment
                ),
            ),
            console=ConsoleSettings.from_reader(env),
            web_serves=env("WEB_SERVES", _web_serves, WEB_PARTS),
        )
        if settings.claim_lease_s <= settings.gateway_timeout_s:
            # A lease that ran out during a live call would let a second attempt write to BC.
            env.problems.append(
                f"MLC_CLAIM_LEASE ({settings.claim_lease_s:g} s) must be longer than "
                f"MLC_GATEWAY_TIMEOUT ({settings.gateway_timeout_s:g} s)"
            )
        env.finish()
        return settings
