"""``journalLines`` (page 30049, bc-api.md §4.11): G/L and bank lines of any batch.

The page forces Document Type blank and only takes Account Type ``G/L Account`` or
``Bank Account`` (JSON ``G_x002F_L_x0020_Account`` / ``Bank_x0020_Account``); customer lines
belong to ``customerPayments``. A positive ``amount`` debits the account and credits the
balancing account. This is how payouts (fees, transfers to the bank) are booked.

An insert follows codeunit 5478 "Graph Mgt - Journal Lines" ``SetJournalLineValues``
(microsoft/BCApps, ``src/Layers/W1/BaseApp/Integration/Graph/GraphMgtJournalLines.Codeunit.al``):
``Validate("Account No.")``, ``Validate(Amount)``, ``Validate("Bal. Account No.", '')``, the
batch's "Bal. Account Type"/"Bal. Account No." validated again, and then -- only if the body's
"Bal. Account Type" differs from the line's -- ``Validate("Bal. Account Type", <body's>)``, and
``Validate("Bal. Account No.", <body's>)`` when the body names one. A body without
``balanceAccountType`` carries the field's initial value, ``G/L Account``: in a batch balanced by a
bank account such a line *loses* the batch's balancing account (the type validation blanks the
number) but keeps the bank's currency, so send ``"balanceAccountType": "Bank_x0020_Account"`` to
keep it. The currency comes from the accounts (``line_currency``): a line to or against a bank
account in EUR is a EUR line and ``amount`` is in EUR.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bc_emulator import schemas
from bc_emulator.edm import BLANK_GUID
from bc_emulator.entity_sets import Scope
from bc_emulator.entity_sets import assign_plain
from bc_emulator.errors import dialog
from bc_emulator.journal_lines import JournalLineSet
from bc_emulator.journal_lines import new_line
from bc_emulator.journal_lines import rename_line
from bc_emulator.journal_lines import set_document_number
from bc_emulator.ledger import missing_account
from bc_emulator.line_currency import GL
from bc_emulator.line_currency import validate_account_no
from bc_emulator.line_currency import validate_amount
from bc_emulator.line_currency import validate_bal_account_no
from bc_emulator.line_currency import validate_bal_account_type
from bc_emulator.models import Company
from bc_emulator.models import JournalBatch
from bc_emulator.models import JournalLine

_KINDS = ("G/L Account", "Bank Account")
_PLAIN = ("postingDate", "externalDocumentNumber", "description", "comment", "taxCode")


def _account_id(company: Company, kind: str, number: str) -> str:
    """SystemId of the G/L or bank account a line names (blank GUID when none)."""
    if not number:
        return BLANK_GUID
    if kind == "Bank Account":
        bank = company.bank_account_by_number(number)
        return bank.id if bank else BLANK_GUID
    account = company.gl_account_by_number(number)
    return account.id if account else BLANK_GUID


def resolve_account(
    company: Company, kind: str, account_id: str | None, number: str | None
) -> tuple[str, str]:
    """(id, number) of a G/L or bank account given by id and/or number."""
    if kind not in _KINDS:
        raise dialog(
            "The account type must be G_x002F_L_x0020_Account or Bank_x0020_Account for "
            "journal lines."
        )
    by_id_number = None
    if account_id not in (None, BLANK_GUID):
        source = company.gl_accounts if kind == "G/L Account" else company.bank_accounts
        record = source.get(str(account_id))
        if record is None:
            raise dialog(f'The "accountId" does not match to a {kind}.')
        by_id_number = str(record.values["number"])
    if number:
        if by_id_number is not None and by_id_number != number:
            raise dialog("The account values do not match to a specific Account.")
        found = (
            company.gl_account_by_number(number)
            if kind == "G/L Account"
            else company.bank_account_by_number(number)
        )
        if found is None:
            raise missing_account(kind, number)
        return found.id, number
    if by_id_number is not None:
        return str(account_id), by_id_number
    return BLANK_GUID, ""


class JournalLinesSet(JournalLineSet):
    """General journal lines (G/L and bank accounts only)."""

    name = "journalLines"
    entity_type = "journalLine"
    caption = "Gen. Journal Line"
    fields = schemas.JOURNAL_LINE

    def __init__(self) -> None:
        super().__init__()
        self.computed = {
            "journalId": lambda s, r: r.batch_id,
            "journalDisplayName": lambda s, r: s.co.batches[r.batch_id].values["code"],
            "accountType": lambda s, r: r.account_type,
            "accountId": lambda s, r: r.account_id,
            "accountNumber": lambda s, r: r.account_number,
            "amount": lambda s, r: r.amount,
            "balanceAccountType": lambda s, r: r.bal_account_type or "G/L Account",
            "balancingAccountNumber": lambda s, r: r.bal_account_number,
            "balancingAccountId": lambda s, r: _account_id(
                s.co, r.bal_account_type, r.bal_account_number
            ),
        }

    def belongs(self, line: JournalLine) -> bool:
        """Blank document type, G/L or bank account."""
        return line.account_type in _KINDS and line.document_type == " "

    def create(self, scope: Scope, body: dict[str, Any]) -> JournalLine:
        """POST a general journal line (``SetJournalLineValues``)."""
        parsed = self.parse_body(scope, body)
        batch = self.batch_for_insert(scope, parsed)
        company = scope.co
        kind = parsed.get("accountType", GL)
        account_id, number = resolve_account(
            company, kind, parsed.get("accountId"), parsed.get("accountNumber")
        )
        bal_kind = parsed.get("balanceAccountType", GL)
        _, bal_number = resolve_account(
            company,
            bal_kind,
            parsed.get("balancingAccountId"),
            parsed.get("balancingAccountNumber"),
        )
        line = new_line(scope, batch, parsed, kind)
        line.account_id = account_id
        validate_account_no(company, line, number)
        self._plain(line, parsed)
        validate_amount(company, line, parsed.get("amount", Decimal(0)))
        _balance_like_the_batch(scope, line, batch)
        if bal_kind != (line.bal_account_type or GL):
            validate_bal_account_type(company, line, bal_kind)
        if bal_number and bal_number != line.bal_account_number:
            validate_bal_account_no(company, line, bal_number)
        company.journal_lines[line.id] = line
        return line

    def update(self, scope: Scope, rec: Any, body: dict[str, Any]) -> None:
        """PATCH a general journal line: the fields validate in page order."""
        line: JournalLine = rec
        parsed = self.parse_body(scope, body, line)
        self.check_journal_unchanged(line, parsed)
        rename_line(scope, line, parsed)
        set_document_number(line, parsed)
        company = scope.co
        if {"accountType", "accountId", "accountNumber"} & set(parsed):
            kind = parsed.get("accountType", line.account_type)
            number = parsed.get("accountNumber")
            account_id = parsed.get("accountId")
            if number is None and account_id is None and kind == line.account_type:
                number = line.account_number
            line.account_id, number = resolve_account(company, kind, account_id, number)
            line.account_type = kind
            validate_account_no(company, line, number)
        self._plain(line, parsed)
        if "amount" in parsed:
            validate_amount(company, line, parsed["amount"])
        if "balanceAccountType" in parsed:
            validate_bal_account_type(company, line, parsed["balanceAccountType"])
        if {"balancingAccountId", "balancingAccountNumber"} & set(parsed):
            _, bal_number = resolve_account(
                company,
                line.bal_account_type or GL,
                parsed.get("balancingAccountId"),
                parsed.get("balancingAccountNumber"),
            )
            validate_bal_account_no(company, line, bal_number)
        line.touch(scope.store.clock.now())

    def _plain(self, line: JournalLine, parsed: dict[str, Any]) -> None:
        if "documentNumber" in parsed:
            line.values["documentNumber"] = parsed["documentNumber"]
        assign_plain(line, parsed, _PLAIN)


def _balance_like_the_batch(scope: Scope, line: JournalLine, batch: JournalBatch) -> None:
    """``Validate("Bal. Account No.", '')``, then the batch's balancing account validated again."""
    company = scope.co
    validate_bal_account_no(company, line, "")
    validate_bal_account_type(company, line, batch.bal_account_type or GL)
    validate_bal_account_no(company, line, batch.bal_account_number)
