"""Journal batches as ``journals`` (page 30016) and ``customerPaymentJournals`` (page 30013).

Both sets show Gen. Journal Batch rows: ``customerPaymentJournals`` only the default cash-receipts
template (``CASHRCPT``), ``journals`` the default general template (``GENERAL``) unless filtered
by ``templateDisplayName`` -- and any batch of any template when addressed by id, which is how
a cash-receipt batch is posted through ``journals({id})/Microsoft.NAV.post`` (bc-api.md §4.10).
``customerPaymentJournals`` has no bound actions (§4.8).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bc_emulator import schemas
from bc_emulator.edm import BLANK_GUID
from bc_emulator.edm import new_guid
from bc_emulator.entity_sets import EntitySet
from bc_emulator.entity_sets import Scope
from bc_emulator.errors import dialog
from bc_emulator.lookups import duplicate_key
from bc_emulator.models import Company
from bc_emulator.models import JournalBatch
from bc_emulator.models import NoSeries

GENERAL = "GENERAL"
CASHRCPT = "CASHRCPT"


def resolve_balancing(company: Company, account_id: str) -> tuple[str, str]:
    """(type, number) of a balancing account given by id: a G/L or a bank account."""
    if account_id == BLANK_GUID:
        return "", ""
    gl_account = company.gl_accounts.get(account_id)
    if gl_account is not None:
        return "G/L Account", str(gl_account.values["number"])
    bank = company.bank_accounts.get(account_id)
    if bank is not None:
        return "Bank Account", str(bank.values["number"])
    raise dialog('The "balancingAccountId" does not match to a G/L Account or Bank Account.')


def balancing_id(company: Company, kind: str, number: str) -> str:
    """Id of a batch's balancing account (blank GUID when none)."""
    if kind == "G/L Account":
        account = company.gl_account_by_number(number)
        return account.id if account else BLANK_GUID
    if kind == "Bank Account":
        bank = company.bank_account_by_number(number)
        return bank.id if bank else BLANK_GUID
    return BLANK_GUID


def add_batch(
    scope: Scope,
    template: str,
    code: str,
    display_name: str = "",
    bal_type: str = "",
    bal_number: str = "",
    no_series: NoSeries | None = None,
) -> JournalBatch:
    """Insert a journal batch (API POST and admin seeding)."""
    company = scope.co
    if not code:
        raise dialog('A "code" must be provided.')
    if any(b.template == template and b.values["code"] == code for b in company.batches.values()):
        raise duplicate_key("Gen. Journal Batch", "Name", code)
    now = scope.store.clock.now()
    batch = JournalBatch(
        id=new_guid(),
        seq=scope.store.next_seq(),
        created_at=now,
        last_modified=now,
        template=template,
        bal_account_type=bal_type,
        bal_account_number=bal_number,
        no_series=no_series,
    )
    batch.values = {"code": code, "displayName": display_name}
    company.batches[batch.id] = batch
    emit_batch(scope, batch, "created")
    return batch


def emit_batch(scope: Scope, batch: JournalBatch, change: str) -> None:
    """Batches notify on ``journals`` and, for cash receipts, ``customerPaymentJournals``."""
    scope.emit("journals", batch.id, change)
    if batch.template == CASHRCPT:
        scope.emit("customerPaymentJournals", batch.id, change)


class BatchSet(EntitySet):
    """Common behaviour of the two batch sets."""

    template = GENERAL
    methods = frozenset({"GET", "POST", "PATCH", "DELETE"})

    def __init__(self) -> None:
        super().__init__()
        self.computed = {
            "templateDisplayName": lambda s, r: r.template,
            "balancingAccountNumber": lambda s, r: r.bal_account_number,
            "balancingAccountId": lambda s, r: balancing_id(
                s.co, r.bal_account_type, r.bal_account_number
            ),
        }

    def rows(self, scope: Scope) -> Iterable[JournalBatch]:
        """Batches of this set's template."""
        template = self.template_for(scope)
        return [b for b in scope.co.batches.values() if b.template == template]

    def template_for(self, scope: Scope) -> str:
        """The template the collection shows."""
        return self.template

    def find(self, scope: Scope, key: str) -> JournalBatch | None:
        """Look up by id within the template."""
        batch = scope.co.batches.get(key)
        return batch if batch is not None and batch.template == self.template else None

    def create(self, scope: Scope, body: dict[str, Any]) -> JournalBatch:
        """POST a batch."""
        parsed = self.parse_body(scope, body)
        bal_type, bal_number = resolve_balancing(
            scope.co, parsed.get("balancingAccountId", BLANK_GUID)
        )
        return add_batch(
            scope,
            self.template,
            parsed.get("code", ""),
            parsed.get("displayName", ""),
            bal_type,
            bal_number,
        )

    def update(self, scope: Scope, rec: Any, body: dict[str, Any]) -> None:
        """PATCH description, code or balancing account."""
        batch: JournalBatch = rec
        parsed = self.parse_body(scope, body, batch)
        if "balancingAccountId" in parsed:
            batch.bal_account_type, batch.bal_account_number = resolve_balancing(
                scope.co, parsed["balancingAccountId"]
            )
        if "code" in parsed and parsed["code"] != batch.values["code"]:
            if not parsed["code"]:
                raise dialog('A "code" must be provided.')
            batch.values["code"] = parsed["code"]
        if "displayName" in parsed:
            batch.values["displayName"] = parsed["displayName"]
        batch.touch(scope.store.clock.now())
        emit_batch(scope, batch, "updated")

    def delete(self, scope: Scope, rec: Any) -> None:
        """DELETE a batch and its unposted lines."""
        batch: JournalBatch = rec
        company = scope.co
        for line_id in [k for k, v in company.journal_lines.items() if v.batch_id == batch.id]:
            del company.journal_lines[line_id]
        del company.batches[batch.id]
        emit_batch(scope, batch, "deleted")


class CustomerPaymentJournalsSet(BatchSet):
    """``customerPaymentJournals``: cash-receipt batches; no bound actions."""

    name = "customerPaymentJournals"
    entity_type = "customerPaymentJournal"
    caption = "Gen. Journal Batch"
    fields = schemas.CUSTOMER_PAYMENT_JOURNAL
    template = CASHRCPT


class JournalsSet(BatchSet):
    """``journals``: general batches; any batch by id; ``templateDisplayName`` filter."""

    name = "journals"
    entity_type = "journal"
    caption = "Gen. Journal Batch"
    fields = schemas.JOURNAL
    template = GENERAL

    def template_for(self, scope: Scope) -> str:
        """``$filter=templateDisplayName eq 'X'`` selects the template (bc-api.md §6.1)."""
        return str(scope.constraints.get("templateDisplayName") or self.template).upper()

    def rows(self, scope: Scope) -> Iterable[JournalBatch]:
        """An ``id eq`` filter finds a batch of any template."""
        key = scope.constraints.get("id")
        if key is not None:
            batch = scope.co.batches.get(str(key))
            return [batch] if batch else []
        return super().rows(scope)

    def find(self, scope: Scope, key: str) -> JournalBatch | None:
        """``GetBySystemId``: any template."""
        return scope.co.batches.get(key)
