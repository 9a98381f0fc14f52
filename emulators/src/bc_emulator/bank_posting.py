"""Bank account ledger entries as codeunit 12 "Gen. Jnl.-Post Line" ``PostBankAcc`` writes them.

Source: microsoft/BCApps, ``src/Layers/W1/BaseApp/Finance/GeneralLedger/Posting/
GenJnlPostLine.Codeunit.al``, ``PostBankAcc`` (the balancing side is posted the same way with the
line's amounts negated):

* A line in LCY needs a bank in LCY: ``BankAcc.TestField("Currency Code", '')``; a line in a
  currency posted to a bank *with* a currency needs the same one:
  ``GenJnlLine.TestField("Currency Code", BankAcc."Currency Code")``. A line in a currency may post
  to a bank in LCY.
* The entry's "Currency Code" is the bank's; its Amount is the line Amount for a bank in a currency
  and the line's "Amount (LCY)" for a bank in LCY; "Amount (LCY)" is always the line's.
* The bank's G/L account (posting group) gets "Amount (LCY)" like every G/L entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bc_emulator.line_currency import test_field_error
from bc_emulator.models import BankAccount
from bc_emulator.models import JournalBatch
from bc_emulator.models import JournalLine


@dataclass(frozen=True)
class BankPosting:
    """One bank ledger entry to write."""

    bank_account_number: str
    currency_code: str
    amount: Decimal
    amount_lcy: Decimal


def line_ident(batch: JournalBatch, line: JournalLine) -> str:
    """How a ``TestField`` on a Gen. Journal Line names the record."""
    return (
        f"Journal Template Name={batch.template}, Journal Batch Name={batch.values['code']}, "
        f"Line No.={line.values['lineNumber']}"
    )


def bank_posting(
    batch: JournalBatch, line: JournalLine, bank: BankAccount, sign: int
) -> BankPosting:
    """Check the currencies and build the entry for ``bank`` (``sign`` -1 on the balancing side)."""
    number = str(bank.values["number"])
    if not line.currency_code:
        if bank.currency_code:
            raise test_field_error(
                "Currency Code", "", "Bank Account", f"No.={number}", bank.currency_code
            )
    elif bank.currency_code and line.currency_code != bank.currency_code:
        raise test_field_error(
            "Currency Code",
            bank.currency_code,
            "Gen. Journal Line",
            line_ident(batch, line),
            line.currency_code,
        )
    amount = line.amount if bank.currency_code else line.amount_lcy
    return BankPosting(number, bank.currency_code, sign * amount, sign * line.amount_lcy)
