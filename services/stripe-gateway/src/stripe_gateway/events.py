"""The Stripe event types the gateway publishes, declared once and checked at import.

``HANDLED_EVENTS`` is the single list the webhook view, the poll command and
``register-webhook`` use (style.md §3.6). ``KNOWN_EVENTS`` is read from the stripe SDK's own
``Event.type`` literal at the pinned API version, so a typo here (``invoice.payed``) or a type
that does not exist at this version fails at import instead of silently never matching.
"""

from __future__ import annotations

import typing

from stripe import Event

#: Every event type stripe-python knows at the pinned API version (its ``Event.type`` literal).
KNOWN_EVENTS: frozenset[str] = frozenset(typing.get_args(Event.__annotations__["type"]))

#: What the reconciler acts on (ARCHITECTURE §1); everything else is acknowledged and dropped.
HANDLED_EVENTS: tuple[str, ...] = (
    "invoice.paid",
    "charge.succeeded",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
    "charge.dispute.closed",
    "payout.paid",
    "payout.reconciliation_completed",
    "payout.failed",
    "invoice.voided",
    "invoice.marked_uncollectible",
    "customer.updated",
)

#: Routing-key prefix of every Stripe event on the bus (``stripe.event.invoice.paid``).
ROUTING_PREFIX = "stripe.event."


def check_event_types(handled: typing.Iterable[str], known: frozenset[str]) -> None:
    """Raise ``ValueError`` naming every handled type that is not a known Stripe event type."""
    unknown = sorted(set(handled) - known)
    if unknown:
        raise ValueError(f"unknown Stripe event types in HANDLED_EVENTS: {', '.join(unknown)}")
    if not known:
        raise ValueError("the stripe SDK exposes no event types; cannot check HANDLED_EVENTS")


def is_handled(event_type: str) -> bool:
    """True when the gateway publishes events of this type."""
    return event_type in _HANDLED


def routing_key(event_type: str) -> str:
    """The bus message type (and routing key) for a Stripe event type."""
    return ROUTING_PREFIX + event_type


check_event_types(HANDLED_EVENTS, KNOWN_EVENTS)
_HANDLED = frozenset(HANDLED_EVENTS)
