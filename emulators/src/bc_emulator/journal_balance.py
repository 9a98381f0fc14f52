"""The balance check of codeunit 13 "Gen. Jnl.-Post Batch" before anything is posted.

Source: microsoft/BCApps, ``src/Layers/W1/BaseApp/Finance/GeneralLedger/Posting/
GenJnlPostBatch.Codeunit.al``, ``ProcessBalanceOfLines``, ``CheckBalance`` and
``UpdateCurrencyBalanceForRecurringLine`` (which also runs for non-recurring lines):

* Lines are read by "Document No.", "Posting Date" (the templates force document balance) and a
  document ends when Posting Date, Document Type or Document No. changes.
* ``CurrentBalance`` sums each line's "Balance (LCY)" (table 81 ``UpdateLineBalance``: 0 for a
  line with account *and* balancing account, -"Amount (LCY)" for a balancing-only line, else
  "Amount (LCY)"). Non-zero -> Text012 + Text013: "Document No. <no> is out of balance by <x>.
  Please check that Posting Date, Document Type, Document No. and Amount are correct for each
  line."
* ``CurrencyBalance`` sums, while every line of the document has the same non-blank currency, the
  Amount of the lines that have only one side (negated for a balancing-only line). Non-zero ->
  Text026 + Text013 with the currency code after the amount.

BC does *not* absorb a rounding difference: each line's "Amount (LCY)" is rounded on its own (see
``line_currency``), so two lines of the same currency that cancel in that currency also cancel in
LCY (the conversion is symmetric), but three lines such as +0.05, +0.05, -0.10 EUR can leave 0.01 in
LCY and the posting stops with the LCY message above.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from bc_emulator.errors import BCError
from bc_emulator.errors import dialog
from bc_emulator.models import JournalLine

ZERO = Decimal(0)
_CHECK = (
    "Please check that Posting Date, Document Type, Document No. and Amount are correct for each "
    "line."
)


def al_format_decimal(value: Decimal) -> str:
    """AL ``Format`` of a Decimal in en-US: thousands separators, no trailing zeros."""
    text = format(value.normalize(), ",f")
    return "0" if text in ("-0", "0") else text


def balance_lcy(line: JournalLine) -> Decimal:
    """Table 81 ``UpdateLineBalance``: the line's "Balance (LCY)"."""
    if line.account_number and line.bal_account_number:
        return ZERO
    if line.bal_account_number:
        return -line.amount_lcy
    return line.amount_lcy


def _document_key(line: JournalLine) -> tuple[str, Any, str]:
    return (
        str(line.values.get("documentNumber", "")),
        line.values.get("postingDate"),
        line.document_type,
    )


def check_document_balance(lines: Iterable[JournalLine]) -> None:
    """Raise BC's error for the first document (by number, date) that does not balance."""
    documents: dict[tuple[str, Any, str], list[JournalLine]] = {}
    for line in lines:
        if line.amount:
            documents.setdefault(_document_key(line), []).append(line)
    for key in sorted(documents, key=lambda k: (k[0], str(k[1]), k[2])):
        error = _check(key[0], documents[key])
        if error is not None:
            raise error


def _check(document: str, lines: list[JournalLine]) -> BCError | None:
    current = sum((balance_lcy(x) for x in lines), ZERO)
    if current:
        return dialog(
            f"Document No. {document} is out of balance by {al_format_decimal(current)}. {_CHECK}"
        )
    currency = lines[0].currency_code
    currency_balance = ZERO
    for line in lines:
        if line.currency_code != currency:
            currency = ""
        elif line.currency_code and bool(line.account_number) != bool(line.bal_account_number):
            currency_balance += line.amount if line.account_number else -line.amount
    if currency and currency_balance:
        return dialog(
            f"Document No. {document} is out of balance by "
            f"{al_format_decimal(currency_balance)} {currency}. {_CHECK}"
        )
    return None
