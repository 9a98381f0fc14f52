"""The customer link keeps the BC customer's name and e-mail on every sync (issue 12).

The handlers run on a migrated SQLite database with the gateway ports answering from small
fakes, as in ``test_push_recovery`` (the gateways themselves are tested against the emulators;
``tests/e2e/test_matching.py`` runs a customer change through the whole stack).
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.contracts import Envelope
from reconciler.handlers.customers import customer_digest
from reconciler.handlers.customers import ensure_stripe_customer
from reconciler.handlers.customers import on_customer_observed
from reconciler.handlers.stripe_changes import on_stripe_customer_updated
from reconciler.models import CustomerLink
from reconciler.models import RecordKind
from reconciler.unit import Unit

COMPANY, CUSTOMER, NUMBER, STRIPE_ID = "c0mpany", "cust-1", "C10001", "cus_1"
T0 = dt.datetime(2026, 12, 8, 10, 0, 0, tzinfo=dt.UTC)


class FakeStripeGateway:
    """The stripe-gateway's customer command: notes what it was sent, answers one id."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def ensure_customer(self, command: Mapping[str, Any]) -> dict[str, Any]:
        self.sent.append(dict(command))
        return {"stripe_customer_id": STRIPE_ID}


class FakeBcGateway:
    """bc-gateway's customer read, answering with the customer as a test says BC holds it."""

    def __init__(self, customer: dict[str, Any]) -> None:
        self.customer = customer

    def get_customer(self, customer_id: str) -> dict[str, Any]:
        assert customer_id == CUSTOMER
        return dict(self.customer)


def _bc_customer(name: str, email: str | None) -> dict[str, Any]:
    """A customer as bc-gateway answers it (``customer_view``): the name in ``name``."""
    return {"id": CUSTOMER, "number": NUMBER, "name": name, "email": email or ""}


def _observed(entity_id: str = CUSTOMER) -> dict[str, Any]:
    """A BC poll's message data (``contracts.BcObservedDataV1``)."""
    return {"company_id": COMPANY, "entity_id": entity_id, "last_modified": T0}


def _stripe_event(obj: dict[str, Any]) -> dict[str, Any]:
    """A ``customer.updated`` event's message data (``contracts.StripeEventDataV1``)."""
    return {
        "event_id": "evt_1",
        "event_type": "customer.updated",
        "api_version": None,
        "livemode": False,
        "object_type": "customer",
        "object_id": obj["id"],
        "created": int(T0.timestamp()),
        "object": obj,
    }


def _unit(
    sessions: sessionmaker[Session],
    data: dict[str, Any],
    *,
    stripe: FakeStripeGateway,
    bc: FakeBcGateway | None = None,
    kind: str = "bc.customer.observed",
) -> Unit:
    envelope = Envelope(
        id=f"msg-{len(stripe.sent)}-{kind}",
        type=kind,
        source="stripe" if kind.startswith("stripe") else "bc",
        occurred_at=T0,
        received_at=T0,
        correlation_id="corr-1",
        data=data,
    )
    return Unit(sessions, envelope, actor="test", deps=types.SimpleNamespace(stripe=stripe, bc=bc))


def _close(sessions: sessionmaker[Session], unit: Unit) -> None:
    """What the processor's closing transaction does: the deferred writes and the steps."""
    with sessions.begin() as session:
        unit.run_deferred(session)
        unit.flush_steps(session)


def _link(sessions: sessionmaker[Session]) -> CustomerLink:
    with sessions() as session:
        link = session.scalars(select(CustomerLink)).one()
        session.expunge(link)
        return link


def _linked(sessions: sessionmaker[Session], name: str | None, email: str | None) -> None:
    """A link whose digest says Stripe has ``name`` and ``email``; the link keeps no names,
    as one written before migration 0010."""
    digest = customer_digest(
        {
            "bc_company_id": COMPANY,
            "bc_customer_id": CUSTOMER,
            "bc_customer_number": NUMBER,
            "name": name or "",
            "email": email,
        }
    )
    with sessions.begin() as session:
        session.add(
            CustomerLink(
                bc_company_id=COMPANY,
                bc_customer_id=CUSTOMER,
                bc_customer_number=NUMBER,
                stripe_customer_id=STRIPE_ID,
                synced_digest=digest,
            )
        )


class TestEnsureStripeCustomer:
    def test_the_first_link_keeps_the_customers_name_and_email(
        self, sessions: sessionmaker[Session]
    ) -> None:
        stripe = FakeStripeGateway()
        unit = _unit(sessions, _observed("inv-1"), stripe=stripe, kind="bc.invoice.observed")
        record_id = unit.record(RecordKind.INVOICE, f"bc:{COMPANY}:invoice:inv-1")
        # The BC invoice's customer, as the invoice push hands it over.
        customer = {
            "id": CUSTOMER,
            "number": NUMBER,
            "displayName": "  Fabrikam, Inc.",
            "email": "AP@Fabrikam.com",
        }

        assert ensure_stripe_customer(unit, record_id, COMPANY, customer) == STRIPE_ID
        _close(sessions, unit)

        link = _link(sessions)
        assert (link.name, link.email) == ("Fabrikam, Inc.", "AP@Fabrikam.com")
        assert (link.name_key, link.email_key) == ("fabrikam, inc.", "ap@fabrikam.com")
        assert len(stripe.sent) == 1

    def test_an_unchanged_customer_costs_no_stripe_call_and_still_gets_its_names(
        self, sessions: sessionmaker[Session]
    ) -> None:
        _linked(sessions, "Fabrikam, Inc.", "ap@fabrikam.com")
        stripe = FakeStripeGateway()
        bc = FakeBcGateway(_bc_customer("Fabrikam, Inc.", "ap@fabrikam.com"))
        unit = _unit(sessions, _observed(), stripe=stripe, bc=bc)

        on_customer_observed(unit)
        _close(sessions, unit)

        assert stripe.sent == []  # nothing changed in Stripe's view
        link = _link(sessions)
        assert (link.name, link.email) == ("Fabrikam, Inc.", "ap@fabrikam.com")
        assert link.email_key == "ap@fabrikam.com"

    @pytest.mark.parametrize(
        ("name", "email"),
        [("Fabrikam Holdings", "Payables@Fabrikam.example"), ("Fabrikam, Inc.", None)],
        ids=["renamed", "email-removed"],
    )
    def test_a_change_in_bc_updates_stripe_and_the_links_name_and_email(
        self, sessions: sessionmaker[Session], name: str, email: str | None
    ) -> None:
        _linked(sessions, "Fabrikam, Inc.", "ap@fabrikam.com")
        with sessions.begin() as session:
            link = session.scalars(select(CustomerLink)).one()
            link.name, link.email = "Fabrikam, Inc.", "ap@fabrikam.com"
        stripe = FakeStripeGateway()
        bc = FakeBcGateway(_bc_customer(name, email))
        unit = _unit(sessions, _observed(), stripe=stripe, bc=bc)

        on_customer_observed(unit)
        _close(sessions, unit)

        assert [(c["name"], c["email"]) for c in stripe.sent] == [(name, email)]
        link = _link(sessions)
        assert (link.name, link.email) == (name, email)
        assert link.name_key == name.casefold()
        assert link.email_key == (email.casefold() if email else None)


class TestStripeCustomerChanged:
    def test_the_bc_customer_read_for_a_stripe_change_refreshes_the_links_names(
        self, sessions: sessionmaker[Session]
    ) -> None:
        _linked(sessions, "Fabrikam, Inc.", "ap@fabrikam.com")
        stripe = FakeStripeGateway()
        bc = FakeBcGateway(_bc_customer("Fabrikam, Inc.", "ap@fabrikam.com"))
        edited_in_stripe = {"id": STRIPE_ID, "name": "Fab Inc", "email": "ap@fabrikam.com"}
        unit = _unit(
            sessions,
            _stripe_event(edited_in_stripe),
            stripe=stripe,
            bc=bc,
            kind="stripe.event.customer.updated",
        )

        on_stripe_customer_updated(unit)
        _close(sessions, unit)

        link = _link(sessions)
        assert (link.name, link.email) == ("Fabrikam, Inc.", "ap@fabrikam.com")
        assert stripe.sent == []
