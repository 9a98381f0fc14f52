"""The emulated account's details: a Standard account, fully onboarded, controlling itself.

`DEFAULT_ACCOUNT` holds the Account fields typed on `stripe.Account` (stripe-python 16.1.0
`_account.py`, API version 2026-10-28.endive) that describe an account retrieving itself with
its own key: `business_profile` (name, url, support e-mail), `business_type`, `capabilities`,
`charges_enabled` / `payouts_enabled` / `details_submitted`, `controller.type: account`,
`country`, `created`, `email`, empty `requirements`, and `settings` (`dashboard.display_name`,
`payments.statement_descriptor`, `payouts.schedule`, ...). `id` and `default_currency` are not
in it: they are the emulator's `account_id` and `default_currency` settings, which the rest of
the emulator already uses (error messages, invoice currencies), so they can never disagree.

The `account` setting is a partial Account deep-merged over these defaults, e.g.
`{"business_profile": {"name": "Fabrikam"}, "settings": {"payouts": {"schedule":
{"interval": "weekly", "weekly_anchor": "friday"}}}}`. Each setting replaces the previous
`account` overrides (like `fees`). `check_overrides` refuses unknown fields and values whose
JSON type differs from the default's, so a typo fails at configuration time instead of
silently never showing; any field may be set to null, and `metadata` takes any strings.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

# 2024-01-01T00:00:00Z: a fixed, plausible "connected at" so responses are reproducible.
CREATED = 1704067200

_NO_REQUIREMENTS: dict[str, Any] = {
    "alternatives": [],
    "current_deadline": None,
    "currently_due": [],
    "disabled_reason": None,
    "errors": [],
    "eventually_due": [],
    "past_due": [],
    "pending_verification": [],
}

DEFAULT_ACCOUNT: dict[str, Any] = {
    "business_profile": {
        "annual_revenue": None,
        "estimated_worker_count": None,
        "mcc": "5734",  # computer software stores
        "minority_owned_business_designation": None,
        "name": "Emulated Business",
        "product_description": None,
        "support_address": None,
        "support_email": "support@business.example",
        "support_phone": None,
        "support_url": None,
        "url": "https://business.example",
    },
    "business_type": "company",
    "capabilities": {"card_payments": "active", "transfers": "active"},
    "charges_enabled": True,
    "controller": {"type": "account"},
    "country": "US",
    "created": CREATED,
    "details_submitted": True,
    "email": "owner@business.example",
    "future_requirements": dict(_NO_REQUIREMENTS),
    "metadata": {},
    "payouts_enabled": True,
    "requirements": dict(_NO_REQUIREMENTS),
    "settings": {
        "branding": {
            "icon": None,
            "logo": None,
            "primary_color": None,
            "secondary_color": None,
        },
        "card_payments": {
            "decline_on": {"avs_failure": False, "cvc_failure": False},
            "statement_descriptor_prefix": None,
            "statement_descriptor_prefix_kana": None,
            "statement_descriptor_prefix_kanji": None,
        },
        "dashboard": {"display_name": "Emulated Business", "timezone": "Etc/UTC"},
        "invoices": {"default_account_tax_ids": None},
        "payments": {
            "statement_descriptor": "EMULATED BUSINESS",
            "statement_descriptor_kana": None,
            "statement_descriptor_kanji": None,
        },
        # Stripe's US default: daily automatic payouts, funds held two business days.
        "payouts": {
            "debit_negative_balances": True,
            "schedule": {"delay_days": 2, "interval": "daily"},
            "statement_descriptor": None,
        },
    },
    "tos_acceptance": {"date": CREATED, "ip": None, "user_agent": None},
    "type": "standard",
}

# Free-form maps: any string keys and values (Stripe's metadata).
_FREE_FORM = frozenset({"metadata"})
# Typed fields absent from the defaults because Stripe shows them only in some cases (the
# schedule's anchors: "Only shown if `interval` is weekly/monthly"), settable all the same.
_OPTIONAL_FIELDS: dict[str, frozenset[str]] = {
    "account.settings.payouts.schedule": frozenset(
        {"monthly_anchor", "monthly_payout_days", "weekly_anchor", "weekly_payout_days"}
    ),
}


def check_overrides(raw: Any) -> dict[str, Any]:
    """The `account` setting, validated against `DEFAULT_ACCOUNT`; raises ValueError."""
    if not isinstance(raw, Mapping):
        raise ValueError("account must be an object of Account fields")
    return _check(raw, DEFAULT_ACCOUNT, "account")


def _check(raw: Mapping[Any, Any], defaults: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"{where}.{key}"
        if key not in defaults and key not in _OPTIONAL_FIELDS.get(where, ()):
            raise ValueError(f"{name} is not an Account field the emulator models")
        default = defaults.get(key)
        if value is None:
            out[key] = None
        elif key in _FREE_FORM:
            if not isinstance(value, Mapping):
                raise ValueError(f"{name} must be an object of strings")
            out[key] = {str(k): str(v) for k, v in value.items()}
        elif isinstance(default, dict):
            if not isinstance(value, Mapping):
                raise ValueError(f"{name} must be an object")
            out[key] = _check(value, default, name)
        elif default is None or type(value) is type(default):
            # Exact JSON types: `"charges_enabled": 1` is not a boolean, `"delay_days": "2"`
            # not an integer.
            out[key] = copy.deepcopy(value)
        else:
            raise ValueError(f"{name} must be a {type(default).__name__}")
    return out


def account_object(
    account_id: str, default_currency: str, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """The Account as `GET /v1/account` renders it: `id`, `object`, then fields by name."""
    fields = _merged(DEFAULT_ACCOUNT, overrides)
    fields["default_currency"] = default_currency
    return {"id": account_id, "object": "account", **dict(sorted(fields.items()))}


def _merged(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(defaults))
    for key, value in overrides.items():
        base = out.get(key)
        if isinstance(base, dict) and isinstance(value, Mapping) and key not in _FREE_FORM:
            out[key] = _merged(base, value)
        else:
            out[key] = copy.deepcopy(value)
    return out
