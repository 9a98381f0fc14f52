"""A person's match of a Stripe payment to a BC invoice, written into the payment's metadata.

**Why the match goes into Stripe.** The reconciler posts a payment to BC only when Stripe names
the BC invoice: ``bc_company_id`` and ``bc_invoice_id`` in the metadata of the Stripe invoice the
charge paid, or else of the charge itself (reconciler ``handlers/payments.py``,
``handlers/postings.py`` ``post_to_bc``). Otherwise the record is ``unmatched`` and a clerk picks
the BC invoice in the console. Writing that choice into Stripe, rather than only into the
reconciler's database, lets the console replay the record through the normal payment path (its
checks, its idempotency), and lets every later event of the payment match by itself, as if the
payment had named its invoice from the start. Stripe stays the one place that says which BC
invoice a payment is for.

**What is written.** ``bc_company_id``, ``bc_invoice_id``, ``bc_invoice_number`` and
``bc_matched_by``, into the metadata of the charge and of its PaymentIntent (if it has one).
Stripe merges metadata, so the objects' other keys are kept (stripe-python 16.1.0
``ChargeService.update`` and ``PaymentIntentService.update``, ``POST /v1/charges/{charge}`` and
``POST /v1/payment_intents/{intent}``, ``metadata``: "Individual keys can be unset by posting an
empty value to them"; stripe-api.md §4 "Metadata"). Only keys whose value differs are sent. The
charge is written first, because it is what the reconciler reads.

**What is not written.** The Stripe invoice the charge paid (found as ``GET
/commands/charges/<id>/invoice-payment`` finds it: ``reads.read_charge_invoice_payment``) keeps
its metadata: that metadata is the push's (``services.invoices``), and a person's choice must not
rewrite what the connector pushed. The invoice is returned instead, so the console can show what
it says. The reconciler posts an invoice payment from the *invoice's* metadata, so for such a
charge the references written here do not decide the replay.

**Never overwrite a match.** When the charge or its PaymentIntent already names another BC
invoice (another ``bc_company_id`` or ``bc_invoice_id``), nothing is written: 409
``already_matched``, with both matches in the details. The same references again write nothing
(``unchanged: true``). A call that stopped half-way (charge written, intent not) is completed by
the next one. Once the charge names the invoice, the person who matched it first stays
``bc_matched_by``; a later, identical match by someone else does not take the credit.

**Idempotency.** Each write's Stripe idempotency key is derived from the charge id, the object
written and the metadata sent (``mlc:{charge}:bc-references:{object}:{digest}``, as customer
updates derive theirs from the changes), so a retried command replays Stripe's stored answer and
a different request gets a different key, never an ``idempotency_error``. Stripe has no
conditional update: two different matches of one payment sent at the same instant could both
pass the check, and the later write would win. Callers send one match per payment at a time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

import stripe

from mlconnector.web import ApiError
from stripe_gateway.adapters.stripe_client import StripeClient
from stripe_gateway.adapters.stripe_client import metadata_of
from stripe_gateway.services.reads import read_charge_invoice_payment

logger = logging.getLogger(__name__)

#: The metadata keys a match writes, in the order they are reported.
REFERENCE_KEYS = ("bc_company_id", "bc_invoice_id", "bc_invoice_number", "bc_matched_by")
# Which BC invoice a payment is for: the keys the reconciler matches on (``post_to_bc``).
_IDENTITY = ("bc_company_id", "bc_invoice_id")


@dataclasses.dataclass(frozen=True)
class BcReferences:
    """The BC invoice a person chose for a payment, and who chose it."""

    bc_company_id: str
    bc_invoice_id: str
    bc_invoice_number: str
    matched_by: str

    def metadata(self) -> dict[str, str]:
        return {
            "bc_company_id": self.bc_company_id,
            "bc_invoice_id": self.bc_invoice_id,
            "bc_invoice_number": self.bc_invoice_number,
            "bc_matched_by": self.matched_by,
        }


@dataclasses.dataclass(frozen=True)
class ReferencesWritten:
    """The outcome: the charge's references now, and whether this call wrote anything."""

    charge: str
    payment_intent: str | None
    metadata: dict[str, str]
    unchanged: bool
    invoice: dict[str, Any] | None  # the Stripe invoice the charge paid (never written)


class AlreadyMatched(ApiError):
    """The payment already names another BC invoice; a match is never overwritten silently."""

    status_code = 409
    code = "already_matched"


def set_bc_references(
    client: StripeClient, charge_id: str, refs: BcReferences
) -> ReferencesWritten:
    """Write ``refs`` into the charge's and its PaymentIntent's metadata (see the module)."""
    charge = client.retrieve_charge(charge_id, expand=["payment_intent"])
    intent = _expanded_intent(charge)
    on_charge = metadata_of(charge)
    on_intent = metadata_of(intent) if intent is not None else {}
    _refuse_another_match("charge", charge_id, on_charge, refs)
    if intent is not None:
        _refuse_another_match("PaymentIntent", intent.id, on_intent, refs)
    wanted = _wanted(on_charge, refs)
    charge_changes = _changes(on_charge, wanted)
    intent_changes = _changes(on_intent, wanted) if intent is not None else {}
    now = on_charge
    if charge_changes:
        updated = client.update_charge(
            charge_id,
            {"metadata": charge_changes},
            idempotency_key=_key(charge_id, "charge", charge_changes),
        )
        now = metadata_of(updated)
    if intent is not None and intent_changes:
        client.update_payment_intent(
            intent.id,
            {"metadata": intent_changes},
            idempotency_key=_key(charge_id, "payment-intent", intent_changes),
        )
    unchanged = not charge_changes and not intent_changes
    logger.info(
        "charge %s %s BC invoice %s of company %s",
        charge_id,
        "already named" if unchanged else "now names",
        refs.bc_invoice_id,
        refs.bc_company_id,
    )
    return ReferencesWritten(
        charge=charge_id,
        payment_intent=intent.id if intent is not None else None,
        metadata={key: now[key] for key in REFERENCE_KEYS if key in now},
        unchanged=unchanged,
        invoice=_paid_invoice(client, charge_id, intent.id) if intent is not None else None,
    )


def _expanded_intent(charge: stripe.Charge) -> stripe.PaymentIntent | None:
    """The charge's PaymentIntent as the object ``expand`` returned (None: a charge without one).

    Its metadata is needed to refuse another match on it, so an id alone will not do.
    """
    intent = getattr(charge, "payment_intent", None)
    if intent is None or isinstance(intent, stripe.PaymentIntent):
        return intent
    raise TypeError(f"Stripe did not expand the payment_intent of charge {charge.id}")


def _refuse_another_match(
    label: str, object_id: str, metadata: Mapping[str, str], refs: BcReferences
) -> None:
    """409 when ``metadata`` names a BC invoice other than ``refs`` (a key present, different)."""
    wanted = refs.metadata()
    if not any(metadata.get(key) and metadata[key] != wanted[key] for key in _IDENTITY):
        return
    current = {key: metadata[key] for key in REFERENCE_KEYS if metadata.get(key)}
    named = current.get("bc_invoice_number") or current.get("bc_invoice_id") or "(no id)"
    by = f", matched by {current['bc_matched_by']}" if "bc_matched_by" in current else ""
    raise AlreadyMatched(
        f"{label} {object_id} already names BC invoice {named} "
        f"(bc_company_id {current.get('bc_company_id', '(none)')}, "
        f"bc_invoice_id {current.get('bc_invoice_id', '(none)')}{by}); it is not overwritten "
        f"with BC invoice {refs.bc_invoice_number} (bc_invoice_id {refs.bc_invoice_id}). "
        "Remove the earlier references in Stripe first if they are wrong.",
        details={
            "object": "charge" if label == "charge" else "payment_intent",
            "id": object_id,
            "current": current,
            "requested": {key: wanted[key] for key in REFERENCE_KEYS if key != "bc_matched_by"},
        },
    )


def _wanted(on_charge: Mapping[str, str], refs: BcReferences) -> dict[str, str]:
    """The references both objects should carry; the first matcher stays ``bc_matched_by``."""
    wanted = refs.metadata()
    if all(on_charge.get(key) == wanted[key] for key in _IDENTITY):
        # The charge named this invoice before this call: the person who matched it then (if
        # any) stays the matcher; without one, the match predates any person's choice.
        first = on_charge.get("bc_matched_by")
        if first:
            wanted["bc_matched_by"] = first
        else:
            del wanted["bc_matched_by"]
    return wanted


def _changes(metadata: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    """The keys to send: only those whose value differs (Stripe keeps the others)."""
    return {key: value for key, value in wanted.items() if metadata.get(key) != value}


def _key(charge_id: str, target: str, changes: Mapping[str, str]) -> str:
    """The Stripe idempotency key of one metadata write (same request, same key)."""
    digest = hashlib.sha256(json.dumps(changes, sort_keys=True).encode()).hexdigest()[:16]
    return f"mlc:{charge_id}:bc-references:{target}:{digest}"


def _paid_invoice(client: StripeClient, charge_id: str, intent_id: str) -> dict[str, Any] | None:
    """The Stripe invoice the charge paid through its PaymentIntent, or None (one call)."""
    found: dict[str, Any] | None = read_charge_invoice_payment(client, charge_id, intent_id)[
        "invoice"
    ]
    return found
