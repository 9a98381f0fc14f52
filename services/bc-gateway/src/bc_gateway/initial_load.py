"""The first connection: what would be pushed to Stripe (preview), before pushing it.

A firm that connects the product already has open posted invoices. ``bc-gateway initial-load
--preview`` reads every Open sales invoice once (one page at a time, only the fields it needs)
and says how many there are, for how many customers, the open totals per currency, and which
would be refused and why, as the push would refuse them: a currency Stripe does not charge in,
nothing left to pay, an amount Stripe cannot charge exactly (three-decimal currencies take
only amounts ending in 0; ``mlconnector.money``). ``initial-load`` then publishes every Open
invoice as ``bc.invoice.observed`` through the poll's resumable machinery (``invoice_poll``,
Open only, since the beginning), with progress and a cursor; the reconciler pushes each one
once (already linked invoices are left alone) within BC's and Stripe's rate limits, which the
gateways enforce for every caller.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from decimal import Decimal

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.adapters.odata import odata_string
from bc_gateway.services import LocalCurrency
from bc_gateway.services import amount
from bc_gateway.services import currency_or_lcy
from mlconnector import money

# Before any BC company existed: the window of a load is "everything".
BEGINNING = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
OPEN_ONLY = ("Open",)
SELECT = "id,number,customerNumber,currencyCode,remainingAmount,totalAmountIncludingTax"


@dataclasses.dataclass
class Preview:
    invoices: int = 0
    customers: set[str] = dataclasses.field(default_factory=set)
    open_by_currency: dict[str, Decimal] = dataclasses.field(default_factory=dict)
    count_by_currency: Counter[str] = dataclasses.field(default_factory=Counter)
    refused: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"{self.invoices} open invoice(s) for {len(self.customers)} customer(s)",
            *(
                f"  {code}: {self.count_by_currency[code]} invoice(s), "
                f"{_shown(self.open_by_currency[code], code)} open"
                for code in sorted(self.count_by_currency)
            ),
            f"{self.invoices - len(self.refused)} would be pushed, {len(self.refused)} refused",
        ]
        out += [f"  refused {number}: {why}" for number, why in self.refused]
        return out


def _shown(amount: Decimal, currency: str) -> str:
    """An open total with the currency's decimals (125,500.00, not BC's 125500.0)."""
    try:
        places = money.exponent(currency)
    except money.MoneyError:
        return f"{amount:,}"
    return f"{amount.quantize(Decimal(1).scaleb(-places)):,}"


def refusal(open_amount: Decimal, currency: str) -> str | None:
    """Why the push would refuse an invoice with this open amount, or None."""
    if open_amount <= 0:
        return "nothing left to pay"
    try:
        money.to_stripe_charge_minor(open_amount, currency)
    except money.MoneyError as exc:
        return str(exc)
    return None


def preview(bc: BCClient, lcy: LocalCurrency) -> Preview:
    code = lcy.code(bc)
    result = Preview()
    query = {"$filter": f"status eq {odata_string('Open')}", "$select": SELECT}
    for page in bc.pages(bc.company_path("salesInvoices"), query):
        for invoice in page:
            result.invoices += 1
            result.customers.add(str(invoice.get("customerNumber") or ""))
            currency = currency_or_lcy(invoice.get("currencyCode"), code)
            open_amount = amount(invoice.get("remainingAmount", 0))
            result.count_by_currency[currency] += 1
            result.open_by_currency[currency] = (
                result.open_by_currency.get(currency, Decimal(0)) + open_amount
            )
            why = refusal(open_amount, currency.lower())
            if why is not None:
                result.refused.append((str(invoice.get("number") or invoice.get("id")), why))
    return result
