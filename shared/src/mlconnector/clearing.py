"""Where Stripe's money in each currency sits in BC: the settings both services read.

Stripe settles a currency either in that currency (a balance and payouts in it) or by converting
it into the account's settlement currency when charged (docs/accounting.md). In BC a foreign
currency can only be held on a bank account in that currency: a journal line takes its
currency from the bank account on either side of it (table 81 "Gen. Journal Line",
``GetBankBalAccount``). So each currency Stripe settles as charged names, in
``MLC_CURRENCY_CLEARING``, the customer payment batch balanced by that bank account and the
bank account itself::

    MLC_CURRENCY_CLEARING=eur=STRIPEEUR/STRIPE-EUR,jpy=STRIPEJPY/STRIPE-JPY

bc-gateway reads it to accept those batches (it writes to configured batches only); the
reconciler reads it to choose the batch of a payment and the clearing account of every other
line. ``MLC_PAYOUT_BANKS`` (reconciler) names the firm's bank account that receives payouts in
each foreign currency::

    MLC_PAYOUT_BANKS=eur=BANK-EUR,jpy=BANK-JPY
"""

from __future__ import annotations

import dataclasses
import re

from mlconnector.money import MoneyError
from mlconnector.money import normalize_currency

# BC Code fields: a batch name is Code[10], an account number Code[20] (bc-api.md §2).
_BATCH = re.compile(r"^[A-Z0-9][A-Z0-9_\-]{0,9}$")
_ACCOUNT = re.compile(r"^[A-Z0-9][A-Z0-9_\-. ]{0,19}$")


@dataclasses.dataclass(frozen=True)
class CurrencyClearing:
    """The payment batch and the Stripe bank account of one currency Stripe settles as charged."""

    currency: str
    journal: str
    bank_account: str


def _pairs(text: str, setting: str) -> list[tuple[str, str]]:
    pairs = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        currency, sep, value = item.partition("=")
        if not sep or not value.strip():
            raise ValueError(f"{setting}: {item!r} is not currency=value")
        try:
            code = normalize_currency(currency.strip())
        except MoneyError as exc:
            raise ValueError(f"{setting}: {exc}") from None
        pairs.append((code, value.strip().upper()))
    seen = [code for code, _ in pairs]
    doubled = sorted({code for code in seen if seen.count(code) > 1})
    if doubled:
        raise ValueError(f"{setting}: {', '.join(doubled)} named more than once")
    return pairs


def parse_currency_clearing(
    text: str, *, setting: str = "MLC_CURRENCY_CLEARING"
) -> dict[str, CurrencyClearing]:
    """``eur=STRIPEEUR/STRIPE-EUR,...`` by lower-case currency; a malformed entry is an error."""
    out: dict[str, CurrencyClearing] = {}
    for currency, value in _pairs(text, setting):
        journal, sep, bank = value.partition("/")
        if not sep or not _BATCH.match(journal) or not _ACCOUNT.match(bank):
            raise ValueError(
                f"{setting}: {currency}={value} must be <batch>/<bank account>, a BC batch name "
                "of at most 10 characters and a bank account number of at most 20"
            )
        out[currency] = CurrencyClearing(currency, journal, bank)
    journals = [c.journal for c in out.values()]
    if len(set(journals)) != len(journals):
        raise ValueError(f"{setting}: each currency needs its own batch")
    return out


def parse_currency_accounts(text: str, *, setting: str = "MLC_PAYOUT_BANKS") -> dict[str, str]:
    """``eur=BANK-EUR,...`` by lower-case currency."""
    out: dict[str, str] = {}
    for currency, account in _pairs(text, setting):
        if not _ACCOUNT.match(account):
            raise ValueError(f"{setting}: {account} is not a BC account number")
        out[currency] = account
    return out
