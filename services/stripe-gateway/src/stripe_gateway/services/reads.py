"""Authoritative reads for the reconciler: invoices with payments, charges, payouts.

Webhook payloads are hints (unordered, at-least-once, rendered at the endpoint's API version),
so the reconciler re-fetches through these. At API version ``2026-10-28.endive`` an invoice
has no ``charge`` and a charge no ``invoice`` (removed in basil, stripe-api.md §5): an invoice's
payments are its ``InvoicePayment`` list (each pointing at a PaymentIntent, whose
``latest_charge`` is the charge), and a charge finds its invoice the other way round, through
``InvoicePayment.list(payment={type: payment_intent, payment_intent: pi})``.

Each function returns a plain dict in the shape of the matching response schema; lists are read
to the end (all pages), however long.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import stripe

from stripe_gateway.adapters.stripe_client import StripeClient
from stripe_gateway.adapters.stripe_client import metadata_of


def object_id(value: object) -> str | None:
    """The id of an expandable field, whether it came back as an id or as an object."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    found = getattr(value, "id", None)
    return found if isinstance(found, str) else None


def _get(obj: object, name: str) -> Any:
    # Fields absent from a response (or from an older rendering) read as None.
    return getattr(obj, name, None)


def invoice_fields(invoice: stripe.Invoice) -> dict[str, Any]:
    transitions = _get(invoice, "status_transitions")
    return {
        "id": invoice.id,
        "number": _get(invoice, "number"),
        "status": _get(invoice, "status"),
        "currency": _get(invoice, "currency"),
        "customer": object_id(_get(invoice, "customer")),
        # The customer's e-mail and name as the invoice snapshots them at finalization (the
        # SDK's typed ``Invoice.customer_email``/``customer_name``): who paid, for the console.
        "customer_email": _get(invoice, "customer_email"),
        "customer_name": _get(invoice, "customer_name"),
        "total": _get(invoice, "total"),
        "subtotal": _get(invoice, "subtotal"),
        "amount_due": _get(invoice, "amount_due"),
        "amount_paid": _get(invoice, "amount_paid"),
        "amount_remaining": _get(invoice, "amount_remaining"),
        "created": _get(invoice, "created"),
        "due_date": _get(invoice, "due_date"),
        "hosted_invoice_url": _get(invoice, "hosted_invoice_url"),
        "finalized_at": _get(transitions, "finalized_at"),
        "paid_at": _get(transitions, "paid_at"),
        "voided_at": _get(transitions, "voided_at"),
        "metadata": metadata_of(invoice),
    }


def _payment(payment: stripe.InvoicePayment) -> dict[str, Any]:
    detail = _get(payment, "payment")
    intent = _get(detail, "payment_intent")
    charge = object_id(_get(detail, "charge")) or object_id(_get(intent, "latest_charge"))
    return {
        "id": payment.id,
        "status": _get(payment, "status"),
        "amount_paid": _get(payment, "amount_paid"),
        "amount_requested": _get(payment, "amount_requested"),
        "currency": _get(payment, "currency"),
        "is_default": _get(payment, "is_default"),
        "paid_at": _get(_get(payment, "status_transitions"), "paid_at"),
        "payment_type": _get(detail, "type"),
        "payment_intent": object_id(intent),
        "charge": charge,
    }


def read_invoice(client: StripeClient, invoice_id: str) -> dict[str, Any]:
    """An invoice with all its payments (and each payment's PaymentIntent and charge ids)."""
    invoice = client.retrieve_invoice(invoice_id, expand=["payments.data.payment.payment_intent"])
    embedded = _get(invoice, "payments")
    payments = list(embedded.data) if embedded is not None else []
    if embedded is None or embedded.has_more:
        payments = list(
            client.list_invoice_payments(
                {"invoice": invoice_id, "expand": ["data.payment.payment_intent"]}
            )
        )
    return {**invoice_fields(invoice), "payments": [_payment(p) for p in payments]}


def balance_transaction_fields(txn: stripe.BalanceTransaction) -> dict[str, Any]:
    return {
        "id": txn.id,
        "type": _get(txn, "type"),
        "reporting_category": _get(txn, "reporting_category"),
        "amount": _get(txn, "amount"),
        "fee": _get(txn, "fee"),
        "net": _get(txn, "net"),
        "currency": _get(txn, "currency"),
        "status": _get(txn, "status"),
        "available_on": _get(txn, "available_on"),
        "created": _get(txn, "created"),
        "source": object_id(_get(txn, "source")),
        "exchange_rate": _decimal(_get(txn, "exchange_rate")),
        "fee_details": [
            {
                "amount": _get(d, "amount"),
                "currency": _get(d, "currency"),
                "type": _get(d, "type"),
                "description": _get(d, "description"),
            }
            for d in (_get(txn, "fee_details") or [])
        ],
    }


def _decimal(value: object) -> Decimal | None:
    """Stripe sends ``exchange_rate`` as a JSON number: read its digits, never a float's."""
    return None if value is None else Decimal(str(value))


def _refund(refund: stripe.Refund) -> dict[str, Any]:
    txn = _get(refund, "balance_transaction")
    return {
        "id": refund.id,
        "amount": _get(refund, "amount"),
        "currency": _get(refund, "currency"),
        "status": _get(refund, "status"),
        "reason": _get(refund, "reason"),
        "created": _get(refund, "created"),
        "balance_transaction": object_id(txn),
        "settlement": (
            balance_transaction_fields(txn) if isinstance(txn, stripe.BalanceTransaction) else None
        ),
        "metadata": metadata_of(refund),
    }


def _intent_payment(client: StripeClient, intent: str) -> stripe.InvoicePayment | None:
    """The invoice payment made through a PaymentIntent, its invoice and intent expanded."""
    query = {"payment": {"type": "payment_intent", "payment_intent": intent}}
    found = list(
        client.list_invoice_payments(
            {**query, "expand": ["data.invoice", "data.payment.payment_intent"]}
        )
    )
    return found[0] if found else None


def _billing(details: Any) -> dict[str, str | None]:
    """The payer's e-mail and name from a charge's ``billing_details`` (no address or phone)."""
    return {"email": _get(details, "email"), "name": _get(details, "name")} if details else {}


def read_charge(client: StripeClient, charge_id: str) -> dict[str, Any]:
    """A charge with its refunds, balance transaction, PaymentIntent and invoice."""
    charge = client.retrieve_charge(
        charge_id, expand=["refunds.data.balance_transaction", "balance_transaction"]
    )
    embedded = _get(charge, "refunds")
    refunds = list(embedded.data) if embedded is not None else []
    if embedded is None or embedded.has_more:
        refunds = list(
            client.list_refunds({"charge": charge_id, "expand": ["data.balance_transaction"]})
        )
    intent = object_id(_get(charge, "payment_intent"))
    invoice: dict[str, Any] | None = None
    invoice_payment: dict[str, Any] | None = None
    found = _intent_payment(client, intent) if intent else None
    if found is not None:
        invoice_payment = _payment(found)
        linked = _get(found, "invoice")
        if isinstance(linked, stripe.Invoice):
            invoice = invoice_fields(linked)
        elif isinstance(linked, str):
            invoice = invoice_fields(client.retrieve_invoice(linked))
    txn = _get(charge, "balance_transaction")
    return {
        "id": charge.id,
        "amount": _get(charge, "amount"),
        "amount_captured": _get(charge, "amount_captured"),
        "amount_refunded": _get(charge, "amount_refunded"),
        "refunded": _get(charge, "refunded"),
        "paid": _get(charge, "paid"),
        "status": _get(charge, "status"),
        "currency": _get(charge, "currency"),
        "customer": object_id(_get(charge, "customer")),
        "payment_intent": intent,
        "created": _get(charge, "created"),
        "metadata": metadata_of(charge),
        # Who paid and what they wrote: the console ranks BC's open invoices for an unmatched
        # payment by these (the customer's e-mail and name, an invoice number in the text).
        "description": _get(charge, "description"),
        "statement_descriptor": _get(charge, "statement_descriptor"),
        "receipt_email": _get(charge, "receipt_email"),
        "billing_details": _billing(_get(charge, "billing_details")),
        "balance_transaction": (
            balance_transaction_fields(txn) if isinstance(txn, stripe.BalanceTransaction) else None
        ),
        "refunds": [_refund(r) for r in refunds],
        "invoice": invoice,
        "invoice_payment": invoice_payment,
    }


def read_charge_invoice_payment(
    client: StripeClient, charge_id: str, payment_intent: str
) -> dict[str, Any]:
    """The invoice a charge paid, in one call (``charge.succeeded`` for an invoice payment).

    ``read_charge`` costs two calls (the charge, then its invoice payment). Where the caller
    already knows the charge's PaymentIntent (a charge's is fixed for its life, and every
    charge event carries it), one ``InvoicePayment`` list with the invoice and the intent
    expanded says everything a payment posting needs: the invoice (its metadata names the BC
    invoice), the amount paid and that it is paid. Expanding ``data.invoice`` and
    ``data.payment.payment_intent`` on this list is allowed at the pinned version (stripe 16.1.0,
    ``stripe/params/_invoice_payment_list_params.py``: ``InvoicePaymentListParams`` has
    ``expand`` and ``payment``; stripe-api.md §5). Nothing comes back
    when no invoice payment has this intent, or when the intent's latest charge is another
    one: the caller then reads the charge itself.
    """
    found = _intent_payment(client, payment_intent)
    invoice: dict[str, Any] | None = None
    invoice_payment: dict[str, Any] | None = None
    if found is not None:
        payment = _payment(found)
        linked = _get(found, "invoice")
        if payment["charge"] == charge_id and isinstance(linked, stripe.Invoice):
            invoice_payment, invoice = payment, invoice_fields(linked)
    return {
        "charge": charge_id,
        "payment_intent": payment_intent,
        "invoice": invoice,
        "invoice_payment": invoice_payment,
    }


def read_payout(client: StripeClient, payout_id: str) -> dict[str, Any]:
    return _payout(client.retrieve_payout(payout_id))


def _payout(payout: stripe.Payout) -> dict[str, Any]:
    return {
        "id": payout.id,
        "amount": _get(payout, "amount"),
        "currency": _get(payout, "currency"),
        "status": _get(payout, "status"),
        "arrival_date": _get(payout, "arrival_date"),
        "automatic": _get(payout, "automatic"),
        "method": _get(payout, "method"),
        "reconciliation_status": _get(payout, "reconciliation_status"),
        "failure_code": _get(payout, "failure_code"),
        "failure_message": _get(payout, "failure_message"),
        "balance_transaction": object_id(_get(payout, "balance_transaction")),
        "created": _get(payout, "created"),
        "metadata": metadata_of(payout),
    }


def read_payout_transactions(client: StripeClient, payout_id: str) -> dict[str, Any]:
    """Every balance transaction of an automatic payout, across all pages."""
    txns = [
        balance_transaction_fields(t)
        for t in client.list_balance_transactions({"payout": payout_id})
    ]
    return {"payout": payout_id, "count": len(txns), "data": txns}


def read_dispute(client: StripeClient, dispute_id: str) -> dict[str, Any]:
    """A dispute, its reason and evidence deadline, and every balance transaction it moved."""
    dispute = client.retrieve_dispute(dispute_id)
    details = _get(dispute, "evidence_details")
    return {
        "id": dispute.id,
        "amount": _get(dispute, "amount"),
        "currency": _get(dispute, "currency"),
        "status": _get(dispute, "status"),
        "reason": _get(dispute, "reason"),
        "charge": object_id(_get(dispute, "charge")),
        "payment_intent": object_id(_get(dispute, "payment_intent")),
        "created": _get(dispute, "created"),
        "evidence_due_by": _get(details, "due_by") if details is not None else None,
        "is_charge_refundable": _get(dispute, "is_charge_refundable"),
        "balance_transactions": [
            balance_transaction_fields(t) for t in (_get(dispute, "balance_transactions") or [])
        ],
        "metadata": metadata_of(dispute),
    }


def read_balance(client: StripeClient) -> dict[str, Any]:
    """Available and pending minor units per currency (Stripe lists one entry per currency)."""
    balance = client.retrieve_balance()
    out: dict[str, Any] = {"available": {}, "pending": {}}
    for part in ("available", "pending"):
        for entry in _get(balance, part) or []:
            currency = str(_get(entry, "currency")).lower()
            out[part][currency] = out[part].get(currency, 0) + int(_get(entry, "amount") or 0)
    return out


def read_transactions_since(client: StripeClient, since: int) -> dict[str, Any]:
    txns = [
        balance_transaction_fields(t)
        for t in client.list_balance_transactions({"created": {"gte": since}})
    ]
    return {"created_gte": since, "count": len(txns), "data": txns}


def read_payouts_since(client: StripeClient, since: int) -> dict[str, Any]:
    payouts = [_payout(p) for p in client.list_payouts({"created": {"gte": since}})]
    return {"created_gte": since, "count": len(payouts), "data": payouts}
