"""Which handler runs for which message type: one registry, checked when it is imported.

Every handler takes the message's ``Unit``. A type that is registered but malformed, or a
handler registered under a routing key the gateways never publish, fails at import, so a typo
cannot silently drop a class of messages. Message types without a handler (for instance BC
notifications for entities the connector does not sync) are acknowledged with an audit step.
"""

from __future__ import annotations

from collections.abc import Callable

from mlconnector.contracts import BC_CUSTOMER_OBSERVED
from mlconnector.contracts import BC_INVOICE_OBSERVED
from mlconnector.contracts import BC_NOTIFICATION_PREFIX
from mlconnector.contracts import STRIPE_EVENT_PREFIX
from reconciler.handlers import credit_memos
from reconciler.handlers import customers
from reconciler.handlers import disputes
from reconciler.handlers import invoices
from reconciler.handlers import payments
from reconciler.handlers import payouts
from reconciler.handlers import refunds
from reconciler.handlers import stripe_changes
from reconciler.models import AuditOutcome
from reconciler.unit import Unit

Handler = Callable[[Unit], None]

DISPUTE_TYPES = (
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
    "charge.dispute.closed",
)
# The Stripe event types the stripe-gateway publishes (its HANDLED_EVENTS).
STRIPE_TYPES = (
    "invoice.paid",
    "charge.succeeded",
    "charge.refunded",
    *DISPUTE_TYPES,
    "payout.paid",
    "payout.reconciliation_completed",
    "payout.failed",
    "invoice.voided",
    "invoice.marked_uncollectible",
    "customer.updated",
)
BC_CHANGE_TYPES = ("created", "updated", "deleted", "collection")


def ignore(unit: Unit) -> None:
    """Acknowledge a message the connector has nothing to do for, leaving a trace of it."""
    unit.step(
        None,
        "ignored",
        f"no handler for {unit.envelope.type}; acknowledged without action",
        outcome=AuditOutcome.SKIPPED,
    )


HANDLERS: dict[str, Handler] = {
    BC_INVOICE_OBSERVED: invoices.on_invoice_observed,
    BC_NOTIFICATION_PREFIX + "salesInvoices.created": invoices.on_invoice_notification,
    BC_NOTIFICATION_PREFIX + "salesInvoices.updated": invoices.on_invoice_notification,
    BC_NOTIFICATION_PREFIX + "salesCreditMemos.created": credit_memos.on_credit_memo_notification,
    BC_NOTIFICATION_PREFIX + "salesCreditMemos.updated": credit_memos.on_credit_memo_notification,
    BC_CUSTOMER_OBSERVED: customers.on_customer_observed,
    BC_NOTIFICATION_PREFIX + "customers.updated": customers.on_customer_notification,
    STRIPE_EVENT_PREFIX + "invoice.paid": payments.on_invoice_paid,
    STRIPE_EVENT_PREFIX + "charge.succeeded": payments.on_charge_succeeded,
    STRIPE_EVENT_PREFIX + "charge.refunded": refunds.on_charge_refunded,
    STRIPE_EVENT_PREFIX + "payout.paid": payouts.on_payout,
    STRIPE_EVENT_PREFIX + "payout.reconciliation_completed": payouts.on_payout,
    STRIPE_EVENT_PREFIX + "payout.failed": payouts.on_payout_failed,
    STRIPE_EVENT_PREFIX + "invoice.voided": stripe_changes.on_stripe_invoice_changed,
    STRIPE_EVENT_PREFIX + "customer.updated": stripe_changes.on_stripe_customer_updated,
    STRIPE_EVENT_PREFIX + "invoice.marked_uncollectible": stripe_changes.on_stripe_invoice_changed,
    **{STRIPE_EVENT_PREFIX + t: disputes.on_dispute for t in DISPUTE_TYPES},
}


def _known(message_type: str) -> bool:
    if message_type in (BC_INVOICE_OBSERVED, BC_CUSTOMER_OBSERVED):
        return True
    if message_type.startswith(STRIPE_EVENT_PREFIX):
        return message_type.removeprefix(STRIPE_EVENT_PREFIX) in STRIPE_TYPES
    if message_type.startswith(BC_NOTIFICATION_PREFIX):
        entity, _, change = message_type.removeprefix(BC_NOTIFICATION_PREFIX).partition(".")
        return (
            entity in ("salesInvoices", "salesCreditMemos", "customers")
            and change in BC_CHANGE_TYPES
        )
    return False


_unknown = [t for t in HANDLERS if not _known(t)]
if _unknown:
    raise RuntimeError(f"handlers registered for message types nobody publishes: {_unknown}")


def handler_for(message_type: str) -> Handler:
    return HANDLERS.get(message_type, ignore)
