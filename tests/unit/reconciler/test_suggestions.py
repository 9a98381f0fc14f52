"""The ranking of open BC invoices for a Stripe payment the connector could not match.

The clerk reads the order, the strength and the reasons; the tests hold each to what the
module promises: amount and currency first, never a strong match across currencies, plain-words
reasons, exact money (minor units), and an order that only the facts decide. The properties
run Hypothesis over random payments and candidates.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from mlconnector import money
from reconciler.adapters.open_invoices import OpenInvoice
from reconciler.adapters.open_invoices import OpenInvoiceQuery
from reconciler.suggestions import PaymentFacts
from reconciler.suggestions import Strength
from reconciler.suggestions import Suggestion
from reconciler.suggestions import assess
from reconciler.suggestions import candidate_queries
from reconciler.suggestions import invoice_hints
from reconciler.suggestions import rank

PAID_ON = dt.date(2026, 5, 10)


def payment(**changes: Any) -> PaymentFacts:
    facts = PaymentFacts(
        amount_minor=40000,
        currency="usd",
        paid_on=PAID_ON,
        customer_email="ap@adatum.example",
        customer_name="Adatum Corporation",
    )
    return dataclasses.replace(facts, **changes)


def invoice(**changes: Any) -> OpenInvoice:
    base = OpenInvoice(
        id="inv-1",
        number="PS-INV103005",
        customer_number="C10000",
        customer_name="Someone Else Ltd",
        customer_email="billing@elsewhere.example",
        currency="USD",
        total_amount=Decimal("900.00"),
        remaining_amount=Decimal("900.00"),
        invoice_date=dt.date(2026, 4, 1),
        due_date=dt.date(2026, 6, 30),
    )
    return dataclasses.replace(base, **changes)


def ids(suggestions: list[Suggestion]) -> list[str]:
    return [s.invoice.id for s in suggestions]


class TestReasons:
    def test_the_reasons_a_clerk_reads_for_a_full_match(self) -> None:
        match = invoice(
            remaining_amount=Decimal("400.00"),
            total_amount=Decimal("400.00"),
            customer_email="AP@adatum.example",
            due_date=dt.date(2026, 5, 7),
        )

        found = assess(payment(), match)

        assert found.reasons == (
            "same amount",
            "same currency",
            "customer e-mail matches",
            "due 3 days before the payment",
        )
        assert found.strength is Strength.STRONG

    @pytest.mark.parametrize(
        ("remaining", "total", "reason"),
        [
            ("500.00", "500.00", "pays part of the open amount (400.00 USD of 500.00 USD)"),
            ("300.00", "300.00", "more than the open amount, by 100.00 USD"),
            ("150.00", "400.00", "same as the invoice total; 150.00 USD is open"),
        ],
    )
    def test_an_amount_that_differs_says_how(self, remaining: str, total: str, reason: str) -> None:
        found = assess(
            payment(), invoice(remaining_amount=Decimal(remaining), total_amount=Decimal(total))
        )
        assert found.reasons[:2] == (reason, "same currency")

    def test_a_different_currency_is_said_and_amounts_are_not_compared(self) -> None:
        found = assess(payment(), invoice(currency="EUR", remaining_amount=Decimal("400.00")))
        assert found.reasons[0] == "different currency (invoice in EUR, payment in USD)"
        assert "same amount" not in found.reasons
        assert found.strength is Strength.WEAK

    @pytest.mark.parametrize(
        ("due", "reason"),
        [
            (dt.date(2026, 5, 10), "due on the payment date"),
            (dt.date(2026, 5, 9), "due 1 day before the payment"),
            (dt.date(2026, 5, 24), "due 14 days after the payment"),
        ],
    )
    def test_the_due_date_is_told_from_the_payment(self, due: dt.date, reason: str) -> None:
        assert reason in assess(payment(), invoice(due_date=due)).reasons

    def test_the_invoice_number_named_in_the_payment_whole_or_by_its_end(self) -> None:
        named = assess(payment(invoice_hints=("ps-inv 103005",)), invoice())
        end = assess(payment(invoice_hints=("103005",)), invoice())
        assert "the payment names invoice PS-INV103005" in named.reasons
        assert "the payment names 103005, the end of invoice number PS-INV103005" in end.reasons
        assert named.score > end.score > assess(payment(), invoice()).score

    def test_names_match_regardless_of_case_and_punctuation_or_are_similar(self) -> None:
        same = assess(payment(), invoice(customer_name="ADATUM, Corporation"))
        similar = assess(payment(), invoice(customer_name="Adatum"))
        assert "customer name matches" in same.reasons
        assert "customer name is similar" in similar.reasons

    def test_an_invoice_issued_after_the_payment_is_never_strong(self) -> None:
        later = invoice(
            remaining_amount=Decimal("400.00"),
            customer_email="ap@adatum.example",
            invoice_date=dt.date(2026, 5, 12),
        )
        found = assess(payment(), later)
        assert "issued 2 days after the payment" in found.reasons
        assert found.strength is Strength.POSSIBLE

    def test_amounts_a_currency_cannot_hold_are_not_compared_rather_than_rounded(self) -> None:
        odd = invoice(remaining_amount=Decimal("400.001"))
        found = assess(payment(), odd)
        assert found.reasons[0].startswith("the amounts cannot be compared")
        assert found.strength is Strength.WEAK


class TestStrength:
    def test_the_same_amount_alone_is_only_possible(self) -> None:
        found = assess(payment(), invoice(remaining_amount=Decimal("400.00")))
        assert found.strength is Strength.POSSIBLE

    def test_a_partial_payment_naming_its_invoice_is_strong(self) -> None:
        found = assess(payment(invoice_hints=("PS-INV103005",)), invoice())
        assert found.strength is Strength.STRONG

    def test_nothing_in_common_is_weak(self) -> None:
        assert assess(payment(), invoice()).strength is Strength.WEAK

    def test_three_decimal_currencies_compare_exactly(self) -> None:
        kwd = payment(currency="kwd", amount_minor=12340)
        found = assess(kwd, invoice(currency="KWD", remaining_amount=Decimal("12.340")))
        assert found.reasons[0] == "same amount"


class TestRank:
    def test_amount_and_currency_come_first(self) -> None:
        exact = invoice(id="exact", remaining_amount=Decimal("400.00"))
        named_elsewhere = invoice(
            id="eur",
            currency="EUR",
            remaining_amount=Decimal("400.00"),
            customer_email="ap@adatum.example",
            customer_name="Adatum Corporation",
        )
        unrelated = invoice(id="unrelated")

        ranked = rank(payment(), [unrelated, named_elsewhere, exact])

        assert ids(ranked) == ["exact", "eur", "unrelated"]

    def test_each_invoice_once_even_when_several_searches_found_it(self) -> None:
        one = invoice(id="a")
        assert ids(rank(payment(), [one, one, invoice(id="b"), one])) == ["a", "b"]

    def test_ties_go_to_the_due_date_nearest_the_payment(self) -> None:
        near = invoice(id="near", due_date=dt.date(2026, 5, 1))
        far = invoice(id="far", due_date=dt.date(2026, 1, 1))
        assert ids(rank(payment(), [far, near])) == ["near", "far"]

    def test_a_float_amount_is_refused(self) -> None:
        with pytest.raises(TypeError, match="minor units"):
            PaymentFacts(amount_minor=400.0, currency="usd", paid_on=PAID_ON)  # type: ignore[arg-type]


class TestHintsAndQueries:
    def test_hints_are_the_number_like_words_of_description_and_metadata(self) -> None:
        found = invoice_hints("Payment for ps-inv103005 (May)", None, "103005", "ps-inv103005")
        assert found == ("PS-INV103005", "103005")

    def test_words_without_digits_or_too_long_are_not_hints(self) -> None:
        assert invoice_hints("Consulting services", "X" * 19 + "12") == ()

    def test_the_searches_for_a_payment(self) -> None:
        facts = payment(invoice_hints=("PS-INV103005",), customer_name="Smith & Sons")
        assert candidate_queries(facts) == (
            OpenInvoiceQuery(currency="USD", amount=Decimal("400.00")),
            OpenInvoiceQuery(customer_email="ap@adatum.example"),
            OpenInvoiceQuery(q="PS-INV103005"),
            OpenInvoiceQuery(q="Smith"),  # '&' is refused by the gateway's search
        )

    def test_the_query_string_the_gateway_reads(self) -> None:
        query = OpenInvoiceQuery(
            q="Adatum", customer_email="a@b.example", currency="eur", amount=Decimal("1E+2")
        )
        assert query.params() == {
            "top": "20",
            "q": "Adatum",
            "customerEmail": "a@b.example",
            "currency": "EUR",
            "amount": "100",
        }


# -- properties ---------------------------------------------------------------------------------

CURRENCIES = ("usd", "eur", "jpy", "kwd")
NAMES = ("Adatum Corporation", "Adatum", "Trey Research", "Fabrikam", "")
EMAILS = ("ap@adatum.example", "AP@ADATUM.EXAMPLE", "billing@trey.example", "")
NUMBERS = ("PS-INV103005", "PS-INV103006", "INV-7", "103005")
DAYS = st.integers(min_value=-90, max_value=90)


@st.composite
def payments(draw: st.DrawFn) -> PaymentFacts:
    return PaymentFacts(
        amount_minor=draw(st.integers(min_value=1, max_value=10**9)),
        currency=draw(st.sampled_from(CURRENCIES)),
        paid_on=PAID_ON,
        customer_email=draw(st.sampled_from(EMAILS)),
        customer_name=draw(st.sampled_from(NAMES)),
        invoice_hints=tuple(draw(st.lists(st.sampled_from(NUMBERS), max_size=2))),
    )


@st.composite
def candidates(draw: st.DrawFn, ident: str) -> OpenInvoice:
    currency = draw(st.sampled_from(CURRENCIES))
    remaining = draw(st.integers(min_value=1, max_value=10**9))
    paid = draw(st.integers(min_value=0, max_value=10**9))
    return OpenInvoice(
        id=ident,
        number=draw(st.sampled_from(NUMBERS)),
        customer_number="C" + ident,
        customer_name=draw(st.sampled_from(NAMES)),
        customer_email=draw(st.sampled_from(EMAILS)),
        currency=currency.upper(),
        total_amount=money.from_minor(remaining + paid, currency),
        remaining_amount=money.from_minor(remaining, currency),
        invoice_date=PAID_ON + dt.timedelta(days=draw(DAYS)),
        due_date=draw(st.none() | DAYS.map(lambda d: PAID_ON + dt.timedelta(days=d))),
    )


@st.composite
def candidate_lists(draw: st.DrawFn) -> list[OpenInvoice]:
    count = draw(st.integers(min_value=0, max_value=6))
    return [draw(candidates(f"i{n}")) for n in range(count)]


def exact_for(facts: PaymentFacts, template: OpenInvoice, ident: str) -> OpenInvoice:
    """``template``, but in the payment's currency with exactly the payment still open."""
    amount = money.from_minor(facts.amount_minor, facts.currency)
    return dataclasses.replace(
        template,
        id=ident,
        currency=facts.currency.upper(),
        remaining_amount=amount,
        total_amount=amount,
    )


def matches_exactly(facts: PaymentFacts, candidate: OpenInvoice) -> bool:
    return (
        candidate.currency.lower() == facts.currency
        and money.to_minor(candidate.remaining_amount, facts.currency) == facts.amount_minor
    )


class TestProperties:
    @settings(max_examples=300, deadline=None)
    @given(payments(), candidate_lists(), st.data())
    def test_adding_an_exact_amount_match_never_ranks_it_below_a_non_matching_candidate(
        self, facts: PaymentFacts, others: list[OpenInvoice], data: st.DataObject
    ) -> None:
        """The exact match outranks its twin (every other fact the same) and every candidate
        that is only a weak match."""
        twin = data.draw(st.sampled_from(others)) if others else data.draw(candidates("twin"))
        exact = exact_for(facts, twin, "exact")
        ranked = rank(facts, [*others, exact])
        order = ids(ranked)
        for suggestion in ranked:
            other = suggestion.invoice
            if other.id == "exact" or matches_exactly(facts, other):
                continue
            if other.id == twin.id or suggestion.strength is Strength.WEAK:
                assert order.index("exact") < order.index(other.id), (other, exact)

    @settings(max_examples=300, deadline=None)
    @given(payments(), candidate_lists(), st.data())
    def test_making_a_candidate_an_exact_match_never_moves_it_down(
        self, facts: PaymentFacts, others: list[OpenInvoice], data: st.DataObject
    ) -> None:
        template = data.draw(candidates("it"))
        before = ids(rank(facts, [*others, template])).index("it")
        after = ids(rank(facts, [*others, exact_for(facts, template, "it")])).index("it")
        assert after <= before

    @settings(max_examples=300, deadline=None)
    @given(payments(), candidate_lists())
    def test_a_different_currency_is_never_strong_nor_above_an_exact_match(
        self, facts: PaymentFacts, found: list[OpenInvoice]
    ) -> None:
        ranked = rank(facts, found)
        for suggestion in ranked:
            if suggestion.invoice.currency.lower() != facts.currency:
                assert suggestion.strength is not Strength.STRONG
                for better in ranked[ranked.index(suggestion) :]:
                    assert not matches_exactly(facts, better.invoice)

    @settings(max_examples=200, deadline=None)
    @given(payments(), candidate_lists(), st.randoms(use_true_random=False))
    def test_the_order_depends_on_the_facts_only_and_keeps_every_candidate(
        self, facts: PaymentFacts, found: list[OpenInvoice], shuffler: random.Random
    ) -> None:
        shuffled = list(found)
        shuffler.shuffle(shuffled)
        ranked = rank(facts, found)
        assert ids(rank(facts, shuffled)) == ids(ranked)
        assert sorted(ids(ranked)) == sorted(c.id for c in found)
        assert all(isinstance(s.score, int) and s.reasons for s in ranked)
