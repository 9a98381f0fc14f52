"""Building blocks for seeding data: companies with a default chart, accounts, batches, invoices
and credit memos.

Used by the admin API and by ``python -m bc_emulator --seed-demo``. Records are created through
the same entity-set code as API writes, so seeded data obeys the same rules (Code upper-casing,
LCY semantics, numbering) and raises the same webhook notifications.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bc_emulator.config import EmulatorConfig
from bc_emulator.credit_memo_posting import post_credit_memo
from bc_emulator.edm import Field
from bc_emulator.edm import T
from bc_emulator.edm import coerce
from bc_emulator.edm import new_guid
from bc_emulator.entity_sets import Scope
from bc_emulator.errors import dialog
from bc_emulator.invoice_posting import post_invoice
from bc_emulator.journal_batches import CASHRCPT
from bc_emulator.journal_batches import GENERAL
from bc_emulator.journal_batches import add_batch
from bc_emulator.ledger import missing_account
from bc_emulator.lookups import duplicate_key
from bc_emulator.models import BankAccount
from bc_emulator.models import Company
from bc_emulator.models import GLAccount
from bc_emulator.models import NoSeries
from bc_emulator.models import SalesCreditMemo
from bc_emulator.models import SalesDocument
from bc_emulator.models import SalesInvoice
from bc_emulator.registry import Registry
from bc_emulator.sales_documents import SalesDocumentsSet
from bc_emulator.schemas import GL_CATEGORY
from bc_emulator.store import Environment
from bc_emulator.store import Store

_CODE = Field("code", T.CODE, max_length=20)

DEFAULT_ACCOUNTS = (
    ("10100", "Checking Account", "Assets"),
    ("10900", "Payment Clearing", "Assets"),
    ("13100", "Accounts Receivable", "Assets"),
    ("22300", "Sales Tax Payable", "Liabilities"),
    ("40100", "Sales Revenue", "Income"),
    ("60100", "Payment Processing Fees", "Expense"),
)


def create_company(
    store: Store, env: Environment, config: EmulatorConfig, body: dict[str, Any]
) -> Company:
    """A company; with ``defaults`` (on unless false) a small chart, a bank and two batches."""
    now = store.clock.now()
    company_id = str(body.get("id") or new_guid()).lower()
    if company_id in env.companies:
        raise duplicate_key("Company", "Id", company_id)
    name = str(body.get("name") or "CRONUS USA, Inc.")
    company = Company(
        id=company_id,
        seq=store.next_seq(),
        created_at=now,
        last_modified=now,
        info_id=new_guid(),
        setup_id=new_guid(),
        lcy_code=coerce(_CODE, body.get("lcyCode") or "USD"),
        lcy_symbol=str(body.get("lcySymbol") or "$"),
    )
    company.values = {
        "name": name,
        "displayName": str(body.get("displayName") or name),
        "businessProfileId": "",
        "systemVersion": "26.0.30643.33218",
    }
    env.companies[company.id] = company
    if body.get("defaults", True):
        scope = Scope(store, env, config, company=company)
        for number, display, category in DEFAULT_ACCOUNTS:
            add_gl_account(scope, {"number": number, "displayName": display, "category": category})
        add_bank_account(
            scope, {"number": "CHECKING", "displayName": "Checking", "glAccountNumber": "10100"}
        )
        add_batch(scope, GENERAL, "DEFAULT", "Default general journal")
        add_batch(scope, CASHRCPT, "DEFAULT", "Default cash receipts", "Bank Account", "CHECKING")
    return company


def add_gl_account(scope: Scope, body: dict[str, Any]) -> GLAccount:
    """A G/L account (``number``, ``displayName``, ``category``, ``blocked``, ...)."""
    number = coerce(_CODE, body.get("number") or "")
    if not number:
        raise dialog('A "number" must be provided.')
    if scope.co.gl_account_by_number(number) is not None:
        raise duplicate_key("G/L Account", "No.", number)
    category = str(body.get("category") or " ")
    if category not in GL_CATEGORY:
        raise dialog(f"'{category}' is not a G/L account category.")
    now = scope.store.clock.now()
    account = GLAccount(
        id=new_guid(), seq=scope.store.next_seq(), created_at=now, last_modified=now
    )
    account.values = {
        "number": number,
        "displayName": str(body.get("displayName") or number),
        "category": category,
        "subCategory": str(body.get("subCategory") or ""),
        "blocked": bool(body.get("blocked", False)),
        "accountType": str(body.get("accountType") or "Posting"),
        "directPosting": bool(body.get("directPosting", True)),
    }
    scope.co.gl_accounts[account.id] = account
    scope.emit("accounts", account.id, "created")
    return account


def add_bank_account(scope: Scope, body: dict[str, Any]) -> BankAccount:
    """A bank account posting to G/L account ``glAccountNumber``, in ``currencyCode``.

    ``currencyCode`` blank or the LCY code means LCY (stored blank, as table 270 "Bank Account"
    keeps it); any other code must be a currency of the company ("Currency Code" has a table
    relation to Currency). Journal lines to or against the account take this currency.
    """
    number = coerce(_CODE, body.get("number") or "")
    if not number:
        raise dialog('A "number" must be provided.')
    if scope.co.bank_account_by_number(number) is not None:
        raise duplicate_key("Bank Account", "No.", number)
    gl_number = coerce(_CODE, body.get("glAccountNumber") or "")
    if scope.co.gl_account_by_number(gl_number) is None:
        raise dialog(f"The G/L account '{gl_number}' for bank account {number} does not exist.")
    currency = coerce(Field("currencyCode", T.CODE, max_length=10), body.get("currencyCode") or "")
    if currency == scope.co.lcy_code:
        currency = ""
    if currency and scope.co.currency_by_code(currency) is None:
        raise dialog(f"The currency '{currency}' for bank account {number} does not exist.")
    now = scope.store.clock.now()
    bank = BankAccount(
        id=new_guid(),
        seq=scope.store.next_seq(),
        created_at=now,
        last_modified=now,
        currency_code=currency,
        gl_account_number=gl_number,
    )
    bank.values = {
        "number": number,
        "displayName": str(body.get("displayName") or number),
        "bankAccountNumber": str(body.get("bankAccountNumber") or ""),
        "iban": str(body.get("iban") or ""),
        "blocked": bool(body.get("blocked", False)),
        "intercompanyEnabled": False,
    }
    scope.co.bank_accounts[bank.id] = bank
    return bank


def add_batch_from_json(scope: Scope, body: dict[str, Any]) -> Any:
    """A journal batch with optional balancing account (G/L or bank) and No. Series.

    A bank account as balancing account is what BC's UI allows and its API does not (table 232
    ``BalAccountId`` accepts G/L accounts only), so tests set such batches up here.
    """
    template = str(body.get("template") or GENERAL).upper()
    if template not in (GENERAL, CASHRCPT):
        raise dialog("template must be GENERAL or CASHRCPT.")
    series = body.get("noSeries")
    no_series = None
    if series:
        no_series = NoSeries(
            code=str(series.get("code") or "JNL"),
            prefix=str(series.get("prefix") or ""),
            next_number=int(series.get("next", 1)),
            width=int(series.get("width", 5)),
            manual_nos=bool(series.get("manualNos", False)),
        )
    bal_type = str(body.get("balancingAccountType") or "")
    bal_number = coerce(_CODE, body.get("balancingAccountNumber") or "")
    if bal_type and bal_type not in ("G/L Account", "Bank Account"):
        raise dialog("balancingAccountType must be 'G/L Account' or 'Bank Account'.")
    if bal_number:
        company = scope.co
        found = (
            company.bank_account_by_number(bal_number)
            if bal_type == "Bank Account"
            else company.gl_account_by_number(bal_number)
        )
        if found is None:
            raise missing_account(bal_type or "G/L Account", bal_number)
    return add_batch(
        scope,
        template,
        coerce(Field("code", T.CODE, max_length=10), body.get("code") or ""),
        str(body.get("displayName") or ""),
        bal_type if bal_number else "",
        bal_number,
        no_series,
    )


def _create_document(
    registry: Registry, scope: Scope, set_name: str, body: dict[str, Any]
) -> SalesDocument:
    """A draft of ``set_name`` from an API-shaped body plus ``lines`` (or the API's own key).

    The header and lines go through the entity set's ``create`` (the same validation as a POST
    with a deep insert); lines may carry ``taxPercent`` directly (an admin shortcut for a tax
    rate without a tax code).
    """
    documents = registry.company_sets[set_name]
    assert isinstance(documents, SalesDocumentsSet)
    lines_key = documents.lines.name
    lines = body.get("lines", body.get(lines_key, []))
    header = {k: v for k, v in body.items() if k not in ("lines", lines_key, "post")}
    percents = [line.pop("taxPercent", None) for line in lines]
    document: SalesDocument = documents.create(scope, {**header, lines_key: lines})
    for line, percent in zip(document.lines, percents, strict=True):
        if percent is not None:
            line.tax_percent = Decimal(str(percent))
    document.touch(scope.store.clock.now())
    return document


def create_invoice(registry: Registry, scope: Scope, body: dict[str, Any]) -> SalesInvoice:
    """A draft (or, with ``post``, posted) invoice from an API-shaped body plus ``lines``."""
    invoice = _create_document(registry, scope, "salesInvoices", body)
    assert isinstance(invoice, SalesInvoice)
    if body.get("post"):
        post_invoice(scope, invoice)
    return invoice


def create_credit_memo(registry: Registry, scope: Scope, body: dict[str, Any]) -> SalesCreditMemo:
    """A draft (or, with ``post``, posted) credit memo from an API-shaped body plus ``lines``.

    ``invoiceId`` / ``invoiceNumber`` are validated like the API's; posting applies the credit
    memo to that invoice as ``Microsoft.NAV.post`` does.
    """
    memo = _create_document(registry, scope, "salesCreditMemos", body)
    assert isinstance(memo, SalesCreditMemo)
    if body.get("post"):
        post_credit_memo(scope, memo)
    return memo


def bulk_invoices(registry: Registry, scope: Scope, body: dict[str, Any]) -> list[SalesInvoice]:
    """``count`` invoices with one line each, numbered external references, optionally posted."""
    count = int(body.get("count", 1))
    prefix = str(body.get("externalDocumentPrefix") or "BULK-")
    line: dict[str, Any] = {
        "lineType": body.get("lineType", "Account"),
        "lineObjectNumber": body.get("lineObjectNumber", scope.co.sales_account),
        "description": body.get("description", "Bulk line"),
        "quantity": body.get("quantity", 1),
        "unitPrice": body.get("unitPrice", 100),
    }
    if body.get("taxPercent") is not None:
        line["taxPercent"] = body["taxPercent"]
    header: dict[str, Any] = {
        k: body[k]
        for k in ("customerId", "customerNumber", "currencyCode", "invoiceDate", "dueDate")
        if k in body
    }
    created = []
    for index in range(1, count + 1):
        invoice_body: dict[str, Any] = {
            **header,
            "externalDocumentNumber": f"{prefix}{index}",
            "lines": [dict(line)],
            "post": bool(body.get("post", False)),
        }
        created.append(create_invoice(registry, scope, invoice_body))
    return created
