"""In-memory records of the emulated BC database.

Each record keeps the page's *plain* properties (strings, dates and numbers with no business
logic) in ``values`` keyed by API property name, and the properties that carry logic (customer
links, currency, amounts, status, ledger links) as typed attributes. ``version`` drives the
``@odata.etag``; ``seq`` is a global insertion counter that gives every collection a stable order
for key-based paging. All mutation happens under ``Store.lock``.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from decimal import Decimal
from typing import Any

from bc_emulator.edm import BLANK_GUID


@dataclass(kw_only=True)
class Record:
    """Common part of every entity."""

    id: str
    seq: int
    created_at: datetime
    last_modified: datetime
    version: int = 1
    values: dict[str, Any] = field(default_factory=dict)

    def touch(self, now: datetime) -> None:
        """Mark the record modified (new ETag, new ``lastModifiedDateTime``)."""
        self.version += 1
        self.last_modified = now


@dataclass(kw_only=True)
class Customer(Record):
    """Customer card; ``currency_code`` blank means LCY."""

    currency_code: str = ""


@dataclass(kw_only=True)
class Currency(Record):
    """Currency row (the LCY is never one of these); ``exchange_rate`` is LCY per unit."""

    exchange_rate: Decimal = Decimal(1)


@dataclass(kw_only=True)
class GLAccount(Record):
    """G/L account (plain values: number, displayName, category, ...)."""


@dataclass(kw_only=True)
class BankAccount(Record):
    """Bank account; postings to it land on ``gl_account_number`` (its posting group)."""

    currency_code: str = ""
    gl_account_number: str = ""


@dataclass(kw_only=True)
class NoSeries:
    """A number series: ``prefix`` + zero-padded counter; ``manual_nos`` allows own numbers."""

    code: str
    prefix: str
    next_number: int = 1
    width: int = 5
    manual_nos: bool = False

    def peek(self) -> str:
        """The number the series would hand out next."""
        return f"{self.prefix}{self.next_number:0{self.width}d}"

    def take(self) -> str:
        """Hand out the next number."""
        number = self.peek()
        self.next_number += 1
        return number


@dataclass(kw_only=True)
class JournalBatch(Record):
    """Gen. Journal Batch; ``template`` is ``GENERAL`` or ``CASHRCPT``."""

    template: str
    bal_account_type: str = ""  # "", "G/L Account" or "Bank Account"
    bal_account_number: str = ""
    no_series: NoSeries | None = None


@dataclass(kw_only=True)
class JournalLine(Record):
    """Gen. Journal Line: a customer payment (Customer/Payment) or a G/L / bank line.

    ``amount`` is in ``currency_code`` (blank = LCY) and ``amount_lcy`` is BC's "Amount (LCY)";
    ``currency_factor`` is "Currency Factor" (foreign units per LCY unit, 0 for LCY). The three
    are kept consistent by ``line_currency`` the way table 81's field triggers keep them.
    """

    batch_id: str
    account_type: str
    account_number: str = ""
    account_id: str = BLANK_GUID
    document_type: str = " "
    amount: Decimal = Decimal(0)
    amount_lcy: Decimal = Decimal(0)
    currency_code: str = ""
    currency_factor: Decimal = Decimal(0)
    applies_to_invoice_id: str = BLANK_GUID
    bal_account_type: str = ""
    bal_account_number: str = ""
    doc_no_manual: bool = False


@dataclass(kw_only=True)
class SalesInvoiceLine(Record):
    """A sales document line; amounts are derived (see ``amounts.py``).

    Invoice and credit memo lines share this record because BC's two line pages read the same
    buffer table: page 30043 "APIV2 - Sales Invoice Lines" and page 30046 "APIV2 - Sales Credit
    Mem Lines" both have ``SourceTable = "Sales Invoice Line Aggregate"`` (microsoft/
    ALAppExtensions, ``Apps/W1/APIV2/app/src/pages/APIV2SalesCreditMemLines.Page.al``).
    """

    document_id: str
    sequence: int
    line_type: str = "Item"
    item_id: str = BLANK_GUID
    account_id: str = BLANK_GUID
    line_object_number: str = ""
    quantity: Decimal = Decimal(0)
    unit_price: Decimal = Decimal(0)
    discount_amount: Decimal = Decimal(0)
    discount_percent: Decimal = Decimal(0)
    tax_code: str = ""
    tax_percent: Decimal = Decimal(0)


@dataclass(kw_only=True)
class SalesDocument(Record):
    """What a sales invoice and a sales credit memo share.

    A draft and its posted form live under one stable ``id`` (the API's aggregate and buffer
    tables keep the draft's SystemId), with a customer, a currency (blank = LCY), an invoice
    discount, lines and, once posted, the number of its customer ledger entry.
    """

    number: str
    customer_id: str
    customer_number: str
    currency_code: str = ""
    posted: bool = False
    status: str = "Draft"
    discount_amount: Decimal = Decimal(0)
    lines: list[SalesInvoiceLine] = field(default_factory=list)
    cust_entry_no: int | None = None
    totals_cache: tuple[int, Any] | None = None


@dataclass(kw_only=True)
class SalesInvoice(SalesDocument):
    """Sales Invoice Entity Aggregate: draft and posted invoice under one stable ``id``."""


@dataclass(kw_only=True)
class SalesCreditMemo(SalesDocument):
    """Sales Cr. Memo Entity Buffer: draft and posted credit memo under one stable ``id``.

    ``applies_to_number`` is the Sales Header's "Applies-to Doc. No." (document type Invoice),
    which the API shows as ``invoiceNumber``; ``corrective`` marks a credit memo that a
    Cancelled Document record ties to the invoice it canceled (``Microsoft.NAV.cancel``).
    """

    applies_to_number: str = ""
    corrective: bool = False


@dataclass(kw_only=True)
class GLEntry(Record):
    """G/L entry; ``amount`` is signed LCY (positive = debit)."""

    entry_number: int
    posting_date: date
    document_number: str
    document_type: str
    account_number: str
    account_id: str
    description: str
    amount: Decimal
    external_document_number: str = ""
    source: str = ""


@dataclass(kw_only=True)
class CustLedgerEntry:
    """Customer ledger entry (not exposed by the standard API; visible through admin)."""

    entry_number: int
    customer_id: str
    customer_number: str
    document_type: str
    document_number: str
    posting_date: date
    currency_code: str
    amount: Decimal
    remaining: Decimal
    invoice_id: str = BLANK_GUID
    external_document_number: str = ""
    amount_lcy: Decimal = Decimal(0)

    @property
    def open(self) -> bool:
        """An entry stays open while anything remains to apply."""
        return self.remaining != 0


@dataclass(kw_only=True)
class BankLedgerEntry:
    """Bank account ledger entry (admin-visible): ``amount`` in the bank's currency.

    ``currency_code`` is the bank account's (blank = LCY) and ``amount_lcy`` the LCY amount, as
    codeunit 12 "Gen. Jnl.-Post Line" ``PostBankAcc`` fills them (see ``journal_posting``).
    """

    entry_number: int
    bank_account_number: str
    posting_date: date
    document_number: str
    description: str
    amount: Decimal
    currency_code: str = ""
    amount_lcy: Decimal = Decimal(0)


@dataclass(kw_only=True)
class Company(Record):
    """A company and everything in it."""

    info_id: str
    setup_id: str
    info_version: int = 1
    info_modified: datetime | None = None
    info_values: dict[str, Any] = field(default_factory=dict)
    lcy_symbol: str = "$"
    lcy_code: str = "USD"
    receivables_account: str = "13100"
    sales_account: str = "40100"
    tax_account: str = "22300"
    appln_between_currencies: str = "None"
    tax_rates: dict[str, Decimal] = field(default_factory=dict)
    customer_series: NoSeries = field(
        default_factory=lambda: NoSeries(code="CUST", prefix="C", next_number=10)
    )
    draft_series: NoSeries = field(
        default_factory=lambda: NoSeries(code="S-INV", prefix="S-INV", next_number=1001, width=4)
    )
    posted_series: NoSeries = field(
        default_factory=lambda: NoSeries(
            code="S-INV+", prefix="PS-INV", next_number=103001, width=6
        )
    )
    draft_credit_memo_series: NoSeries = field(
        default_factory=lambda: NoSeries(code="S-CR", prefix="S-CR", next_number=1001, width=4)
    )
    posted_credit_memo_series: NoSeries = field(
        default_factory=lambda: NoSeries(code="S-CR+", prefix="PS-CR", next_number=104001, width=6)
    )
    customers: dict[str, Customer] = field(default_factory=dict)
    currencies: dict[str, Currency] = field(default_factory=dict)
    gl_accounts: dict[str, GLAccount] = field(default_factory=dict)
    bank_accounts: dict[str, BankAccount] = field(default_factory=dict)
    batches: dict[str, JournalBatch] = field(default_factory=dict)
    journal_lines: dict[str, JournalLine] = field(default_factory=dict)
    invoices: dict[str, SalesInvoice] = field(default_factory=dict)
    credit_memos: dict[str, SalesCreditMemo] = field(default_factory=dict)
    gl_entries: dict[str, GLEntry] = field(default_factory=dict)
    cust_entries: list[CustLedgerEntry] = field(default_factory=list)
    bank_entries: list[BankLedgerEntry] = field(default_factory=list)
    posted_journal_lines: list[dict[str, Any]] = field(default_factory=list)

    def currency_by_code(self, code: str) -> Currency | None:
        """Find a currency row by code (LCY has none)."""
        for currency in self.currencies.values():
            if currency.values["code"] == code:
                return currency
        return None

    def gl_account_by_number(self, number: str) -> GLAccount | None:
        """Find a G/L account by number."""
        for account in self.gl_accounts.values():
            if account.values["number"] == number:
                return account
        return None

    def bank_account_by_number(self, number: str) -> BankAccount | None:
        """Find a bank account by number."""
        for account in self.bank_accounts.values():
            if account.values["number"] == number:
                return account
        return None

    def customer_by_number(self, number: str) -> Customer | None:
        """Find a customer by number."""
        for customer in self.customers.values():
            if customer.values["number"] == number:
                return customer
        return None
