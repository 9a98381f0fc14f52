"""BC's local-currency value of foreign-currency amounts, computed as BC computes it.

The reconciler needs it for payments Stripe converted into the settlement currency: the payout
books the difference between BC's value of the payment and what Stripe settled
(docs/accounting.md, FX). A journal line's "Amount (LCY)" in BC is
``Round(CurrExchRate.ExchangeAmtFCYToLCY(PostingDate, CurrencyCode, Amount, CurrencyFactor))``
(table 81 "Gen. Journal Line"), where the currency factor is
``CurrExchRate.ExchangeRate(PostingDate, CurrencyCode)`` = "Exchange Rate Amount" /
"Relational Exch. Rate Amount" of the newest rate starting on or before the date, and for a
rate without a relational currency ``ExchangeAmtFCYToLCY`` returns ``Amount / Factor``
(table 330 "Currency Exchange Rate", BaseApp ``Finance/Currency/CurrencyExchangeRate.Table.al``).
``Round`` uses the LCY's amount rounding precision, 0.01 by default, half away from zero.
The rates come from the standard API page ``currencyExchangeRates`` (page 30085, bc-api.md
§4.12). A rate quoted through a relational currency is refused rather than approximated.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP
from decimal import Decimal
from typing import Any

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.adapters.odata import odata_string
from bc_gateway.rejections import Rejected

# BC stores the currency factor as a Decimal: keep its digits, BC rounds the result only.
_CENT = Decimal("0.01")


def rate_on(bc: BCClient, currency: str, day: dt.date) -> dict[str, Any]:
    """The newest exchange rate of ``currency`` starting on or before ``day``."""
    found = (
        bc.get(
            bc.company_path("currencyExchangeRates"),
            {
                "$filter": f"currencyCode eq {odata_string(currency.upper())} "
                f"and startingDate le {day.isoformat()}",
                "$orderby": "startingDate desc",
                "$top": "1",
            },
        ).get("value")
        or []
    )
    if not found:
        raise Rejected(
            "not_found",
            f"BC has no exchange rate for {currency.upper()} starting on or before {day}",
            status=404,
        )
    rate: dict[str, Any] = found[0]
    if str(rate.get("relationalCurrencyCode") or ""):
        raise Rejected(
            "validation_failed",
            f"BC quotes {currency.upper()} through {rate['relationalCurrencyCode']}: the "
            "connector converts only rates quoted against the local currency",
            field="currency",
        )
    return rate


def lcy_amounts(
    bc: BCClient, currency: str, day: dt.date, amounts: list[Decimal], lcy: str
) -> dict[str, Any]:
    """Each amount in LCY as a journal line posted on ``day`` would carry it."""
    if currency.upper() == lcy.upper():
        return {"currency": currency.upper(), "lcy": lcy, "rate": None, "amounts_lcy": amounts}
    rate = rate_on(bc, currency, day)
    factor = Decimal(str(rate["exchangeRateAmount"])) / Decimal(
        str(rate["relationalExchangeRateAmount"])
    )
    values = [(a / factor).quantize(_CENT, rounding=ROUND_HALF_UP) for a in amounts]
    return {
        "currency": currency.upper(),
        "lcy": lcy,
        "rate": {
            "starting_date": rate.get("startingDate"),
            "exchange_rate_amount": str(rate["exchangeRateAmount"]),
            "relational_exchange_rate_amount": str(rate["relationalExchangeRateAmount"]),
        },
        "amounts_lcy": values,
    }
