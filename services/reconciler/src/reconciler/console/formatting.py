"""How the console shows money and time: the currency's own decimals, the firm's time zone.

Amounts are integer minor units turned into Decimal by ``mlconnector.money`` (never float) and
shown with their ISO code, as BC shows them: ``1,234.50 USD``, ``12,000 JPY``, ``5.125 KWD``.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Flask

from mlconnector.money import MoneyError
from mlconnector.money import exponent
from mlconnector.money import from_minor
from reconciler.console.settings import ConsoleSettings


def money(minor: int | None, currency: str | None) -> str:
    if minor is None or not currency:
        return "—"
    try:
        amount = from_minor(int(minor), currency)
    except MoneyError:
        return f"{minor} (minor units) {currency.upper()}"
    return f"{amount:,} {currency.upper()}"


def amount(value: Decimal | str | None, currency: str | None) -> str:
    """A BC amount (Decimal) with its currency's decimals: BC keeps 640.25 for 640.250 KWD."""
    if value is None or not currency:
        return "—"
    number = Decimal(str(value))
    try:
        places = exponent(currency)
    except MoneyError:
        return f"{number:,} {currency.upper()}"
    shown = (
        number.quantize(Decimal(1).scaleb(-places))
        if number == number.quantize(Decimal(1).scaleb(-places))
        else number
    )
    return f"{shown:,} {currency.upper()}"


def nonzero(value: Decimal | str | None) -> bool:
    """Whether a decimal figure (as the drift check stores it, text) is anything but zero."""
    if value is None or value == "":
        return False
    try:
        return Decimal(str(value)) != 0
    except ArithmeticError:
        return True  # not a number: show it rather than hide it


def install_filters(app: Flask, settings: ConsoleSettings) -> None:
    zone = ZoneInfo(settings.timezone)

    def when(value: datetime | date | None) -> str:
        if value is None:
            return "—"
        if isinstance(value, datetime):
            return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        return value.isoformat()

    def iso(value: datetime | None) -> str:
        return value.astimezone(zone).isoformat(timespec="seconds") if value else ""

    app.add_template_filter(money, "money")
    app.add_template_filter(amount, "amount")
    app.add_template_filter(when, "when")
    app.add_template_filter(iso, "iso")
    app.add_template_test(nonzero, "nonzero")
    app.jinja_env.globals["firm_timezone"] = settings.timezone
