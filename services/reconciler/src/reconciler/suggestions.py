"""Which open BC invoice an unmatched Stripe payment most likely pays: suggestions, ranked.

A payment with no or unknown metadata is recorded as ``unmatched`` and never guessed
(ARCHITECTURE.md §3): a clerk resolves it in the review console by choosing the BC invoice, and
nothing is applied until they confirm (§9). This module orders the candidates for that choice
and says why, in the words the clerk reads: "same amount", "same currency", "customer e-mail
matches", "due 3 days before the payment". It is pure: facts in, ranking out. The candidates
come from bc-gateway's open-invoice search; ``candidate_queries`` says which searches to run.

How the facts weigh (``score`` is integer points; ``strength`` is what the clerk is told):

- The amount and the currency matter most. Money is compared in integer minor units
  (``mlconnector.money``), never as floats: the payment's minor units against the invoice's
  remaining amount. The same amount is worth more than any other single fact.
- A different currency is never a strong match, whatever else agrees: the amounts cannot be
  compared, and applying a payment across currencies is a decision for a person, not a hint.
- The invoice number named in the payment (description or metadata), the customer's e-mail and
  name say whose invoice it is; with the same amount they make a match strong.
- The due date against the payment date is a small nudge, and an invoice issued after the
  payment is pushed down and never called strong (a payment rarely precedes its invoice).

Ranking is by strength, then score, then the due date nearest the payment, then invoice number,
so the same facts always give the same order.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from enum import StrEnum

from mlconnector import money
from reconciler.adapters.open_invoices import OpenInvoice
from reconciler.adapters.open_invoices import OpenInvoiceQuery

# Points per fact. Same currency and same amount (20 + 50) outweigh everything a candidate in
# another currency can collect (30 + 20 + 10 + 5), so strength aside, score alone agrees too;
# and the customer's e-mail and name (20 + 10) outweigh a bare "same currency, pays part of it"
# (20 + 5), which most invoices of the currency are.
SAME_CURRENCY = 20
SAME_AMOUNT = 50
SAME_TOTAL = 15  # the payment equals the total, but part of the invoice is already paid
PART_OF_OPEN = 5  # a partial payment
NUMBER_NAMED = 30
NUMBER_END = 15  # the payment names the last digits of the number ("103005" of "PS-INV103005")
EMAIL_MATCHES = 20
NAME_MATCHES = 10
NAME_SIMILAR = 5
DUE_WITHIN_A_WEEK = 5
DUE_WITHIN_A_MONTH = 2
ISSUED_AFTER_PAYMENT = -10

#: The fewest characters of a number's end that count as naming it.
MIN_NUMBER_END = 4
#: Invoice numbers are BC Code[20] values (bc-api.md §4.5).
MAX_NUMBER_LENGTH = 20
#: How many hints ``candidate_queries`` searches for.
MAX_HINT_QUERIES = 3

_HINT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-_/.#]*[A-Za-z0-9])?")
_WORD = re.compile(r"\w+")
# What bc-gateway's ``q`` refuses (``bc_gateway.api.open_invoice_schemas``): BC's filter
# characters, two dots in a row, more than a customer name's 100 characters.
_NOT_SEARCHABLE = re.compile(r"[&|<>=*?@'()]|\.\.")
_MAX_Q = 100


class Strength(StrEnum):
    """What the clerk is told about a suggestion."""

    STRONG = "strong"
    POSSIBLE = "possible"
    WEAK = "weak"


_TIER = {Strength.STRONG: 2, Strength.POSSIBLE: 1, Strength.WEAK: 0}


class _Amount(Enum):
    SAME = "same"
    SAME_TOTAL = "same total"
    PART = "part"
    MORE = "more"
    NOT_COMPARABLE = "not comparable"


class _Number(Enum):
    NAMED = "named"
    END = "end"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class PaymentFacts:
    """What the connector knows of a payment it could not match.

    ``amount_minor`` is Stripe's integer minor units in ``currency`` (any case). ``invoice_hints``
    are invoice numbers found in the Stripe object's description or metadata
    (``invoice_hints`` finds them).
    """

    amount_minor: int
    currency: str
    paid_on: dt.date
    customer_email: str = ""
    customer_name: str = ""
    invoice_hints: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise TypeError("amount_minor is an int count of minor units, never a float")


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One candidate with its points, its strength, and the reasons in plain words."""

    invoice: OpenInvoice
    score: int
    strength: Strength
    reasons: tuple[str, ...]


def rank(payment: PaymentFacts, candidates: Iterable[OpenInvoice]) -> list[Suggestion]:
    """Every candidate (once per invoice id), the most likely first."""
    unique: dict[str, OpenInvoice] = {}
    for invoice in candidates:
        unique.setdefault(invoice.id, invoice)
    assessed = [assess(payment, invoice) for invoice in unique.values()]
    return sorted(assessed, key=lambda s: _order(payment, s))


def assess(payment: PaymentFacts, invoice: OpenInvoice) -> Suggestion:
    """How well ``invoice`` fits ``payment``: points, strength and reasons."""
    reasons: list[str] = []
    score = 0
    same_currency = invoice.currency.lower() == payment.currency.lower()
    amount = _Amount.NOT_COMPARABLE
    if same_currency:
        amount, points, why = _compare_amounts(payment, invoice)
        score += points + SAME_CURRENCY
        reasons += [why, "same currency"]
    else:
        reasons.append(
            f"different currency (invoice in {invoice.currency.upper()}, "
            f"payment in {payment.currency.upper()})"
        )
    number, number_points, number_why = _compare_number(payment.invoice_hints, invoice.number)
    email = _same_email(payment.customer_email, invoice.customer_email)
    name_points, name_why = _compare_names(payment.customer_name, invoice.customer_name)
    due_points, due_why = _due(payment.paid_on, invoice.due_date)
    score += number_points + (EMAIL_MATCHES if email else 0) + name_points + due_points
    reasons += [
        text
        for text in (number_why, "customer e-mail matches" if email else None, name_why, due_why)
        if text is not None
    ]
    days_early = 0  # how long before its invoice the payment came
    if invoice.invoice_date is not None and invoice.invoice_date > payment.paid_on:
        days_early = (invoice.invoice_date - payment.paid_on).days
        score += ISSUED_AFTER_PAYMENT
        reasons.append(f"issued {_days(days_early)} after the payment")
    strength = _strength(
        same_currency=same_currency,
        amount=amount,
        number=number,
        customer=email or name_points == NAME_MATCHES,
        similar=name_points > 0,
        issued_after=days_early > 0,
    )
    return Suggestion(invoice=invoice, score=score, strength=strength, reasons=tuple(reasons))


def invoice_hints(*texts: str | None) -> tuple[str, ...]:
    """Words in ``texts`` that could be BC invoice numbers: a digit in them, Code[20]-sized.

    Upper-cased as BC stores Code values, each once, in the order found; for the Stripe
    object's description and metadata values (``"Payment for PS-INV103005"`` gives
    ``("PS-INV103005",)``).
    """
    found: dict[str, None] = {}
    for text in texts:
        for word in _HINT.findall(text or ""):
            if 3 <= len(word) <= MAX_NUMBER_LENGTH and any(ch.isdigit() for ch in word):
                found.setdefault(word.upper(), None)
    return tuple(found)


def candidate_queries(payment: PaymentFacts) -> tuple[OpenInvoiceQuery, ...]:
    """The bc-gateway searches whose union holds the invoices worth ranking for ``payment``.

    The same remaining amount in the same currency; the customer's e-mail; each invoice number
    hint; the customer's name (or, when the name holds a character the search refuses, its
    first word of three letters or more). Each search is narrow, so their union stays small.
    """
    queries: list[OpenInvoiceQuery] = []
    try:
        amount = money.from_minor(payment.amount_minor, payment.currency)
    except money.MoneyError:
        amount = None  # a currency the connector does not know: no amount search
    if amount is not None and amount > 0:
        queries.append(OpenInvoiceQuery(currency=payment.currency.upper(), amount=amount))
    if payment.customer_email.strip():
        queries.append(OpenInvoiceQuery(customer_email=payment.customer_email.strip()))
    for hint in payment.invoice_hints[:MAX_HINT_QUERIES]:
        if _searchable(hint):
            queries.append(OpenInvoiceQuery(q=hint))
    name = _name_query(payment.customer_name)
    if name is not None:
        queries.append(OpenInvoiceQuery(q=name))
    return tuple(dict.fromkeys(queries))


# -- the facts, one at a time ---------------------------------------------------------------


def _compare_amounts(payment: PaymentFacts, invoice: OpenInvoice) -> tuple[_Amount, int, str]:
    """The payment against what is open on the invoice, in minor units of the one currency."""
    currency = payment.currency
    try:
        remaining = money.to_minor(invoice.remaining_amount, currency)
    except money.MoneyError as exc:
        return _Amount.NOT_COMPARABLE, 0, f"the amounts cannot be compared ({exc})"
    paid = payment.amount_minor
    if paid == remaining:
        return _Amount.SAME, SAME_AMOUNT, "same amount"
    if paid < remaining:
        part = (
            f"{money.format_amount(paid, currency)} of {money.format_amount(remaining, currency)}"
        )
        return _Amount.PART, PART_OF_OPEN, f"pays part of the open amount ({part})"
    if _minor_or_none(invoice.total_amount, currency) == paid:
        still_open = money.format_amount(remaining, currency)
        return _Amount.SAME_TOTAL, SAME_TOTAL, f"same as the invoice total; {still_open} is open"
    over = money.format_amount(paid - remaining, currency)
    return _Amount.MORE, 0, f"more than the open amount, by {over}"


def _minor_or_none(amount: Decimal, currency: str) -> int | None:
    try:
        return money.to_minor(amount, currency)
    except money.MoneyError:
        return None


def _compare_number(hints: Iterable[str], number: str) -> tuple[_Number, int, str | None]:
    """Whether the payment names the invoice's number, whole or by its last characters."""
    wanted = _compact(number)
    if not wanted:
        return _Number.NONE, 0, None
    compact = [_compact(hint) for hint in hints]
    if wanted in compact:
        return _Number.NAMED, NUMBER_NAMED, f"the payment names invoice {number}"
    for hint in compact:
        if len(hint) >= MIN_NUMBER_END and wanted.endswith(hint) and any(c.isdigit() for c in hint):
            return (
                _Number.END,
                NUMBER_END,
                f"the payment names {hint}, the end of invoice number {number}",
            )
    return _Number.NONE, 0, None


def _same_email(paid_by: str, on_invoice: str) -> bool:
    left, right = paid_by.strip().lower(), on_invoice.strip().lower()
    return bool(left) and left == right


def _compare_names(paid_by: str, on_invoice: str) -> tuple[int, str | None]:
    """The same words (case and punctuation aside), or all of one name's words in the other."""
    left, right = _words(paid_by), _words(on_invoice)
    if not left or not right:
        return 0, None
    if left == right:
        return NAME_MATCHES, "customer name matches"
    if set(left) <= set(right) or set(right) <= set(left):
        return NAME_SIMILAR, "customer name is similar"
    return 0, None


def _due(paid_on: dt.date, due: dt.date | None) -> tuple[int, str | None]:
    """Where the due date sits from the payment: "due 3 days before the payment"."""
    if due is None:
        return 0, None
    days = (paid_on - due).days
    if days == 0:
        why = "due on the payment date"
    elif days > 0:
        why = f"due {_days(days)} before the payment"
    else:
        why = f"due {_days(-days)} after the payment"
    if abs(days) <= 7:
        return DUE_WITHIN_A_WEEK, why
    if abs(days) <= 31:
        return DUE_WITHIN_A_MONTH, why
    return 0, why


def _strength(
    *,
    same_currency: bool,
    amount: _Amount,
    number: _Number,
    customer: bool,
    similar: bool,
    issued_after: bool,
) -> Strength:
    if not same_currency:
        return Strength.WEAK
    named = number is _Number.NAMED
    strong = (amount is _Amount.SAME and (customer or named)) or (
        named and amount in (_Amount.SAME_TOTAL, _Amount.PART)
    )
    if strong and not issued_after:
        return Strength.STRONG
    if strong or amount is _Amount.SAME or number is not _Number.NONE or customer or similar:
        return Strength.POSSIBLE
    return Strength.WEAK


def _order(payment: PaymentFacts, suggestion: Suggestion) -> tuple[int, int, int, str, str]:
    invoice = suggestion.invoice
    distance = abs((payment.paid_on - invoice.due_date).days) if invoice.due_date else 10**6
    return (
        -_TIER[suggestion.strength],
        -suggestion.score,
        distance,
        invoice.number,
        invoice.id,
    )


# -- text -----------------------------------------------------------------------------------


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def _compact(text: str) -> str:
    """An invoice number as BC compares it: upper-case, no spaces."""
    return "".join(text.split()).upper()


def _words(name: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(name.casefold()))


def _searchable(text: str) -> bool:
    return 0 < len(text) <= _MAX_Q and not _NOT_SEARCHABLE.search(text) and bool(text.strip())


def _name_query(name: str) -> str | None:
    text = " ".join(name.split())
    if not text:
        return None
    if _searchable(text):
        return text
    return next((w for w in _WORD.findall(text) if len(w) >= 3 and _searchable(w)), None)
