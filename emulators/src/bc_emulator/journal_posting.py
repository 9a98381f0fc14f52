"""``journals({id})/Microsoft.NAV.post``: post every line of a batch (bc-api.md §4.10, §9).

All checks run before anything is written, as in BC's single posting transaction:
``Gen. Jnl.-Check Line`` rules (a customer Payment must be negative -- "Amount must be negative in
Gen. Journal Line Journal Template Name='...',Journal Batch Name='...',Line No.='...'"), No. Series
manual-number rule, the balance per document in LCY and, for one-currency documents, in that
currency (``journal_balance``, codeunit 13), then per line the bank currency rules of
``PostBankAcc`` (``bank_posting``) and the application to a posted open invoice (same currency
unless "Appln. between Currencies" is All; the arithmetic is shared with credit memos in
``application.py``). Then G/L entries get each line's "Amount (LCY)" (the
account side +, the balancing side -), bank ledger entries the amount in the bank's currency and
the LCY amount, customer ledger entries the line's currency and amount (codeunit 12 copies
"Currency Code" from the journal line); invoices' remaining amounts drop (``Paid`` at zero, with an
``updated`` notification), and the lines disappear from the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import date
from decimal import Decimal
from typing import Any

from bc_emulator.application import applied_amounts
from bc_emulator.application import check_application_currency
from bc_emulator.bank_posting import BankPosting
from bc_emulator.bank_posting import bank_posting
from bc_emulator.edm import BLANK_GUID
from bc_emulator.entity_sets import Scope
from bc_emulator.errors import BCError
from bc_emulator.errors import dialog
from bc_emulator.journal_balance import check_document_balance
from bc_emulator.journal_lines import batch_lines
from bc_emulator.jsonio import BLANK_DATE
from bc_emulator.ledger import GLLine
from bc_emulator.ledger import add_cust_entry
from bc_emulator.ledger import check_gl_accounts
from bc_emulator.ledger import invoice_entry
from bc_emulator.ledger import missing_account
from bc_emulator.ledger import write_gl
from bc_emulator.models import BankAccount
from bc_emulator.models import BankLedgerEntry
from bc_emulator.models import Company
from bc_emulator.models import JournalBatch
from bc_emulator.models import JournalLine
from bc_emulator.models import SalesInvoice

ZERO = Decimal(0)


@dataclass
class _Planned:
    line: JournalLine
    gl: list[GLLine]
    invoice: SalesInvoice | None = None
    applied_invoice: Decimal = ZERO
    applied_payment: Decimal = ZERO
    bank: list[BankPosting] = field(default_factory=list)


def _field_error(what: str, batch: JournalBatch, line: JournalLine) -> BCError:
    ident = (
        f"Journal Template Name='{batch.template}',Journal Batch Name='{batch.values['code']}',"
        f"Line No.='{line.values['lineNumber']}'"
    )
    return BCError(
        400, "Application_FieldValidationException", f"{what} in Gen. Journal Line {ident}"
    )


def _gl_account_for(company: Company, kind: str, number: str) -> tuple[str, BankAccount | None]:
    """G/L account behind an account of ``kind`` and the bank account, if it is one."""
    if kind == "Bank Account":
        bank = company.bank_account_by_number(number)
        if bank is None:
            raise missing_account("Bank Account", number)
        if not bank.gl_account_number:
            raise dialog(f"Bank Account {number} has no G/L account in its posting group.")
        return bank.gl_account_number, bank
    if kind == "Customer":
        return company.receivables_account, None
    return number, None


def _check(scope: Scope, batch: JournalBatch, line: JournalLine) -> None:
    if not line.amount:
        raise _field_error("Amount must have a value", batch, line)
    if line.values.get("postingDate") in (None, BLANK_DATE):
        raise _field_error("Posting Date must have a value", batch, line)
    if not line.values.get("documentNumber"):
        raise _field_error("Document No. must have a value", batch, line)
    if not line.account_number:
        raise _field_error("Account No. must have a value", batch, line)
    series = batch.no_series
    if series is not None and line.doc_no_manual and not series.manual_nos:
        raise dialog(
            "You may not enter numbers manually. If you want to enter numbers manually, please "
            f"activate Manual Nos. in No. Series {series.code}."
        )
    if line.account_type == "Customer" and line.document_type == "Payment" and line.amount > 0:
        raise _field_error("Amount must be negative", batch, line)


def _apply_plan(scope: Scope, plan: _Planned, remaining: dict[str, Decimal]) -> None:
    """Work out how much of the payment applies to its invoice."""
    company, line = scope.co, plan.line
    invoice = company.invoices.get(line.applies_to_invoice_id)
    if invoice is None or not invoice.posted:
        return
    entry = invoice_entry(scope, invoice.cust_entry_no)
    assert entry is not None
    if entry.customer_id != line.account_id:
        raise dialog(
            f"The invoice {invoice.number} to apply to is not an open entry of customer "
            f"{line.account_number}."
        )
    open_amount = remaining.setdefault(invoice.id, entry.remaining)
    if open_amount == 0:
        raise BCError(
            400,
            "Application_FieldValidationException",
            f"Open must be equal to 'Yes'  in Cust. Ledger Entry: Entry No.={entry.entry_number}."
            " Current value is 'No'.",
        )
    check_application_currency(company, line.currency_code, invoice.currency_code)
    applied_inv, applied_pay = applied_amounts(
        company, -line.amount, line.currency_code, open_amount, invoice.currency_code
    )
    remaining[invoice.id] = open_amount - applied_inv
    plan.invoice, plan.applied_invoice, plan.applied_payment = invoice, applied_inv, applied_pay


def _plan(scope: Scope, batch: JournalBatch, lines: list[JournalLine]) -> list[_Planned]:
    company = scope.co
    for line in lines:
        _check(scope, batch, line)
    check_document_balance(lines)
    remaining: dict[str, Decimal] = {}
    plans: list[_Planned] = []
    for line in lines:
        amount_lcy = line.amount_lcy
        account, bank = _gl_account_for(company, line.account_type, line.account_number)
        description = str(line.values.get("description", ""))
        external = str(line.values.get("externalDocumentNumber", ""))
        plan = _Planned(line, [GLLine(account, amount_lcy, description, external)])
        if bank is not None:
            plan.bank.append(bank_posting(batch, line, bank, 1))
        if line.bal_account_number:
            bal, bal_bank = _gl_account_for(company, line.bal_account_type, line.bal_account_number)
            plan.gl.append(GLLine(bal, -amount_lcy, description, external))
            if bal_bank is not None:
                plan.bank.append(bank_posting(batch, line, bal_bank, -1))
        if line.account_type == "Customer" and line.applies_to_invoice_id != BLANK_GUID:
            _apply_plan(scope, plan, remaining)
        check_gl_accounts(scope, plan.gl)
        plans.append(plan)
    return plans


def post_batch(scope: Scope, batch: JournalBatch) -> None:
    """Post all lines of ``batch`` or raise without changing anything."""
    lines = batch_lines(scope, batch.id)
    if not lines:
        raise dialog("There is nothing to post.")
    plans = _plan(scope, batch, lines)
    company = scope.co
    now = scope.store.clock.now()
    for plan in plans:
        line = plan.line
        posting_date: date = line.values["postingDate"]
        document = str(line.values["documentNumber"])
        doc_type = "Payment" if line.document_type == "Payment" else " "
        entries = write_gl(scope, plan.gl, posting_date, document, doc_type)
        for bank in plan.bank:
            company.bank_entries.append(
                BankLedgerEntry(
                    entry_number=len(company.bank_entries) + 1,
                    bank_account_number=bank.bank_account_number,
                    posting_date=posting_date,
                    document_number=document,
                    description=str(line.values.get("description", "")),
                    amount=bank.amount,
                    currency_code=bank.currency_code,
                    amount_lcy=bank.amount_lcy,
                )
            )
        if line.account_type == "Customer":
            add_cust_entry(
                scope,
                customer_id=line.account_id,
                customer_number=line.account_number,
                document_type=doc_type.strip() or "Payment",
                document_number=document,
                posting_date=posting_date,
                currency_code=line.currency_code,
                amount=line.amount,
                remaining=line.amount + plan.applied_payment,
                external_document_number=str(line.values.get("externalDocumentNumber", "")),
                amount_lcy=line.amount_lcy,
            )
        if plan.invoice is not None:
            entry = invoice_entry(scope, plan.invoice.cust_entry_no)
            assert entry is not None
            entry.remaining -= plan.applied_invoice
            if entry.remaining == 0:
                plan.invoice.status = "Paid"
            plan.invoice.touch(now)
            scope.emit("salesInvoices", plan.invoice.id, "updated")
        company.posted_journal_lines.append(_record(scope, batch, plan, entries, now))
        del company.journal_lines[line.id]


def _record(
    scope: Scope, batch: JournalBatch, plan: _Planned, entries: list[Any], now: Any
) -> dict[str, Any]:
    line = plan.line
    return {
        "id": line.id,
        "journalId": batch.id,
        "journalDisplayName": batch.values["code"],
        "templateDisplayName": batch.template,
        "lineNumber": line.values["lineNumber"],
        "accountType": line.account_type,
        "accountNumber": line.account_number,
        "accountId": line.account_id,
        "documentType": line.document_type,
        "documentNumber": line.values["documentNumber"],
        "externalDocumentNumber": line.values.get("externalDocumentNumber", ""),
        "postingDate": line.values["postingDate"],
        "amount": line.amount,
        "amountLcy": line.amount_lcy,
        "currencyCode": line.currency_code or scope.co.lcy_code,
        "description": line.values.get("description", ""),
        "comment": line.values.get("comment", ""),
        "appliesToInvoiceId": line.applies_to_invoice_id,
        "appliesToInvoiceNumber": plan.invoice.number if plan.invoice else "",
        "appliedAmount": plan.applied_invoice,
        "balancingAccountType": line.bal_account_type,
        "balancingAccountNumber": line.bal_account_number,
        "generalLedgerEntryNumbers": [e.entry_number for e in entries],
        "postedAt": now,
    }
