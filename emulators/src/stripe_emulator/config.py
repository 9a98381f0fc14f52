"""Emulator settings: every knob a test, the demo or a benchmark can turn.

One mutable dataclass lives on the app state; `create_app(config)` and the control surface
(`POST /_emulator/config`) both go through `EmulatorConfig.update`, so a knob has one name
everywhere (CLI flag, `create_app` mapping key, admin JSON field). Defaults follow
stripe-api.md: sandbox rate limits 25 requests/s and search 20 requests/s, 24 h idempotency
keys, 30-day event retention, API version `2026-10-28.endive`.

Money knobs beyond the processing fee: `fee_tax_percent` (tax Stripe adds on its own fees),
`settlement_currencies` + `exchange_rates` (conversion into the account's default currency),
and the dispute fees (`dispute_fees`, `dispute_countered_fees`, `dispute_fee_refunded_on_win`;
their Stripe sources are in `dispute_money.py`).

The account behind the keys: `account_id`, `default_currency` and `account` (a partial Account
over `account_profile.DEFAULT_ACCOUNT`, validated there) make up `GET /v1/account`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

from .account_profile import check_overrides as _parse_account

API_VERSION = "2026-10-28.endive"


@dataclass
class FeeRule:
    """Processing fee for one currency: `percent` of the amount plus `fixed` minor units."""

    percent: Decimal
    fixed: int

    def to_dict(self) -> dict[str, Any]:
        return {"percent": str(self.percent), "fixed": self.fixed}


def _default_fees() -> dict[str, FeeRule]:
    # Stripe's US card pricing (2.9 % + 30 cents) for every currency unless overridden.
    return {"default": FeeRule(Decimal("2.9"), 30)}


def _default_dispute_fees() -> dict[str, int]:
    # US pricing: 15.00 USD per dispute received and 15.00 USD per dispute countered
    # (support.stripe.com/questions/june-2025-pricing-updates-for-disputes, "fee details by
    # country"; support.stripe.com/embedded-connect/questions/dispute-fees-faq: "$15.00 fee (or
    # local equivalent)"). Other currencies fall back to "default", read in that currency's
    # minor units: set a per-currency entry for a local equivalent (e.g. {"eur": 2000}).
    return {"default": 1500, "usd": 1500}


@dataclass
class EmulatorConfig:
    """All emulator settings; see the package README for the meaning of each field."""

    account_id: str = "acct_emulator"
    # Partial Account deep-merged over `account_profile.DEFAULT_ACCOUNT` by `GET /v1/account`.
    account: dict[str, Any] = field(default_factory=dict)
    api_version: str = API_VERSION
    default_currency: str = "usd"
    # Empty: any `sk_test_...` key is accepted. Otherwise only these keys.
    api_keys: list[str] = field(default_factory=list)
    revoked_keys: list[str] = field(default_factory=list)
    # restricted key -> permitted resource families ("customers", "invoices:read", ...)
    restricted_keys: dict[str, list[str]] = field(default_factory=dict)
    # Requests per second; 0 disables the limiter.
    rate_limit: float = 25.0
    search_rate_limit: float = 20.0
    # Seconds (emulator clock) before a created/updated object shows up in search results.
    search_index_delay: float = 1.0
    idempotency_ttl: int = 24 * 3600
    event_retention_days: int = 30
    fees: dict[str, FeeRule] = field(default_factory=_default_fees)
    fee_rounding: str = "ROUND_HALF_UP"
    # Days after a charge before its funds are available for a payout.
    available_after_days: int = 0
    # Tax Stripe charges on its own fees, in percent as a decimal string ("0" = none); the
    # tax is a separate `fee_details` entry of type `tax` with this description.
    fee_tax_percent: str = "0"
    fee_tax_description: str = "VAT"
    # Presentment currencies that settle as charged; empty = every currency does. Any other
    # currency settles in `default_currency` at `exchange_rates[currency]` (decimal string:
    # 1 unit of the currency = rate units of the default currency).
    settlement_currencies: list[str] = field(default_factory=list)
    exchange_rates: dict[str, str] = field(default_factory=dict)
    # Dispute fees in minor units of the settlement currency ("default" for the others).
    dispute_fees: dict[str, int] = field(default_factory=_default_dispute_fees)
    # Fee for countering (submitting evidence); returned when the dispute is won. `{}` for
    # accounts without it (Stripe: businesses in Mexico and Japan).
    dispute_countered_fees: dict[str, int] = field(default_factory=_default_dispute_fees)
    # The pre-June-2025 rule: the dispute fee itself also comes back on a win.
    dispute_fee_refunded_on_win: bool = False
    # Days a dispute gives for a response (`evidence_details.due_by`).
    dispute_response_days: int = 21
    # Added latency for every API request, in milliseconds.
    latency_ms: int = 0
    # Webhook delivery: delays between attempts in emulated seconds, scaled to real time by
    # `time_scale` (real seconds per emulated second).
    retry_delays: list[float] = field(default_factory=lambda: [600.0, 3600.0, 10800.0])
    time_scale: float = 1.0
    delivery_timeout: float = 10.0
    duplicate_rate: float = 0.0
    drop_rate: float = 0.0
    shuffle: bool = False
    shuffle_window: float = 0.05
    paused: bool = False
    seed: int | None = None

    def update(self, values: Mapping[str, Any]) -> None:
        """Set the named fields from JSON-like values; unknown names raise ValueError."""
        known = {f.name: f for f in dataclasses.fields(self)}
        for name, raw in values.items():
            if name not in known:
                raise ValueError(f"unknown emulator setting: {name}")
            setattr(self, name, _coerce(name, raw, getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        """JSON view of the settings (fees rendered as strings)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "fees":
                value = {cur: rule.to_dict() for cur, rule in value.items()}
            out[f.name] = value
        return out

    def copy(self) -> EmulatorConfig:
        clone = dataclasses.replace(self)
        clone.update(self.to_dict())
        return clone


def _coerce(name: str, raw: Any, current: Any) -> Any:
    special = _PARSERS.get(name)
    if special is not None:
        return special(raw)
    if name == "seed":
        return None if raw is None else int(raw)
    if isinstance(current, bool):
        if not isinstance(raw, bool):
            raise ValueError(f"{name} must be a boolean")
        return raw
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, float):
        return float(raw)
    if isinstance(current, str):
        return str(raw)
    if isinstance(current, list):
        if not isinstance(raw, list | tuple):
            raise ValueError(f"{name} must be a list")
        return [float(x) for x in raw] if name == "retry_delays" else [str(x) for x in raw]
    if isinstance(current, dict):
        if not isinstance(raw, Mapping):
            raise ValueError(f"{name} must be an object")
        return {str(k): [str(p) for p in v] for k, v in raw.items()}
    raise ValueError(f"cannot set {name}")


def _parse_fees(raw: Any) -> dict[str, FeeRule]:
    if not isinstance(raw, Mapping):
        raise ValueError("fees must be an object of currency -> {percent, fixed}")
    fees: dict[str, FeeRule] = {}
    for currency, rule in raw.items():
        if isinstance(rule, FeeRule):
            fees[str(currency).lower()] = rule
            continue
        try:
            percent = Decimal(str(rule.get("percent", "0")))
            fixed = int(rule.get("fixed", 0))
        except (InvalidOperation, ValueError, AttributeError) as exc:
            raise ValueError(f"invalid fee rule for {currency}") from exc
        fees[str(currency).lower()] = FeeRule(percent, fixed)
    if "default" not in fees:
        fees["default"] = FeeRule(Decimal("0"), 0)
    return fees


def _parse_minor_units(raw: Any) -> dict[str, int]:
    """`{"default": 1500, "eur": 2000}`: non-negative integer amounts per currency."""
    if not isinstance(raw, Mapping):
        raise ValueError("expected an object of currency -> amount in minor units")
    out: dict[str, int] = {}
    for currency, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"amount for {currency} must be a non-negative integer")
        out[str(currency).lower()] = value
    return out


def _parse_rates(raw: Any) -> dict[str, str]:
    """`{"eur": "1.0842"}`: positive decimal strings (floats are refused: not exact)."""
    if not isinstance(raw, Mapping):
        raise ValueError("exchange_rates must be an object of currency -> decimal string")
    out: dict[str, str] = {}
    for currency, value in raw.items():
        rate = _decimal(value, f"exchange rate for {currency}")
        if rate <= 0:
            raise ValueError(f"exchange rate for {currency} must be positive")
        out[str(currency).lower()] = str(rate)
    return out


def _parse_percent(raw: Any) -> str:
    percent = _decimal(raw, "fee_tax_percent")
    if percent < 0:
        raise ValueError("fee_tax_percent must not be negative")
    return str(percent)


def _decimal(raw: Any, what: str) -> Decimal:
    """An exact decimal from a string or integer (a float would carry binary noise)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValueError(f"{what} must be a decimal string")
    try:
        value = Decimal(str(raw))
    except InvalidOperation as exc:
        raise ValueError(f"{what} must be a decimal number") from exc
    if not value.is_finite():
        raise ValueError(f"{what} must be finite")
    return value


def _parse_currencies(raw: Any) -> list[str]:
    if not isinstance(raw, list | tuple):
        raise ValueError("settlement_currencies must be a list of currency codes")
    return [str(code).lower() for code in raw]


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "account": _parse_account,
    "fees": _parse_fees,
    "dispute_fees": _parse_minor_units,
    "dispute_countered_fees": _parse_minor_units,
    "exchange_rates": _parse_rates,
    "fee_tax_percent": _parse_percent,
    "settlement_currencies": _parse_currencies,
}
