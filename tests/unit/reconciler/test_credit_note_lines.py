"""A BC credit memo's lines matched to its invoice's lines: pure rules, and a property that the
lines, whenever they are sent, add up to the memo's total to the minor unit."""

from __future__ import annotations

from decimal import ROUND_HALF_UP
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from mlconnector.money import to_minor
from reconciler.credit_note_lines import AmountOnly
from reconciler.credit_note_lines import Itemized
from reconciler.credit_note_lines import credit_note_lines


def line(
    sequence: int,
    description: str,
    quantity: str,
    unit_price: str,
    *,
    number: str = "40100",
    line_type: str = "Account",
    amount: str | None = None,
    line_id: str | None = None,
    discount_percent: str = "0",
) -> dict[str, Any]:
    q, p = Decimal(quantity), Decimal(unit_price)
    net = (q * p * (1 - Decimal(discount_percent) / 100)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return {
        "id": line_id or f"line-{sequence}",
        "sequence": sequence,
        "line_type": line_type,
        "line_object_number": number,
        "description": description,
        "quantity": quantity,
        "unit_price": unit_price,
        "discount_percent": discount_percent,
        "amount_excluding_tax": amount if amount is not None else str(net),
    }


def document(lines: list[dict[str, Any]], tax: str = "0", discount: str = "0") -> dict[str, Any]:
    amounts = (Decimal(x.get("amount_excluding_tax", 0)) for x in lines)
    net = sum(amounts, Decimal(0)) - Decimal(discount)
    return {
        "id": "doc-1",
        "number": "PCM-1",
        "lines": lines,
        "total_amount_excluding_tax": str(net),
        "total_tax_amount": tax,
        "total_amount_including_tax": str(net + Decimal(tax)),
    }


INVOICE = document(
    [
        line(10000, "Work", "3", "100.00", line_id="inv-work"),
        line(20000, "Travel", "1", "45.50", line_id="inv-travel"),
        {"id": "inv-note", "sequence": 30000, "line_type": "Comment", "description": "Thanks"},
    ],
    tax="30.00",
)


def itemized(result: Itemized | AmountOnly) -> Itemized:
    assert isinstance(result, Itemized), result
    return result


class TestMatching:
    def test_a_memo_copied_from_the_invoice_credits_each_invoice_line_and_the_tax(self) -> None:
        memo = document(
            [
                line(10000, "Work", "3", "100.00"),
                line(20000, "Travel", "1", "45.50"),
                {"id": "m3", "sequence": 30000, "line_type": "Comment", "description": "Thanks"},
            ],
            tax="30.00",
        )
        result = itemized(credit_note_lines(memo, INVOICE, "usd"))
        assert result.matched == 2
        assert list(result.lines) == [
            {
                "description": "Work", "amount_minor": 30000, "sequence": 10000,
                "bc_invoice_line_id": "inv-work", "bc_quantity": "3", "bc_invoice_quantity": "3",
            },
            {
                "description": "Travel", "amount_minor": 4550, "sequence": 20000,
                "bc_invoice_line_id": "inv-travel", "bc_quantity": "1",
                "bc_invoice_quantity": "1",
            },
            {"description": "Tax", "amount_minor": 3000, "invoice_tax": True},
        ]  # fmt: skip

    def test_part_of_the_quantity_at_the_same_price_sends_both_quantities(self) -> None:
        memo = document([line(10000, "Work", "1", "100.00")])
        [work] = itemized(credit_note_lines(memo, INVOICE, "usd")).lines
        assert (work["bc_invoice_line_id"], work["bc_quantity"], work["bc_invoice_quantity"]) == (
            "inv-work", "1", "3",
        )  # fmt: skip
        assert work["amount_minor"] == 10000

    def test_another_price_credits_the_line_by_amount_without_quantities(self) -> None:
        memo = document([line(10000, "Work", "1", "80.00")])
        [work] = itemized(credit_note_lines(memo, INVOICE, "usd")).lines
        assert work["bc_invoice_line_id"] == "inv-work"
        assert "bc_quantity" not in work
        assert work["amount_minor"] == 8000

    def test_another_line_discount_credits_by_amount(self) -> None:
        memo = document([line(10000, "Work", "1", "100.00", discount_percent="10")])
        [work] = itemized(credit_note_lines(memo, INVOICE, "usd")).lines
        assert "bc_quantity" not in work
        assert work["amount_minor"] == 9000

    def test_a_line_matching_no_invoice_line_goes_without_one(self) -> None:
        memo = document(
            [
                line(10000, "Goodwill", "1", "10.00"),
                line(20000, "Work", "1", "100.00", number="40200"),  # another account
                line(30000, "Work", "1", "100.00", line_type="Item"),  # another type
            ]
        )
        result = itemized(credit_note_lines(memo, INVOICE, "usd"))
        assert result.matched == 0
        assert [x.get("bc_invoice_line_id") for x in result.lines] == [None, None, None]
        assert result.lines[0] == {
            "description": "Goodwill",
            "amount_minor": 1000,
            "sequence": 10000,
        }

    def test_case_and_blanks_around_the_description_or_number_do_not_matter(self) -> None:
        memo = document([line(10000, "  TRAVEL ", "1", "45.50", number=" 40100 ")])
        [travel] = itemized(credit_note_lines(memo, INVOICE, "usd")).lines
        assert travel["bc_invoice_line_id"] == "inv-travel"
        assert travel["description"] == "  TRAVEL "

    def test_two_memo_lines_take_two_identical_invoice_lines_one_each(self) -> None:
        invoice = document(
            [
                line(10000, "Work", "1", "100.00", line_id="a"),
                line(20000, "Work", "1", "100.00", line_id="b"),
            ]
        )
        memo = document([line(20000, "Work", "1", "100.00"), line(30000, "Work", "1", "100.00")])
        result = itemized(credit_note_lines(memo, invoice, "usd"))
        # The same sequence first, then the one not yet taken.
        assert [x["bc_invoice_line_id"] for x in result.lines] == ["b", "a"]

    def test_an_invoice_line_with_room_for_the_amount_is_preferred(self) -> None:
        invoice = document(
            [
                line(10000, "Work", "1", "50.00", line_id="small"),
                line(20000, "Work", "2", "100.00", line_id="big"),
            ]
        )
        memo = document([line(10000, "Work", "1", "100.00")])
        [work] = itemized(credit_note_lines(memo, invoice, "usd")).lines
        assert work["bc_invoice_line_id"] == "big"

    def test_comment_and_zero_lines_are_left_out(self) -> None:
        memo = document(
            [
                {"id": "c", "sequence": 1, "line_type": "Comment", "description": "Note"},
                line(2, "Free sample", "1", "0"),
                line(3, "Work", "1", "100.00"),
            ]
        )
        result = itemized(credit_note_lines(memo, INVOICE, "usd"))
        assert [x["sequence"] for x in result.lines] == [3]

    def test_zero_decimal_and_three_decimal_currencies(self) -> None:
        invoice = document([line(10000, "Work", "2", "1500", line_id="w")])
        memo = document([line(10000, "Work", "1", "1500")])
        [work] = itemized(credit_note_lines(memo, invoice, "jpy")).lines
        assert work["amount_minor"] == 1500
        memo_kwd = document([line(10000, "Work", "1", "1.235", amount="1.235")], tax="0.125")
        result = itemized(credit_note_lines(memo_kwd, invoice, "kwd"))
        assert [x["amount_minor"] for x in result.lines] == [1235, 125]


class TestAmountOnly:
    def test_an_invoice_discount_on_the_memo(self) -> None:
        memo = document([line(10000, "Work", "1", "100.00")], discount="10.00")
        result = credit_note_lines(memo, INVOICE, "usd")
        assert isinstance(result, AmountOnly)
        assert "invoice discount of 10.00 USD" in result.why

    def test_a_negative_line(self) -> None:
        memo = document([line(10000, "Work", "1", "100.00"), line(20000, "Fee", "1", "-5.00")])
        result = credit_note_lines(memo, INVOICE, "usd")
        assert isinstance(result, AmountOnly)
        assert "negative" in result.why

    def test_more_decimals_than_the_currency_has(self) -> None:
        memo = document(
            [
                line(10000, "Work", "1", "100.005", amount="100.005"),
                line(20000, "Travel", "1", "0.005", amount="0.005"),
            ]
        )  # the total (100.01) is exact, a line is not
        result = credit_note_lines(memo, INVOICE, "usd")
        assert isinstance(result, AmountOnly)
        assert "line 10000" in result.why

    def test_a_float_is_never_taken_for_an_amount(self) -> None:
        memo = document([line(10000, "Work", "1", "100.00")])
        memo["lines"][0]["amount_excluding_tax"] = 100.0
        result = credit_note_lines(memo, INVOICE, "usd")
        assert isinstance(result, AmountOnly)
        assert "not an exact number" in result.why

    def test_lines_and_tax_that_miss_the_total(self) -> None:
        memo = document([line(10000, "Work", "1", "100.00")], tax="10.00")
        memo["total_amount_including_tax"] = "110.01"
        result = credit_note_lines(memo, INVOICE, "usd")
        assert isinstance(result, AmountOnly)
        assert "110.01" in result.why

    def test_no_line_with_an_amount(self) -> None:
        memo = document([{"id": "c", "sequence": 1, "line_type": "Comment", "description": "x"}])
        memo["total_amount_including_tax"] = "1.00"
        assert isinstance(credit_note_lines(memo, INVOICE, "usd"), AmountOnly)


# -- the property -----------------------------------------------------------------------------

CURRENCIES = {"usd": 2, "jpy": 0, "kwd": 3}


@st.composite
def invoice_and_memo(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], str]:
    """An invoice and a credit memo made from it as a clerk would: some of its lines (whole, a
    part of the quantity, another price), lines of its own, comments, some tax."""
    currency = draw(st.sampled_from(sorted(CURRENCIES)))
    places = CURRENCIES[currency]
    step = Decimal(1).scaleb(-places)
    prices = st.integers(0, 10**7).map(lambda n: Decimal(n) * step)
    quantities = st.integers(1, 20).map(Decimal)
    names = st.sampled_from(["Work", "Travel", "Licence", "Support"])
    invoice_lines: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 8))):
        q, p = draw(quantities), draw(prices)
        invoice_lines.append(
            {
                "id": f"inv-{i}", "sequence": (i + 1) * 10000, "line_type": "Account",
                "line_object_number": draw(st.sampled_from(["40100", "40200"])),
                "description": draw(names), "quantity": str(q), "unit_price": str(p),
                "discount_percent": "0", "amount_excluding_tax": str(q * p),
            }
        )  # fmt: skip
    memo_lines: list[dict[str, Any]] = []
    for i, source in enumerate(draw(st.lists(st.sampled_from(invoice_lines), max_size=8))):
        q = Decimal(draw(st.integers(1, int(Decimal(source["quantity"])))))
        p = draw(st.one_of(st.just(Decimal(source["unit_price"])), prices))
        memo_lines.append(
            {**source, "id": f"m-{i}", "sequence": (i + 1) * 10000, "quantity": str(q),
             "unit_price": str(p), "amount_excluding_tax": str(q * p)}
        )  # fmt: skip
    for j in range(draw(st.integers(0, 3))):
        p = draw(prices)
        memo_lines.append(
            {
                "id": f"own-{j}", "sequence": 900000 + j, "line_type": "Account",
                "line_object_number": "40900", "description": draw(st.text(max_size=20)),
                "quantity": "1", "unit_price": str(p), "amount_excluding_tax": str(p),
            }
        )  # fmt: skip
    if draw(st.booleans()):
        memo_lines.insert(0, {"id": "c", "sequence": 1, "line_type": "Comment"})
    net = sum((Decimal(x.get("amount_excluding_tax", 0)) for x in memo_lines), Decimal(0))
    tax = draw(prices)
    memo = {
        "id": "m", "number": "PCM-9", "lines": memo_lines,
        "total_amount_excluding_tax": str(net), "total_tax_amount": str(tax),
        "total_amount_including_tax": str(net + tax),
    }  # fmt: skip
    invoice = {"id": "i", "lines": invoice_lines}
    return invoice, memo, currency


@settings(max_examples=300, deadline=None)
@given(invoice_and_memo())
def test_the_lines_always_add_up_to_the_memo_total_exactly(
    case: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    invoice, memo, currency = case
    total = to_minor(Decimal(memo["total_amount_including_tax"]), currency)
    result = credit_note_lines(memo, invoice, currency)
    if not any(Decimal(x.get("amount_excluding_tax", 0)) for x in memo["lines"]):
        assert isinstance(result, AmountOnly)  # nothing to credit line by line
        return
    result = itemized(result)
    assert sum(x["amount_minor"] for x in result.lines) == total
    assert all(isinstance(x["amount_minor"], int) and x["amount_minor"] > 0 for x in result.lines)
    ids = [x["bc_invoice_line_id"] for x in result.lines if "bc_invoice_line_id" in x]
    assert set(ids) <= {x["id"] for x in invoice["lines"]}
    assert result.matched == len(ids)


@settings(max_examples=200, deadline=None)
@given(invoice_and_memo(), st.integers(-(10**6), 10**6).filter(bool))
def test_lines_are_never_sent_when_they_would_miss_the_total(
    case: tuple[dict[str, Any], dict[str, Any], str], off: int
) -> None:
    invoice, memo, currency = case
    step = Decimal(1).scaleb(-CURRENCIES[currency])
    memo["total_amount_including_tax"] = str(
        Decimal(memo["total_amount_including_tax"]) + off * step
    )
    assert isinstance(credit_note_lines(memo, invoice, currency), AmountOnly)
