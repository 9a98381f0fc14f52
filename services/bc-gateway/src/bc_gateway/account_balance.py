"""A G/L account's balance, summed from BC's G/L entries (for the daily drift check).

BC's standard API has no balance on ``accounts``; ``generalLedgerEntries`` (bc-api.md §4.13)
carries ``debitAmount`` and ``creditAmount`` in the local currency, so the balance is their
difference over every entry of the account, read page by page with only those two fields.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.adapters.odata import odata_string


def gl_balance(bc: BCClient, number: str) -> dict[str, Any]:
    total = Decimal(0)
    entries = 0
    query = {
        "$filter": f"accountNumber eq {odata_string(number.upper())}",
        "$select": "debitAmount,creditAmount",
    }
    for page in bc.pages(bc.company_path("generalLedgerEntries"), query):
        for entry in page:
            total += Decimal(str(entry.get("debitAmount") or 0))
            total -= Decimal(str(entry.get("creditAmount") or 0))
            entries += 1
    return {"number": number.upper(), "balance": total, "entries": entries}
