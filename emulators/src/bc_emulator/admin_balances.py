"""Admin API, balance reads the standard API lacks: ``/_emulator/companies/{id}/bankAccounts/...``.

API v2.0's ``bankAccounts`` page (APIV2BankAccounts.Page.al) has no balance field, yet tests and
operators need to see what a Stripe clearing bank account holds in its own currency. BC keeps it
as the flow fields "Balance" (sum of the bank ledger entries' Amount, in the bank's currency) and
"Balance (LCY)" (sum of "Amount (LCY)") of table 270 "Bank Account"; this read returns the same
sums. G/L balances need no admin call: ``generalLedgerEntries`` carries LCY debit/credit amounts.
"""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint
from flask import Response

from bc_emulator.admin_common import PREFIX
from bc_emulator.admin_common import check_admin
from bc_emulator.admin_common import company_scope
from bc_emulator.errors import BCError
from bc_emulator.http_utils import json_response
from bc_emulator.state import current_emulator

bp = Blueprint("admin_balances", __name__, url_prefix=PREFIX)
bp.before_request(check_admin)


@bp.get("/companies/<company_id>/bankAccounts/<number>/balance")
def bank_account_balance(company_id: str, number: str) -> Response:
    """Balance of a bank account in its currency (``balance``) and in LCY (``balanceLcy``).

    ``number`` is a Code: matched upper-cased. ``currencyCode`` reads the LCY code for an LCY
    account, as ``bankAccounts.currencyCode`` does.
    """
    emu = current_emulator()
    code = number.strip().upper()
    with emu.store.lock:
        company = company_scope(emu, company_id).co
        bank = company.bank_account_by_number(code)
        if bank is None:
            raise BCError(
                404,
                "Internal_RecordNotFound",
                f"The Bank Account does not exist. Identification fields and values: No.='{code}'",
            )
        entries = [e for e in company.bank_entries if e.bank_account_number == code]
        result = {
            "number": code,
            "currencyCode": bank.currency_code or company.lcy_code,
            "balance": sum((e.amount for e in entries), Decimal(0)),
            "balanceLcy": sum((e.amount_lcy for e in entries), Decimal(0)),
        }
    return json_response(result)
