"""The invoice commands: push a BC invoice, find the one pushed for a BC invoice, read one, void
it, mark it paid out of band, delete a stray draft."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import request

from stripe_gateway.api import dependencies
from stripe_gateway.api import dump
from stripe_gateway.api import json_body
from stripe_gateway.api.schemas import INVOICE_PREFIXES
from stripe_gateway.api.schemas import CreditInvoiceSchema
from stripe_gateway.api.schemas import DeletedDraftSchema
from stripe_gateway.api.schemas import FindByBcQuerySchema
from stripe_gateway.api.schemas import FoundInvoiceSchema
from stripe_gateway.api.schemas import InvoiceChangeSchema
from stripe_gateway.api.schemas import InvoiceSchema
from stripe_gateway.api.schemas import PaidElsewhereSchema
from stripe_gateway.api.schemas import PushedInvoiceSchema
from stripe_gateway.api.schemas import PushInvoiceSchema
from stripe_gateway.api.schemas import stripe_path_id
from stripe_gateway.services import invoice_changes
from stripe_gateway.services import invoices
from stripe_gateway.services import recovery
from stripe_gateway.services.reads import invoice_fields
from stripe_gateway.services.reads import read_invoice

bp = Blueprint("invoices", __name__, url_prefix="/commands/invoices")


def _invoice_id(value: str) -> str:
    """The path's invoice id, refused (422 ``invoice_id``) unless it is an ``in_...`` id."""
    return stripe_path_id(value, field="invoice_id", prefixes=INVOICE_PREFIXES)


@bp.post("")
def push() -> tuple[dict[str, object], int]:
    """Create (or resume) and finalize the Stripe invoice; 201 when the draft was created now."""
    result = invoices.push_invoice(dependencies().stripe, PushInvoiceSchema().load(json_body()))
    body = dump(
        PushedInvoiceSchema(),
        {
            **invoice_fields(result.invoice),
            "created_now": result.created,
            "resumed": result.resumed,
            "finalized_now": result.finalized,
        },
    )
    return body, 201 if result.created else 200


@bp.get("/by-bc")
def find_by_bc() -> dict[str, object]:
    """The invoice made for a BC invoice (by its metadata), or ``invoice: null``: never a 404,
    so "none" cannot be mistaken for a missing customer or route."""
    query = FindByBcQuerySchema().load(request.args.to_dict())
    found = recovery.find_bc_invoice(dependencies().stripe, **query)
    return dump(
        FoundInvoiceSchema(),
        {
            "invoice": invoice_fields(found.invoice) if found.invoice is not None else None,
            "matched_by": found.matched_by,
            "candidates": found.candidates,
        },
    )


@bp.get("/<invoice_id>")
def read(invoice_id: str) -> dict[str, object]:
    """The invoice with every payment (PaymentIntent and charge ids, amounts, status)."""
    return dump(InvoiceSchema(), read_invoice(dependencies().stripe, _invoice_id(invoice_id)))


@bp.post("/<invoice_id>/void")
def void(invoice_id: str) -> dict[str, object]:
    invoice = invoices.void_invoice(dependencies().stripe, _invoice_id(invoice_id))
    return dump(InvoiceSchema(exclude=("payments",)), invoice_fields(invoice))


@bp.post("/<invoice_id>/mark-paid-out-of-band")
def mark_paid_out_of_band(invoice_id: str) -> dict[str, object]:
    invoice = invoices.mark_paid_out_of_band(dependencies().stripe, _invoice_id(invoice_id))
    return dump(InvoiceSchema(exclude=("payments",)), invoice_fields(invoice))


@bp.post("/<invoice_id>/delete-draft")
def delete_draft(invoice_id: str) -> dict[str, object]:
    """Delete a draft (409 ``invalid_state`` once finalized); deleting it again is a no-op."""
    deleted_now = recovery.delete_draft(dependencies().stripe, _invoice_id(invoice_id))
    return dump(
        DeletedDraftSchema(), {"id": invoice_id, "deleted": True, "deleted_now": deleted_now}
    )


@bp.post("/<invoice_id>/credit-notes")
def credit(invoice_id: str) -> tuple[dict[str, object], int]:
    """A credit note for a BC credit memo (line by line when ``lines`` are sent); 201 when made
    now, 200 when it was made before."""
    command = CreditInvoiceSchema().load(json_body())
    client = dependencies().stripe
    metadata = {
        name: command.pop(name)
        for name in ("bc_credit_memo_id", "bc_credit_memo_number", "bc_invoice_id")
    }
    credited = invoice_changes.credit_invoice(
        client, _invoice_id(invoice_id), metadata=metadata, **command
    )
    invoice = client.retrieve_invoice(invoice_id)
    body = dump(
        InvoiceChangeSchema(),
        {
            "invoice": invoice_fields(invoice),
            "credit_note": {
                **_credit_note(credited.note),
                "created_now": credited.created,
                "amount_only_why": credited.amount_only_why,
            },
            "how": "credit_note",
        },
    )
    return body, 201 if credited.created else 200


@bp.post("/<invoice_id>/paid-elsewhere")
def paid_elsewhere(invoice_id: str) -> dict[str, object]:
    """Money paid outside Stripe: the whole remainder out of band, or a payment record."""
    command = PaidElsewhereSchema().load(json_body())
    invoice, how = invoice_changes.pay_elsewhere(
        dependencies().stripe, _invoice_id(invoice_id), **command
    )
    return dump(
        InvoiceChangeSchema(), {"invoice": invoice_fields(invoice), "credit_note": None, "how": how}
    )


@bp.post("/<invoice_id>/send")
def send(invoice_id: str) -> dict[str, object]:
    """Stripe e-mails the invoice to the client."""
    invoice = invoice_changes.send(dependencies().stripe, _invoice_id(invoice_id))
    return dump(InvoiceSchema(exclude=("payments",)), invoice_fields(invoice))


def _credit_note(note: Any) -> dict[str, object]:
    fields = {
        name: getattr(note, name, None)
        for name in (
            "id",
            "number",
            "amount",
            "type",
            "status",
            "pre_payment_amount",
            "post_payment_amount",
            "out_of_band_amount",
        )
    }
    lines = getattr(note, "lines", None)
    data = lines.to_dict().get("data", []) if lines is not None else []
    fields["lines"] = [{**line, "metadata": line.get("metadata") or {}} for line in data]
    fields["lines_complete"] = not (lines is not None and lines.has_more)
    return fields
