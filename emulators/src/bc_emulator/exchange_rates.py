"""``currencyExchangeRates`` (page 30085 "APIV2 - Currency Exchange Rates", read-only).

bc-api.md §4.12 lists its fields: ``id``, ``currencyCode``, ``startingDate``,
``exchangeRateAmount``, ``relationalCurrencyCode``, ``relationalExchangeRateAmount``,
``lastModifiedDateTime``. The emulator keeps one rate per currency (no history): each currency
row yields one exchange rate row starting 2000-01-01, quoted against the LCY (blank
relational currency) as 1 unit = ``exchange_rate`` LCY. That is the quote table 330's
``ExchangeAmtFCYToLCY`` turns into ``Amount / (ExchangeRateAmount / RelationalExchRateAmount)``,
the conversion journal lines use here (``line_currency``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from bc_emulator.edm import Field
from bc_emulator.edm import T
from bc_emulator.entity_sets import EntitySet
from bc_emulator.entity_sets import Scope
from bc_emulator.models import Currency

STARTING = dt.date(2000, 1, 1)
_NAMESPACE = uuid.UUID("6f1b0d1e-3c2a-4b8e-9a55-0c1d2e3f4a5b")

FIELDS = (
    Field("id", T.GUID, read_only=True),
    Field("currencyCode", T.CODE, read_only=True, max_length=10),
    Field("startingDate", T.DATE, read_only=True),
    Field("exchangeRateAmount", T.DECIMAL, read_only=True),
    Field("relationalCurrencyCode", T.CODE, read_only=True, max_length=10),
    Field("relationalExchangeRateAmount", T.DECIMAL, read_only=True),
    Field("lastModifiedDateTime", T.DATETIME, read_only=True),
)


def _rate_id(currency: Currency) -> str:
    return str(uuid.uuid5(_NAMESPACE, currency.id))


class CurrencyExchangeRatesSet(EntitySet):
    """One rate row per currency, derived from the currency's rate."""

    name = "currencyExchangeRates"
    entity_type = "currencyExchangeRate"
    caption = "Currency Exchange Rate"
    fields = FIELDS

    def __init__(self) -> None:
        super().__init__()
        self.computed = {
            "id": lambda s, r: _rate_id(r),
            "currencyCode": lambda s, r: r.values["code"],
            "startingDate": lambda s, r: STARTING,
            "exchangeRateAmount": lambda s, r: Decimal(1),
            "relationalCurrencyCode": lambda s, r: "",
            "relationalExchangeRateAmount": lambda s, r: r.exchange_rate,
        }

    def rows(self, scope: Scope) -> Iterable[Any]:
        return list(scope.co.currencies.values())

    def key_of(self, rec: Any) -> str:
        return _rate_id(rec)
