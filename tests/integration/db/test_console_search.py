"""The queue's search by a customer's name or e-mail, on SQLite and PostgreSQL (issue 12).

A clerk types what they know a customer as; the queue lists that customer's items and nobody
else's: the customer's own record, its invoices' records (payments included), and unmatched
payments whose payer is the customer or is named. Case never matters, LIKE wildcards typed by
the clerk are letters, and one letter is not looked for inside names.
"""

from __future__ import annotations

from typing import Any

import pytest
from factories import random_ref
from sqlalchemy.orm import Session

from reconciler.console import queue_data
from reconciler.console.queue_data import QueueFilter
from reconciler.console.queue_data import all_rows
from reconciler.console.queue_data import queue_page
from reconciler.models import CustomerLink
from reconciler.models import InvoiceLink
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.payers import payer_of

COMPANY = "c0mpany"


def _add(session: Session, *rows: Any) -> None:
    with session.begin_nested():
        session.add_all(rows)


def _customer(session: Session, name: str | None, email: str | None = None) -> CustomerLink:
    link = CustomerLink(
        bc_company_id=COMPANY,
        bc_customer_id=random_ref("cust"),
        bc_customer_number=random_ref("C"),
        stripe_customer_id=random_ref("cus_"),
        name=name,
        email=email,
    )
    _add(session, link)
    return link


def _invoice_items(session: Session, customer: CustomerLink) -> list[str]:
    """Two items of the customer in the queue: a failed invoice and a failed payment of it."""
    bc_invoice = random_ref("inv")
    invoice = SyncRecord(
        kind=RecordKind.INVOICE,
        business_key=f"bc:{COMPANY}:invoice:{bc_invoice}",
        state=RecordState.FAILED,
        bc_ref=bc_invoice,
        stripe_ref=random_ref("in_"),
    )
    payment = SyncRecord(
        kind=RecordKind.PAYMENT,
        business_key=f"stripe:payment:{random_ref('ch_')}",
        state=RecordState.FAILED,
        bc_ref=bc_invoice,
        stripe_ref=random_ref("ch_"),
    )
    link = InvoiceLink(
        bc_company_id=COMPANY,
        bc_invoice_id=bc_invoice,
        bc_invoice_number=random_ref("S-INV"),
        stripe_invoice_id=str(invoice.stripe_ref),
        currency="usd",
        total_minor=10_000,
        bc_customer_id=customer.bc_customer_id,
    )
    _add(session, invoice, payment, link)
    return [str(invoice.stripe_ref), str(payment.stripe_ref)]


def _unmatched_payment(session: Session, charge: dict[str, Any]) -> str:
    """An unmatched payment whose payer facts are kept as the handler keeps them."""
    charge_id = random_ref("ch_")
    record = SyncRecord(
        kind=RecordKind.PAYMENT,
        business_key=f"stripe:payment:{charge_id}",
        state=RecordState.UNMATCHED,
        stripe_ref=charge_id,
        amount_minor=2500,
        currency="usd",
        flags={"payer": payer_of(charge)},
    )
    _add(session, record)
    return charge_id


def _found(session: Session, q: str) -> set[str]:
    return {str(r.stripe_ref) for r in all_rows(session, QueueFilter(q=q))}


@pytest.fixture
def fabrikam(session: Session) -> CustomerLink:
    return _customer(session, "Fabrikam, Inc.", "AP@Fabrikam.com")


@pytest.fixture
def contoso(session: Session) -> CustomerLink:
    return _customer(session, "Contoso Ltd", "billing@contoso.example")


class TestByCustomerName:
    def test_part_of_the_name_in_any_case_finds_that_customers_items_only(
        self, session: Session, fabrikam: CustomerLink, contoso: CustomerLink
    ) -> None:
        theirs = _invoice_items(session, fabrikam)
        others = _invoice_items(session, contoso)

        for typed in ("Fabrikam", "fabrikam", "FABRIKAM", "brik", "kam, inc", "  Fabrikam "):
            assert _found(session, QueueFilter.parse({"q": typed}).q or "") == set(theirs), typed
        assert _found(session, "Contoso") == set(others)
        assert _found(session, "Northwind") == set()

    def test_the_customers_own_record_is_found_too(
        self, session: Session, fabrikam: CustomerLink
    ) -> None:
        own = SyncRecord(
            kind=RecordKind.CUSTOMER,
            business_key=f"bc:{COMPANY}:customer:{fabrikam.bc_customer_id}",
            state=RecordState.SUCCEEDED,
            bc_ref=fabrikam.bc_customer_id,
            stripe_ref=fabrikam.stripe_customer_id,
            flags={"needs_person": "changed_in_stripe"},
        )
        _add(session, own)

        assert _found(session, "fabrikam") == {fabrikam.stripe_customer_id}

    def test_one_character_does_not_match_every_name(
        self, session: Session, fabrikam: CustomerLink, contoso: CustomerLink
    ) -> None:
        _invoice_items(session, fabrikam)
        _invoice_items(session, contoso)

        # Both names hold an "a", an "o", a "t"...
        for typed in ("a", "o", "T"):
            assert _found(session, typed) == set(), typed
        # ... and two characters are looked for inside names.
        assert len(_found(session, "ab")) == 2

    def test_case_is_folded_alike_on_both_databases_beyond_ascii(self, session: Session) -> None:
        # Python folds both sides (PostgreSQL's LIKE is case-sensitive, SQLite's folds ASCII).
        shop = _customer(session, "Großhandel Straße GmbH")
        items = _invoice_items(session, shop)

        assert _found(session, "STRASSE") == set(items)
        assert _found(session, "großhandel") == set(items)


class TestByEmail:
    def test_the_customers_email_in_any_case_finds_their_items(
        self, session: Session, fabrikam: CustomerLink, contoso: CustomerLink
    ) -> None:
        theirs = _invoice_items(session, fabrikam)
        _invoice_items(session, contoso)

        assert _found(session, "ap@fabrikam.com") == set(theirs)
        assert _found(session, "AP@FABRIKAM.COM") == set(theirs)

    def test_part_of_an_email_is_not_an_email(
        self, session: Session, fabrikam: CustomerLink
    ) -> None:
        _invoice_items(session, fabrikam)

        assert _found(session, "p@fabrikam.com") == set()


class TestUnmatchedPayments:
    def test_the_payers_email_or_whole_name_finds_the_payment(
        self, session: Session, contoso: CustomerLink
    ) -> None:
        _invoice_items(session, contoso)
        charge = _unmatched_payment(
            session, {"billing_details": {"email": "Jane@Walk-In.example", "name": "Jane Doe"}}
        )
        receipt_only = _unmatched_payment(session, {"receipt_email": "bob@walk-in.example"})

        assert _found(session, "jane@walk-in.example") == {charge}
        assert _found(session, "JANE DOE") == {charge}
        assert _found(session, "Bob@Walk-In.example") == {receipt_only}
        assert _found(session, "walk-in") == set()

    def test_a_payer_who_is_a_linked_customer_is_found_by_the_customers_name_and_number(
        self, session: Session, fabrikam: CustomerLink, contoso: CustomerLink
    ) -> None:
        theirs = _invoice_items(session, fabrikam)
        by_stripe_customer = _unmatched_payment(
            session, {"customer": fabrikam.stripe_customer_id, "billing_details": {}}
        )
        by_email = _unmatched_payment(
            session, {"billing_details": {"email": "ap@fabrikam.com", "name": "A. Clerk"}}
        )
        _unmatched_payment(session, {"customer": contoso.stripe_customer_id})

        payments = {by_stripe_customer, by_email}
        assert _found(session, "fabrikam") == set(theirs) | payments
        assert _found(session, "AP@fabrikam.com") == set(theirs) | payments
        assert _found(session, str(fabrikam.bc_customer_number)) == set(theirs) | payments
        assert _found(session, fabrikam.stripe_customer_id) == set(theirs) | payments

    def test_a_payment_no_longer_waiting_for_a_person_is_not_listed(self, session: Session) -> None:
        charge = _unmatched_payment(session, {"billing_details": {"email": "x@y.example"}})
        with session.begin_nested():
            record = session.query(SyncRecord).filter_by(stripe_ref=charge).one()
            record.flags = {**record.flags, "handled": {"what": "unmatched", "by": "Chris"}}

        assert _found(session, "x@y.example") == set()


class TestWildcards:
    @pytest.mark.parametrize(
        ("typed", "expected"),
        [
            ("100%", {"100% Natural"}),
            ("0%", {"100% Natural"}),
            ("a_b", {"A_B Trading"}),
            ("%%", set()),
            ("__", set()),
            ("%_", set()),
            ("\\", set()),
            ("\\b", set()),
            ("/_", set()),
            ("a/", {"a/b"}),
        ],
    )
    def test_like_wildcards_a_clerk_types_are_letters(
        self, session: Session, typed: str, expected: set[str]
    ) -> None:
        names = ("100% Natural", "1000 Natural Foods", "A_B Trading", "AxB Trading", "a/b")
        found: dict[str, str] = {}
        for name in names:
            customer = _customer(session, name)
            for ref in _invoice_items(session, customer):
                found[ref] = name

        assert {found[ref] for ref in _found(session, typed)} == expected


class TestManyCustomers:
    def test_customers_looked_up_in_the_statement_give_what_listed_ones_give(
        self, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        north = [_customer(session, f"{name} North", f"ap@{name}.example") for name in "abc"]
        _customer(session, "South Ltd", "ap@south.example")
        expected = set()
        for customer in north:
            expected |= set(_invoice_items(session, customer))
        expected |= {
            _unmatched_payment(session, {"customer": north[0].stripe_customer_id}),
            _unmatched_payment(session, {"billing_details": {"email": "AP@b.example"}}),
        }
        _unmatched_payment(session, {"billing_details": {"email": "ap@south.example"}})

        listed = queue_data.named_customers(session, "north")
        assert listed is not None
        assert len(listed.bc_ids) == 3
        assert _found(session, "north") == expected

        monkeypatch.setattr(queue_data, "MAX_LISTED", 2)
        assert queue_data.named_customers(session, "north") is None
        assert _found(session, "north") == expected
        # The statement alone (no read first) looks every customer up itself.
        statement = queue_data.queue_statement(QueueFilter(q="north"))
        assert {str(r.stripe_ref) for r in session.scalars(statement)} == expected


class TestWhatAnIdSearchCosts:
    def test_text_naming_no_customer_and_no_payer_searches_as_before_names(
        self, session: Session, fabrikam: CustomerLink
    ) -> None:
        for typed in ("S-INV-103001", "ch_3Abc123", "in_1Abc9"):
            customers = queue_data.named_customers(session, typed)
            assert customers == queue_data.Customers()
            statement = queue_data.queue_statement(QueueFilter(q=typed), customers)
            sql = str(statement.compile(session.get_bind()))
            assert "customer_links" not in sql, typed
            assert "payer" not in sql, typed


class TestPages:
    def test_a_name_search_is_keyset_paged_newest_first(
        self, session: Session, fabrikam: CustomerLink
    ) -> None:
        items = _invoice_items(session, fabrikam) + _invoice_items(session, fabrikam)
        items += [_unmatched_payment(session, {"customer": fabrikam.stripe_customer_id})]

        seen: list[str] = []
        flt = QueueFilter(q="Fabrikam")
        while True:
            page = queue_page(session, flt, size=2)
            assert len(page.rows) <= 2
            seen += [str(r.stripe_ref) for r in page.rows]
            ids = [r.id for r in page.rows]
            assert ids == sorted(ids, reverse=True)
            if page.next_before is None:
                break
            flt = QueueFilter(q="Fabrikam", before=page.next_before)

        assert sorted(seen) == sorted(items)
        assert len(seen) == len(set(seen)) == 5
