"""Stripe-style object identifiers (`cus_...`, `in_...`, `req_...`) and the kind behind a prefix.

Ids are random, not sequential, like Stripe's: callers must not infer ordering from them.
`KIND_BY_PREFIX` lets expansion and the control surface find an object from its id alone.
"""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits

PREFIX_BY_KIND: dict[str, str] = {
    "customer": "cus",
    "invoice": "in",
    "invoiceitem": "ii",
    "line_item": "il",
    "invoice_payment": "inpay",
    "payment_intent": "pi",
    "charge": "ch",
    "refund": "re",
    "dispute": "du",
    "balance_transaction": "txn",
    "payout": "po",
    "event": "evt",
    "webhook_endpoint": "we",
    "tax_rate": "txr",
    "payment_method": "pm",
    "price": "price",
    "product": "prod",
    "credit_note": "cn",
    "credit_note_line_item": "cnli",
    "customer_balance_transaction": "cbtxn",
    "payment_record": "pr",
    "payment_attempt_record": "par",
}

KIND_BY_PREFIX: dict[str, str] = {prefix: kind for kind, prefix in PREFIX_BY_KIND.items()}


def random_token(length: int) -> str:
    """Random alphanumeric string."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(kind: str) -> str:
    """A fresh id for an object kind, e.g. `new_id("customer") -> "cus_Ab12..."`."""
    return f"{PREFIX_BY_KIND[kind]}_{random_token(24)}"


def new_request_id() -> str:
    return f"req_{random_token(14)}"


def kind_of(object_id: str) -> str | None:
    """The object kind an id belongs to, or None when the prefix is unknown."""
    prefix, sep, _ = object_id.partition("_")
    if not sep:
        return None
    return KIND_BY_PREFIX.get(prefix)


def mask_key(key: str) -> str:
    """Stripe's way of echoing a key in errors: keep the prefix and the last four characters."""
    prefix_end = key.find("_", key.find("_") + 1) + 1 if key.count("_") >= 2 else 0
    prefix = key[:prefix_end]
    tail = key[-4:] if len(key) - prefix_end > 4 else ""
    return f"{prefix}{'*' * max(len(key) - len(prefix) - len(tail), 4)}{tail}"
