"""``MLC_CURRENCY_CLEARING`` and ``MLC_PAYOUT_BANKS``: parsed exactly, refused with a reason."""

from __future__ import annotations

import pytest

from mlconnector.clearing import CurrencyClearing
from mlconnector.clearing import parse_currency_accounts
from mlconnector.clearing import parse_currency_clearing


def test_each_currency_names_its_batch_and_bank_account() -> None:
    parsed = parse_currency_clearing(" EUR=stripeeur/Stripe-EUR, jpy=STRIPEJPY/STRIPE-JPY ,")
    assert parsed == {
        "eur": CurrencyClearing("eur", "STRIPEEUR", "STRIPE-EUR"),
        "jpy": CurrencyClearing("jpy", "STRIPEJPY", "STRIPE-JPY"),
    }
    assert parse_currency_clearing("") == {}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("eur", "is not currency=value"),
        ("eur=STRIPEEUR", "must be <batch>/<bank account>"),
        ("eur=MUCHTOOLONGBATCH/STRIPE-EUR", "at most 10 characters"),
        ("euro=STRIPEEUR/STRIPE-EUR", "unknown currency .euro."),
        ("eur=A/B,EUR=C/D", "eur named more than once"),
        ("eur=SAME/B,jpy=SAME/C", "each currency needs its own batch"),
    ],
)
def test_a_malformed_setting_is_refused_naming_the_problem(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_currency_clearing(text)


def test_payout_banks_by_currency() -> None:
    assert parse_currency_accounts("eur=bank-eur,kwd=BANK-KWD") == {
        "eur": "BANK-EUR",
        "kwd": "BANK-KWD",
    }
    with pytest.raises(ValueError, match="MLC_PAYOUT_BANKS"):
        parse_currency_accounts("eur=")
