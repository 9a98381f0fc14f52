"""Journal batches as ``journals`` (page 30016) and ``customerPaymentJournals`` (page 30013).

Both sets show Gen. Journal Batch rows: ``customerPaymentJournals`` only the default cash-receipts
template (``CASHRCPT``), ``journals`` the default general template (``GENERAL``) unless filtered
by ``templateDisplayName`` -- and any batch of any template when addressed by id, which is how
a cash-receipt batch is posted through ``journals({id})/Microsoft.NAV.post`` (bc-api.md §4.10).
``customerPaymentJournals`` has no bound actions (§4.8).

``balancingAccountId`` is table 232 "Gen. Journal Batch" field ``BalAccountId`` (microsoft/BCApps,
``src/Layers/W1/BaseApp/Finance/GeneralLedger/Journal/GenJournalBatch.Table.al``). Its
``OnValidate`` accepts only a G/L account (``GLAccount.GetBySystemId``, else the locked error
'The "balancingAccountNumber" does not match to a G/L Account.'), then validates "Bal. Account
Type" := G/L Account and "Bal. Account No." (``CheckGLAcc``: not blocked, direct posting); a blank
GUID clears the balancing account. ``UpdateBalAccountId`` fills the id only for G/L accounts and
validating "Bal. Account Type" clears it, so a batch balanced by a *bank* account -- which can only
be set up in BC itself (here: the admin seed) -- reads a blank ``balancingAccountId`` and the bank's
number in ``balancingAccountNumber``. The API cannot make a bank account the balancing account.
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
from bc_emulator.line_currency import test_field_error
from bc_emulator.lookups import duplicate_key
from bc_emulator.models import Company
from bc_emulator.models import JournalBatch
from bc_emulator.models import NoSeries

GENERAL = "GENERAL"
CASHRCPT = "CASHRCPT"


def resolve_balancing(company: Company, account_id: str) -> tuple[str, str]:
    """(type, number) for ``balancingAccountId``: table 232 ``BalAccountId`` ``OnValidate``."""
    if account_id == BLANK_GUID:
        return "", ""
    gl_account = company.gl_accounts.get(account_id)
    if gl_account is None:
        raise dialog('The "balancingAccountNumber" does not match to a G/L Account.')
    number = str(gl_account.values["number"])
    check_gl_account(number, gl_account.values)
    return "G/L Account", number


def check_gl_account(number: str, values: dict[str, Any]) -> None:
    """Table 232 ``CheckGLAcc``: ``GLAcc.CheckGLAcc()``, ``TestField("Direct Posting", true)``."""
    ident = f"No.={number}"
    account_type = str(values.get("accountType") or "Posting")
    if account_type != "Posting":
        raise test_field_error("Account Type", "Posting", "G/L Account", ident, account_type)
    if values.get("blocked"):
        raise test_field_error("Blocked", "No", "G/L Account", ident, "Yes")
    if not values.get("directPosting", True):
        raise test_field_error("Direct Posting", "Yes", "G/L Account", ident, "No")


def balancing_id(company: Company, kind: str, number: str) -> str:
    """``BalAccountId`` of a batch: the G/L account's id, blank for a bank account or none."""
    if kind == "G/L Account" and number:
        account = company.gl_account_by_number(number)
        return account.id if account else BLANK_GUID
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
