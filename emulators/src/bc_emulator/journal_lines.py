"""Common handling of Gen. Journal Lines for ``customerPayments`` and ``journalLines``.

Both pages sit on the same table and share the rules of bc-api.md §4.9/§4.11: the batch comes
from the route or from ``journalId`` in the body (a top-level read must filter by ``journalId``
or ``id``), ``lineNumber`` defaults to the last line + 10000, the document number comes from the
batch's No. Series (or the previous line) when omitted, the balancing account is copied from
the batch, and the journal of a line can never change.

A new line starts the way ``LibraryAPIGeneralJournal.InitializeLine`` -> table 81 ``SetUpNewLine``
starts it: "Bal. Account Type" from the batch and ``Validate("Bal. Account No.", <batch's>)``,
which already gives the line the currency of a balancing bank account (``line_currency``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bc_emulator.edm import BLANK_GUID
from bc_emulator.edm import new_guid
from bc_emulator.entity_sets import EntitySet
from bc_emulator.entity_sets import Scope
from bc_emulator.errors import dialog
from bc_emulator.jsonio import BLANK_DATE
from bc_emulator.line_currency import validate_bal_account_no
from bc_emulator.lookups import duplicate_key
from bc_emulator.models import JournalBatch
from bc_emulator.models import JournalLine

NEED_JOURNAL = "You must specify a journal batch ID or a journal ID to get a journal line."


def batch_lines(scope: Scope, batch_id: str) -> list[JournalLine]:
    """Unposted lines of a batch by line number."""
    lines = [x for x in scope.co.journal_lines.values() if x.batch_id == batch_id]
    return sorted(lines, key=lambda x: int(x.values["lineNumber"]))


class JournalLineSet(EntitySet):
    """Base set over Gen. Journal Line rows of one kind."""

    methods = frozenset({"GET", "POST", "PATCH", "DELETE"})

    def belongs(self, line: JournalLine) -> bool:
        """Whether the page's filters include ``line``."""
        raise NotImplementedError

    def check_collection(self, scope: Scope) -> None:
        """Top-level reads must be filtered by journal or id (``CheckFilters``)."""
        if scope.parent is None and not {"journalId", "id"} & set(scope.constraints):
            raise dialog(NEED_JOURNAL)

    def rows(self, scope: Scope) -> Iterable[JournalLine]:
        """Lines of the parent batch, or of the filtered journal."""
        if isinstance(scope.parent, JournalBatch):
            lines: Iterable[JournalLine] = batch_lines(scope, scope.parent.id)
        elif "journalId" in scope.constraints:
            lines = batch_lines(scope, str(scope.constraints["journalId"]))
        else:
            lines = scope.co.journal_lines.values()
        return [x for x in lines if self.belongs(x)]

    def find(self, scope: Scope, key: str) -> JournalLine | None:
        """Look up by id (within the parent batch if there is one)."""
        line = scope.co.journal_lines.get(key)
        if line is None or not self.belongs(line):
            return None
        if isinstance(scope.parent, JournalBatch) and line.batch_id != scope.parent.id:
            return None
        return line

    def batch_for_insert(self, scope: Scope, parsed: dict[str, Any]) -> JournalBatch:
        """The batch a new line goes to; route and body must agree."""
        journal_id = parsed.get("journalId")
        batch: JournalBatch | None = (
            scope.parent if isinstance(scope.parent, JournalBatch) else None
        )
        if batch is not None and journal_id not in (None, batch.id):
            raise dialog("The Journal Id and Journal Display Name do not match.")
        if batch is None:
            if journal_id in (None, BLANK_GUID):
                raise dialog(NEED_JOURNAL)
            batch = scope.co.batches.get(str(journal_id))
            if batch is None:
                raise dialog(f"The General Journal Batch with ID {journal_id} cannot be found.")
        name = parsed.get("journalDisplayName")
        if name not in (None, "", batch.values["code"]):
            raise dialog("The Journal Id and Journal Display Name do not match.")
        return batch

    def check_journal_unchanged(self, line: JournalLine, parsed: dict[str, Any]) -> None:
        """A line's journal can never change."""
        if parsed.get("journalId", line.batch_id) != line.batch_id:
            raise dialog("You cannot change the journal of a journal line.")

    def delete(self, scope: Scope, rec: Any) -> None:
        """DELETE an unposted line."""
        del scope.co.journal_lines[rec.id]


def new_line(
    scope: Scope, batch: JournalBatch, parsed: dict[str, Any], account_type: str
) -> JournalLine:
    """A new line with the defaults BC fills in; not yet registered."""
    existing = batch_lines(scope, batch.id)
    number = parsed.get("lineNumber") or 0
    if number == 0:
        number = (int(existing[-1].values["lineNumber"]) if existing else 0) + 10000
    elif any(int(x.values["lineNumber"]) == number for x in existing):
        raise duplicate_key("Gen. Journal Line", "Line No.", str(number))
    now = scope.store.clock.now()
    line = JournalLine(
        id=new_guid(),
        seq=scope.store.next_seq(),
        created_at=now,
        last_modified=now,
        batch_id=batch.id,
        account_type=account_type,
        bal_account_type=batch.bal_account_type,
    )
    validate_bal_account_no(scope.co, line, batch.bal_account_number)
    previous = existing[-1] if existing else None
    posting_date = parsed.get("postingDate")
    if posting_date in (None, BLANK_DATE):
        posting_date = previous.values["postingDate"] if previous else scope.store.clock.today()
    document_number = parsed.get("documentNumber") or ""
    line.doc_no_manual = bool(document_number)
    if not document_number:
        if batch.no_series is not None:
            document_number = batch.no_series.take()
        elif previous is not None:
            document_number = previous.values["documentNumber"]
    line.values = {
        "lineNumber": number,
        "postingDate": posting_date,
        "documentNumber": document_number,
    }
    return line


def rename_line(scope: Scope, line: JournalLine, parsed: dict[str, Any]) -> None:
    """Changing ``lineNumber`` renames the line (the new number must be free)."""
    number = parsed.get("lineNumber")
    if number is None or number == line.values["lineNumber"]:
        return
    if any(int(x.values["lineNumber"]) == number for x in batch_lines(scope, line.batch_id)):
        raise duplicate_key("Gen. Journal Line", "Line No.", str(number))
    line.values["lineNumber"] = number


def set_document_number(line: JournalLine, parsed: dict[str, Any]) -> None:
    """A document number set by the client is a manual number (checked at posting)."""
    number = parsed.get("documentNumber")
    if number is not None and number != line.values.get("documentNumber"):
        line.values["documentNumber"] = number
        line.doc_no_manual = True
