"""Before a batch is posted: do its payment lines still fit what BC says is open?

A payment the reconciler wrote on what it knew of the invoice (``postings.KnownInvoice``) was
not checked against BC's remaining amount: the connector's records showed no other payment, but
a clerk may have booked one in BC a moment before, whose notification had not arrived yet (BC
delivers notifications in batches, up to about a minute late: bc-api.md §7.5). BC would still
post the line, apply what is open and leave the rest as an open payment on the customer, but the
overpayment must reach a person. So the batch poster asks, once per post, for the invoices of
the lines it carries: one read of their remaining amounts (``id eq … or id eq …``: ``or`` on one
field is allowed, bc-api.md §6.1), then the post. Per invoice the lines are taken in the order
they were written; what goes beyond the open amount is the last lines' overpayment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.services import amount

# Ids per read: keeps the URL well under any proxy's limit (50 GUIDs are about 2.5 KB).
IDS_PER_READ = 50


@dataclasses.dataclass(frozen=True)
class CheckedLine:
    """A payment line in the batch: how much it pays (positive) on which invoice."""

    external_document_number: str
    bc_invoice_id: str
    paid: Decimal


def overpaid_lines(bc: BCClient, lines: Sequence[CheckedLine]) -> list[dict[str, Any]]:
    """The lines that pay more than their invoice has open, with by how much."""
    invoices: dict[str, dict[str, Any]] = {}
    ids = sorted({line.bc_invoice_id.lower() for line in lines})
    for start in range(0, len(ids), IDS_PER_READ):
        chunk = ids[start : start + IDS_PER_READ]
        query = {
            "$filter": " or ".join(f"id eq {invoice_id}" for invoice_id in chunk),
            "$select": "id,number,remainingAmount",
        }
        for page in bc.pages(bc.company_path("salesInvoices"), query):
            for invoice in page:
                invoices[str(invoice["id"]).lower()] = invoice
    left: dict[str, Decimal] = {
        invoice_id: amount(invoice.get("remainingAmount", 0))
        for invoice_id, invoice in invoices.items()
    }
    overpaid = []
    for line in lines:
        invoice_id = line.bc_invoice_id.lower()
        if invoice_id not in invoices:
            continue  # not BC's any more, or not readable: the post itself will say
        before = left[invoice_id]
        left[invoice_id] = max(Decimal(0), before - line.paid)
        if line.paid > before:
            overpaid.append(
                {
                    "external_document_number": line.external_document_number,
                    "invoice_number": str(invoices[invoice_id].get("number") or ""),
                    "invoice_remaining_amount": before,
                    "overpaid_by": line.paid - before,
                }
            )
    return overpaid
