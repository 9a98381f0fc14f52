"""Writing ledger entries: G/L entries (LCY, balanced), customer and bank ledger entries.

Posting code first builds a list of :class:`GLLine` and checks every account exists, then calls
:func:`write_gl` -- so a failing posting leaves nothing half-written (BC's posting runs in one
transaction). Each new G/L entry raises a ``created`` webhook notification for
``generalLedgerEntries``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bc_emulator.edm import BLANK_GUID
from bc_emulator.edm import new_guid
from bc_emulator.entity_sets import Scope
from bc_emulator.errors import BCError
from bc_emulator.models import CustLedgerEntry
from bc_emulator.models import GLEntry


@dataclass(frozen=True)
class GLLine:
    """One G/L entry to write: signed LCY amount, positive = debit."""

    account_number: str
    amount: Decimal
    description: str
    external_document_number: str = ""
    source: str = ""


def missing_account(kind: str, number: str) -> BCError:
    """BC's record-not-found message for an account number."""
    return BCError(
        400,
        "Internal_RecordNotFound",
        f"The {kind} does not exist. Identification fields and values: No.='{number}'",
    )


def check_gl_accounts(scope: Scope, lines: list[GLLine]) -> None:
    """Every account must exist and not be blocked."""
    for line in lines:
        account = scope.co.gl_account_by_number(line.account_number)
        if account is None:
            raise missing_account("G/L Account", line.account_number)
        if account.values.get("blocked"):
            raise BCError(
                400,
                "Application_FieldValidationException",
                f"Blocked must be equal to 'No'  in G/L Account: No.={line.account_number}. "
                "Current value is 'Yes'.",
            )


def write_gl(
    scope: Scope,
    lines: list[GLLine],
    posting_date: date,
    document_number: str,
    document_type: str,
) -> list[GLEntry]:
    """Append G/L entries (already validated) and announce them."""
    company = scope.co
    now = scope.store.clock.now()
    written = []
    next_number = len(company.gl_entries) + 1
    for line in lines:
        if line.amount == 0:
            continue
        account = company.gl_account_by_number(line.account_number)
        entry = GLEntry(
            id=new_guid(),
            seq=scope.store.next_seq(),
            created_at=now,
            last_modified=now,
            entry_number=next_number,
            posting_date=posting_date,
            document_number=document_number,
            document_type=document_type,
            account_number=line.account_number,
            account_id=account.id if account else BLANK_GUID,
            description=line.description[:100],
            amount=line.amount,
            external_document_number=line.external_document_number,
            source=line.source,
        )
        next_number += 1
        company.gl_entries[entry.id] = entry
        written.append(entry)
        scope.emit("generalLedgerEntries", entry.id, "created")
    return written


def add_cust_entry(
    scope: Scope,
    *,
    customer_id: str,
    customer_number: str,
    document_type: str,
    document_number: str,
    posting_date: date,
    currency_code: str,
    amount: Decimal,
    remaining: Decimal,
    invoice_id: str = "",
    external_document_number: str = "",
    amount_lcy: Decimal | None = None,
) -> CustLedgerEntry:
    """Append a customer ledger entry (``amount`` in ``currency_code``, ``amount_lcy`` in LCY)."""
    company = scope.co
    entry = CustLedgerEntry(
        entry_number=len(company.cust_entries) + 1,
        customer_id=customer_id,
        customer_number=customer_number,
        document_type=document_type,
        document_number=document_number,
        posting_date=posting_date,
        currency_code=currency_code,
        amount=amount,
        remaining=remaining,
        invoice_id=invoice_id or BLANK_GUID,
        external_document_number=external_document_number,
        amount_lcy=amount if amount_lcy is None else amount_lcy,
    )
    company.cust_entries.append(entry)
    return entry


def invoice_entry(scope: Scope, entry_number: int | None) -> CustLedgerEntry | None:
    """The customer ledger entry of a posted invoice."""
    if entry_number is None:
        return None
    return scope.co.cust_entries[entry_number - 1]
