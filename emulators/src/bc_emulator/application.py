"""Applying one customer ledger entry to another: the currency rule and the applied amounts.

A payment applied to an invoice (journal posting) and a credit memo applied to an invoice
(credit memo posting) go through the same code in BC: codeunit 12 "Gen. Jnl.-Post Line"
``ApplyCustLedgEntry`` -> ``PrepareTempCustLedgEntry`` -> ``PostApply`` (microsoft/BCApps,
``src/Layers/W1/BaseApp/Finance/GeneralLedger/Posting/GenJnlPostLine.Codeunit.al``), so the
emulator keeps the rule in one place:

* ``GenJnlApply.CheckAgainstApplnCurrency`` (codeunit 225 "Gen. Jnl.-Apply") refuses entries in
  different currencies unless Sales & Receivables Setup "Appln. between Currencies" is All
  ("All entries in one application must be in the same currency."). The emulator treats EMU
  like None.
* The applied amount is capped at what is open on the entry applied to; whatever the applying
  entry offers beyond that stays open on the applying entry. Between currencies the offered
  amount is converted through LCY at the currencies' exchange rates.
"""

from __future__ import annotations

from decimal import Decimal

from bc_emulator.amounts import decimals_for
from bc_emulator.amounts import exchange_rate
from bc_emulator.amounts import round_to
from bc_emulator.errors import dialog
from bc_emulator.models import Company


def check_application_currency(company: Company, applying: str, applied_to: str) -> None:
    """Raise BC's message when the two currencies may not be applied to each other."""
    if applying == applied_to or company.appln_between_currencies == "All":
        return
    raise dialog("All entries in one application must be in the same currency.")


def applied_amounts(
    company: Company,
    offered: Decimal,
    offered_currency: str,
    open_amount: Decimal,
    open_currency: str,
) -> tuple[Decimal, Decimal]:
    """How much of ``open_amount`` is closed, and how much of ``offered`` that uses.

    ``offered`` (positive, in ``offered_currency``) is what the applying entry brings;
    ``open_amount`` (positive, in ``open_currency``) what remains on the entry applied to. Returns
    (applied to the open entry in its currency, used of the offered amount in its currency).
    Call :func:`check_application_currency` first.
    """
    if offered_currency == open_currency:
        applied = min(offered, open_amount)
        return applied, applied
    offered_lcy = offered * exchange_rate(company, offered_currency)
    open_rate = exchange_rate(company, open_currency)
    applied = min(
        open_amount, round_to(offered_lcy / open_rate, decimals_for(company, open_currency))
    )
    if applied < open_amount:
        return applied, offered
    back = applied * open_rate / exchange_rate(company, offered_currency)
    return applied, min(offered, round_to(back, decimals_for(company, offered_currency)))
