"""A posted BC credit memo as credit note lines for its Stripe invoice: the BC half (issue 14).

**Why the mapping is split, and why this half lives here.** The reconciler is the one place that
holds both BC documents: the credit memo and the invoice it applies to (bc-gateway reads each
with its lines). So it matches each memo line to the BC invoice line it credits and puts every
amount into the invoice currency's minor units (``mlconnector.money``: exact, or an error). The
Stripe half -- which Stripe line carries that BC line, what earlier credit notes left of it,
and whether it is credited by quantity, by amount or as a custom line -- is decided by
stripe-gateway (``stripe_gateway.services.credit_note_lines``), which reads the Stripe invoice's
lines in the same command that creates the credit note.

**Matching.** BC's API gives a credit memo line no reference to an invoice line: page 30046
``salesCreditMemoLines`` has ``sequence``, ``itemId`` / ``accountId``, ``lineType``,
``lineObjectNumber``, ``description``, quantities, prices and amounts, but no "applies-to" per
line (bc-api.md section 4.7; Microsoft's salesCreditMemoLines resource type); only the header
names the invoice (``invoiceId``). A memo line therefore corresponds to an invoice line with the
same line type, the same item/account number and the same description (case and surrounding
blanks aside), as a credit memo copied from the invoice (or BC's corrective credit memo) has.
Among several such invoice lines: one no other memo line took, one that can take the whole
amount, the same sequence, the same unit price, then the first. The push made one Stripe line per
non-comment BC invoice line and put the BC line's id in its metadata (``reconciler.translate``),
so the matched invoice line's id is what identifies the Stripe line. When the memo line has the
invoice line's unit price and line discount, both BC quantities are sent too, so the gateway can
credit a quantity; otherwise an amount.

**Lines that match nothing** (a goodwill G/L line, another description) are sent without an
invoice line and become custom credit note lines with the BC description. **The memo's tax**
is one more line crediting the invoice's tax line (the push puts BC's tax on a line of its own).

**Exact, or amount only.** The lines (each memo line's amount excluding tax, plus the tax) must
add up to the memo's total including tax to the minor unit, or no lines are sent and the credit
note is for the amount only, with the reason recorded. That happens when the memo has an invoice
discount (BC spreads it over the lines, ``invoiceDiscountAllocation``, which bc-gateway's read
does not return, and a negative credit note line does not exist in Stripe), a line with a
negative amount (Stripe refuses negative custom line amounts and crediting negative invoice
lines), an amount in more decimals than the currency has, or more lines than a command takes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from collections.abc import Sequence
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

from mlconnector.money import MoneyError
from mlconnector.money import format_amount
from mlconnector.money import to_minor
from reconciler.translate import SKIPPED_LINE_TYPES

#: The description of the Stripe line the push adds for BC's tax (``reconciler.translate``).
TAX_DESCRIPTION = "Tax"
#: The most lines stripe-gateway takes in one credit note command.
MAX_LINES = 250
_DESCRIPTION_MAX = 500  # what stripe-gateway accepts as a Stripe description


@dataclasses.dataclass(frozen=True)
class Itemized:
    """The credit note's lines, as stripe-gateway's command takes them; ``matched`` of them
    credit a BC invoice line (the rest are custom lines, and the tax line if any)."""

    lines: tuple[dict[str, Any], ...]
    matched: int


@dataclasses.dataclass(frozen=True)
class AmountOnly:
    """No lines can be sent exactly; ``why`` says what stands in the way."""

    why: str


class _NotExact(Exception):
    pass


def _decimal(value: Any, what: str) -> Decimal:
    """A BC decimal as bc-gateway sends it (a string; never a float, which is already inexact)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            return Decimal(value)
        except InvalidOperation:
            pass
    raise _NotExact(f"{what} is not an exact number: {value!r}")


def _minor(value: Any, currency: str, what: str) -> int:
    try:
        return to_minor(_decimal(value, what), currency)
    except MoneyError as exc:
        raise _NotExact(f"{what}: {exc}") from None


def _credited(line: Mapping[str, Any]) -> bool:
    """Whether a BC line carries an amount the push (or a credit) deals in: no comments."""
    return str(line.get("line_type") or "") not in SKIPPED_LINE_TYPES


def _key(line: Mapping[str, Any]) -> tuple[str, str, str]:
    return (
        str(line.get("line_type") or ""),
        str(line.get("line_object_number") or "").strip().upper(),
        str(line.get("description") or "").strip().casefold(),
    )


def _quantity_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


@dataclasses.dataclass
class _Candidate:
    position: int
    line: Mapping[str, Any]
    amount: int
    used: bool = False


def _pick(
    memo_line: Mapping[str, Any], amount: int, candidates: Sequence[_Candidate]
) -> _Candidate | None:
    key = _key(memo_line)
    same = [c for c in candidates if _key(c.line) == key]
    if not same:
        return None
    unit_price = memo_line.get("unit_price")
    sequence = memo_line.get("sequence")
    same.sort(
        key=lambda c: (
            c.used,
            c.amount < amount,
            c.line.get("sequence") != sequence,
            str(c.line.get("unit_price")) != str(unit_price),
            c.position,
        )
    )
    return same[0]


def _same_price(memo_line: Mapping[str, Any], invoice_line: Mapping[str, Any]) -> bool:
    try:
        return all(
            _decimal(memo_line.get(name, 0), name) == _decimal(invoice_line.get(name, 0), name)
            for name in ("unit_price", "discount_percent")
        )
    except _NotExact:
        return False


def _command_line(
    memo_line: Mapping[str, Any], amount: int, match: _Candidate | None
) -> dict[str, Any]:
    description = str(
        memo_line.get("description") or memo_line.get("line_object_number") or "Credit"
    )
    line: dict[str, Any] = {"description": description[:_DESCRIPTION_MAX], "amount_minor": amount}
    sequence = memo_line.get("sequence")
    if isinstance(sequence, int) and not isinstance(sequence, bool) and sequence >= 0:
        line["sequence"] = sequence
    if match is None:
        return line
    line["bc_invoice_line_id"] = str(match.line["id"])
    if _same_price(memo_line, match.line):
        quantity = _decimal(memo_line.get("quantity", 0), "quantity")
        of = _decimal(match.line.get("quantity", 0), "quantity")
        if quantity > 0 and of > 0:
            line["bc_quantity"] = _quantity_text(quantity)
            line["bc_invoice_quantity"] = _quantity_text(of)
    return line


def credit_note_lines(
    memo: Mapping[str, Any], invoice: Mapping[str, Any], currency: str
) -> Itemized | AmountOnly:
    """The stripe-gateway ``lines`` for a posted credit memo on ``invoice`` (both as bc-gateway
    reads them), summing to the memo's total including tax exactly; or why there are none."""
    number = memo.get("number") or memo.get("id")
    try:
        return _lines(memo, invoice, currency)
    except _NotExact as exc:
        return AmountOnly(f"credit memo {number}: {exc}")


def _lines(memo: Mapping[str, Any], invoice: Mapping[str, Any], currency: str) -> Itemized:
    def shown(minor: int) -> str:
        return format_amount(minor, currency)

    total = _minor(memo.get("total_amount_including_tax"), currency, "its total")
    net_total = _minor(memo.get("total_amount_excluding_tax", 0), currency, "its net total")
    tax = _minor(memo.get("total_tax_amount", 0), currency, "its tax")
    credited: list[tuple[Mapping[str, Any], int]] = []
    for line in memo.get("lines") or []:
        if not _credited(line):
            continue
        what = f"line {line.get('sequence')}"
        amount = _minor(line.get("amount_excluding_tax", 0), currency, what)
        if amount < 0:
            raise _NotExact(
                f"{what} credits a negative amount ({shown(amount)}), which no Stripe credit "
                "note line can"
            )
        if amount:
            credited.append((line, amount))
    if not credited:
        raise _NotExact("no line has an amount")
    lines_total = sum(amount for _, amount in credited)
    if lines_total != net_total:
        raise _NotExact(
            f"its lines come to {shown(lines_total)} but its total before tax is "
            f"{shown(net_total)}: an invoice discount of {shown(lines_total - net_total)} is "
            "spread over the lines in BC, and bc-gateway's read does not give each line's share"
        )
    if tax < 0:
        raise _NotExact(f"its tax is negative ({shown(tax)})")
    if lines_total + tax != total:
        raise _NotExact(
            f"its lines and tax come to {shown(lines_total + tax)}, its total to {shown(total)}"
        )
    if len(credited) + (1 if tax else 0) > MAX_LINES:
        raise _NotExact(f"it has more than {MAX_LINES} lines")
    candidates = []
    for position, line in enumerate(invoice.get("lines") or []):
        if not _credited(line) or not line.get("id"):
            continue
        try:
            amount = _minor(line.get("amount_excluding_tax", 0), currency, "invoice line")
        except _NotExact:
            continue  # the push could not have made a Stripe line of it either
        if amount > 0:
            candidates.append(_Candidate(position, line, amount))
    out: list[dict[str, Any]] = []
    matched = 0
    for line, amount in credited:
        match = _pick(line, amount, candidates)
        if match is not None:
            match.used = True
            matched += 1
        out.append(_command_line(line, amount, match))
    if tax:
        out.append({"description": TAX_DESCRIPTION, "amount_minor": tax, "invoice_tax": True})
    if sum(entry["amount_minor"] for entry in out) != total:  # pragma: no cover - checked above
        raise _NotExact(f"its lines do not come to its total of {shown(total)}")
    return Itemized(tuple(out), matched)
