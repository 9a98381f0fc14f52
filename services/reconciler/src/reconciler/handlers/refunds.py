"""Refunds: each succeeded refund of a charge becomes one line in the connector's refund batch.

The charge is re-read with its refunds; each refund not posted yet is written (positive amount,
external document number = the refund id) to the separate refund batch, which is not posted
automatically unless the firm chose so: a person reviews refunds (bc-api.md, refunds).
"""

from __future__ import annotations

from reconciler.handlers.postings import post_to_bc
from reconciler.models import PostingKind
from reconciler.rules import HandlerDeps
from reconciler.unit import Unit


def on_charge_refunded(unit: Unit) -> None:
    deps: HandlerDeps = unit.deps
    charge_id = str(unit.envelope.data["object_id"])
    charge = unit.call(
        None, f"fetched Stripe charge {charge_id}", deps.stripe.get_charge, charge_id
    )
    invoice = charge.get("invoice") if isinstance(charge.get("invoice"), dict) else None
    metadata = (invoice or {}).get("metadata") or charge.get("metadata") or {}
    for refund in charge.get("refunds", []):
        if refund.get("status") != "succeeded":
            continue
        post_to_bc(
            unit,
            kind=PostingKind.REFUND,
            stripe_id=str(refund["id"]),
            amount_minor=int(refund["amount"]),
            currency=str(refund.get("currency") or charge["currency"]),
            metadata=metadata,
            source=f"refund {refund['id']} of charge {charge_id}",
        )
