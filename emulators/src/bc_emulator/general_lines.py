"""``journalLines`` (page 30049, bc-api.md §4.11): G/L and bank lines of any batch.

The page forces Document Type blank and only takes Account Type ``G/L Account`` or
``Bank Account`` (JSON ``G_x002F_L_x0020_Account`` / ``Bank_x0020_Account``); customer lines
belong to ``customerPayments``. A positive ``amount`` debits the account and credits the
balancing account, which comes from the batch unless ``balanceAccountType`` /
``balancingAccountNumber`` / ``balancingAccountId`` override it. This is how payouts (fees,
transfers to the bank) are booked.
"""

from __future__ import annotations

from typing import Any

from bc_emulator import schemas
from bc_emulator.edm import BLANK_GUID
from bc_emulator.entity_sets import Scope
from bc_emulator.entity_sets import assign_plain
from bc_emulator.errors import dialog
from bc_emulator.journal_batches import balancing_id
from bc_emulator.journal_lines import JournalLineSet
from bc_emulator.journal_lines import new_line
from bc_emulator.journal_lines import rename_line
from bc_emulator.journal_lines import set_document_number
from bc_emulator.ledger import missing_account
from bc_emulator.models import Company
from bc_emulator.models import JournalLine

_KINDS = ("G/L Account", "Bank Account")
_PLAIN = ("postingDate", "externalDocumentNumber", "description", "comment", "taxCode")


def _account_id(company: Company, kind: str, number: str) -> str:
    return balancing_id(company, kind, number) if number else BLANK_GUID


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
        """POST a general journal line."""
        parsed = self.parse_body(scope, body)
        batch = self.batch_for_insert(scope, parsed)
        kind = parsed.get("accountType", "G/L Account")
        line = new_line(scope, batch, parsed, kind)
        self._apply(scope, line, parsed)
        scope.co.journal_lines[line.id] = line
        return line

    def update(self, scope: Scope, rec: Any, body: dict[str, Any]) -> None:
        """PATCH a general journal line."""
        line: JournalLine = rec
        parsed = self.parse_body(scope, body, line)
        self.check_journal_unchanged(line, parsed)
        rename_line(scope, line, parsed)
        set_document_number(line, parsed)
        self._apply(scope, line, parsed)
        line.touch(scope.store.clock.now())

    def _apply(self, scope: Scope, line: JournalLine, parsed: dict[str, Any]) -> None:
        company = scope.co
        kind = parsed.get("accountType", line.account_type)
        if {"accountType", "accountId", "accountNumber"} & set(parsed):
            number = parsed.get("accountNumber")
            account_id = parsed.get("accountId")
            if number is None and account_id is None and kind == line.account_type:
                number = line.account_number
            line.account_id, line.account_number = resolve_account(
                company, kind, account_id, number
            )
            line.account_type = kind
        if {"balanceAccountType", "balancingAccountId", "balancingAccountNumber"} & set(parsed):
            bal_kind = parsed.get("balanceAccountType", line.bal_account_type or "G/L Account")
            _, line.bal_account_number = resolve_account(
                company,
                bal_kind,
                parsed.get("balancingAccountId"),
                parsed.get("balancingAccountNumber"),
            )
            line.bal_account_type = bal_kind if line.bal_account_number else ""
        if "amount" in parsed:
            line.amount = parsed["amount"]
        if "documentNumber" in parsed:
            line.values["documentNumber"] = parsed["documentNumber"]
        assign_plain(line, parsed, _PLAIN)
