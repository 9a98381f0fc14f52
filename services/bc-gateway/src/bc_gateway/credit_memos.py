"""Sales credit memos read for the reconciler (page 30038 ``salesCreditMemos``, bc-api.md §4.7).

A posted credit memo that names an invoice (``invoiceId`` / ``invoiceNumber``, BC's "Applies-to
Doc. No.") is what the reconciler mirrors to Stripe as a credit note on that invoice; BC's
cancellation of an invoice posts such a credit memo too (status ``Corrective``). Drafts carry
``Draft`` / ``In Review``; posted ones ``Open``, ``Paid``, ``Canceled`` or ``Corrective``
(enum 5507 "Sales Cr. Memo Entity Buffer Status").
"""

from __future__ import annotations

from typing import Any

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.adapters.bc_client import Entity
from bc_gateway.services import BLANK_GUID
from bc_gateway.services import LocalCurrency
from bc_gateway.services import amount
from bc_gateway.services import currency_or_lcy
from bc_gateway.services import date_value
from bc_gateway.services import decode_enum
from bc_gateway.services import line_view
from bc_gateway.services import sequence_of
from bc_gateway.services import timestamp_or_none

POSTED = ("Open", "Paid", "Canceled", "Corrective")


def credit_memo_view(memo: Entity, lcy: str) -> dict[str, Any]:
    status = decode_enum(memo.get("status"))
    invoice_id = memo.get("invoiceId") or BLANK_GUID
    return {
        "id": memo["id"],
        "number": memo.get("number") or "",
        "status": status,
        "posted": status in POSTED,
        "posting_date": date_value(memo.get("postingDate")),
        "customer_id": memo.get("customerId") or BLANK_GUID,
        "customer_number": memo.get("customerNumber") or "",
        "invoice_id": None if invoice_id == BLANK_GUID else invoice_id,
        "invoice_number": memo.get("invoiceNumber") or "",
        "currency_code": currency_or_lcy(memo.get("currencyCode"), lcy),
        "total_amount_excluding_tax": amount(memo.get("totalAmountExcludingTax", 0)),
        "total_tax_amount": amount(memo.get("totalTaxAmount", 0)),
        "total_amount_including_tax": amount(memo.get("totalAmountIncludingTax", 0)),
        "last_modified": timestamp_or_none(memo.get("lastModifiedDateTime")),
    }


def get_credit_memo(bc: BCClient, lcy: LocalCurrency, memo_id: str) -> dict[str, Any]:
    """One credit memo with its lines (by sequence)."""
    memo = bc.get(
        bc.company_path(f"salesCreditMemos({memo_id})"), {"$expand": "salesCreditMemoLines"}
    )
    view = credit_memo_view(memo, lcy.code(bc))
    lines = memo.get("salesCreditMemoLines") or []
    view["lines"] = [line_view(line) for line in sorted(lines, key=sequence_of)]
    return view


def credit_memos_of(bc: BCClient, lcy: LocalCurrency, invoice_id: str) -> list[dict[str, Any]]:
    """The credit memos that name an invoice, drafts included (the caller picks the posted)."""
    code = lcy.code(bc)
    return [
        credit_memo_view(memo, code)
        for page in bc.pages(
            bc.company_path("salesCreditMemos"), {"$filter": f"invoiceId eq {invoice_id}"}
        )
        for memo in page
    ]
