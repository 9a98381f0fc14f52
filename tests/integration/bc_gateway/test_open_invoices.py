"""``GET /commands/invoices/open`` against the BC emulator over HTTPS: finding what a payment pays.

Each test seeds one small ledger: open invoices in USD (the company's local currency) and EUR
for three customers, one paid, one partly paid, one still a draft, and asks the gateway as the
reconciler does. The gateway is this directory's production-built app; the last tests serve it
over real HTTP and call it through the reconciler's own adapter, then rank what it found.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from authorization_matrix import right_caller
from authorization_matrix import wrong_caller
from factories import RECONCILER_KEY

from bc_gateway import create_app
from bc_gateway.adapters.bc_errors import BCPermanentError
from bc_gateway.api.access import PERMISSIONS
from bc_gateway.bootstrap import Dependencies
from mlconnector.identity import TokenIssuer
from reconciler.adapters.gateways import HttpBcGateway
from reconciler.adapters.open_invoices import OpenInvoiceQuery
from reconciler.suggestions import PaymentFacts
from reconciler.suggestions import Strength
from reconciler.suggestions import invoice_hints
from reconciler.suggestions import rank

pytestmark = pytest.mark.rabbitmq

OPEN = "/commands/invoices/open"
TODAY = dt.date.today()


@dataclasses.dataclass(frozen=True)
class Ledger:
    """The seeded invoices by role: ``id`` and posted ``number`` of each."""

    invoices: dict[str, dict[str, Any]]

    def id(self, role: str) -> str:
        return str(self.invoices[role]["id"])

    def number(self, role: str) -> str:
        return str(self.invoices[role]["number"])

    def ids(self, *roles: str) -> list[str]:
        return [self.id(role) for role in roles]


def _invoice(
    admin: Any, company: Any, customer_id: str, price: str, due_in: int, *, post: bool = True
) -> dict[str, Any]:
    line = {
        "lineType": "Account",
        "lineObjectNumber": "40100",
        "description": "Consulting",
        "quantity": 1,
        "unitPrice": Decimal(price),
    }
    body = {
        "customerId": customer_id,
        "dueDate": (TODAY + dt.timedelta(days=due_in)).isoformat(),
        "lines": [line],
        "post": post,
    }
    created: dict[str, Any] = company.seed(admin, "invoices", body)
    return created


def _pay(client: Any, invoice_id: str, amount: str, reference: str) -> None:
    body = {
        "bc_invoice_id": invoice_id,
        "amount": f"-{amount}",
        "currency": "usd",
        "external_document_number": reference,
        "posting_date": TODAY.isoformat(),
    }
    assert client.post("/commands/payments", json=body).status_code == 201


@pytest.fixture
def ledger(client: Any, admin: Any, company: Any) -> Ledger:
    """Adatum (USD, LCY), Trey Research (EUR) and Fabrikam (USD) with their invoices."""
    fabrikam = company.seed(
        admin,
        "customers",
        {"number": "C30000", "displayName": "Fabrikam Inc", "email": "accounts@fabrikam.example"},
    )
    usd, eur, fab = company.customer_id, company.eur_customer_id, fabrikam["id"]
    invoices = {
        "adatum_400": _invoice(admin, company, usd, "400.00", due_in=10),
        "adatum_250": _invoice(admin, company, usd, "250.00", due_in=3),
        "trey_400": _invoice(admin, company, eur, "400.00", due_in=5),
        "trey_125": _invoice(admin, company, eur, "125.50", due_in=20),
        "fabrikam_400": _invoice(admin, company, fab, "400.00", due_in=1),
        "fabrikam_partly_paid": _invoice(admin, company, fab, "900.00", due_in=30),
        "adatum_paid": _invoice(admin, company, usd, "400.00", due_in=2),
        "adatum_draft": _invoice(admin, company, usd, "400.00", due_in=4, post=False),
    }
    _pay(client, invoices["adatum_paid"]["id"], "400.00", "pi_3PaidInFull")
    _pay(client, invoices["fabrikam_partly_paid"]["id"], "500.00", "pi_3PaidInPart")
    assert client.post("/commands/payment-journals/STRIPE/post").status_code == 200
    return Ledger(invoices)


def search(client: Any, **params: str) -> dict[str, Any]:
    response = client.get(OPEN, query_string=params)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def found(client: Any, **params: str) -> list[str]:
    return [row["id"] for row in search(client, **params)["value"]]


class TestRows:
    def test_every_open_invoice_by_due_date_paid_and_drafts_left_out(
        self, client: Any, ledger: Ledger
    ) -> None:
        body = search(client)

        assert [row["id"] for row in body["value"]] == ledger.ids(
            "fabrikam_400", "adatum_250", "trey_400", "adatum_400", "trey_125",
            "fabrikam_partly_paid",
        )  # fmt: skip
        assert (body["count"], body["more"]) == (6, False)

    def test_a_row_has_the_customer_iso_currency_and_exact_decimal_strings(
        self, client: Any, ledger: Ledger
    ) -> None:
        rows = {row["id"]: row for row in search(client)["value"]}

        row = rows[ledger.id("adatum_400")]
        assert row == {
            "id": ledger.id("adatum_400"),
            "number": ledger.number("adatum_400"),
            "customer_number": "C10000",
            "customer_name": "Adatum Corporation",
            "customer_email": "ap@adatum.example",
            "currency": "USD",  # the local currency: blank in BC, its ISO code here
            "total_amount": row["total_amount"],
            "remaining_amount": row["remaining_amount"],
            "invoice_date": TODAY.isoformat(),
            "due_date": (TODAY + dt.timedelta(days=10)).isoformat(),
        }
        assert isinstance(row["total_amount"], str)  # BC writes the number as it holds it
        assert Decimal(row["total_amount"]) == Decimal(row["remaining_amount"]) == Decimal(400)
        partly = rows[ledger.id("fabrikam_partly_paid")]
        amounts = (Decimal(partly["total_amount"]), Decimal(partly["remaining_amount"]))
        assert amounts == (Decimal("900.00"), Decimal("400.00"))
        assert rows[ledger.id("trey_125")]["currency"] == "EUR"
        assert rows[ledger.id("trey_125")]["remaining_amount"] == "125.5"


class TestCriteria:
    def test_an_invoice_number_prefix_in_any_case(self, client: Any, ledger: Ledger) -> None:
        number = ledger.number("trey_125")
        assert found(client, q=number) == ledger.ids("trey_125")
        # Fewer than ten invoices were posted: every posted number starts the same way.
        assert found(client, q=number[:-1].lower()) == found(client)

    def test_a_customer_number(self, client: Any, ledger: Ledger) -> None:
        assert found(client, q="c20000") == ledger.ids("trey_400", "trey_125")

    def test_part_of_a_customer_name_in_any_case(self, client: Any, ledger: Ledger) -> None:
        assert found(client, q="TREY res") == ledger.ids("trey_400", "trey_125")
        assert found(client, q="fabrikam") == ledger.ids("fabrikam_400", "fabrikam_partly_paid")

    def test_the_customer_email_as_a_payer_may_have_typed_it(
        self, client: Any, ledger: Ledger
    ) -> None:
        assert found(client, customerEmail="AP@adatum.example") == ledger.ids(
            "adatum_250", "adatum_400"
        )

    def test_a_currency_the_local_one_included(self, client: Any, ledger: Ledger) -> None:
        assert found(client, currency="eur") == ledger.ids("trey_400", "trey_125")
        assert found(client, currency="USD") == ledger.ids(
            "fabrikam_400", "adatum_250", "adatum_400", "fabrikam_partly_paid"
        )
        assert search(client, currency="GBP") == {"value": [], "count": 0, "more": False}

    def test_the_remaining_amount_exactly_whatever_the_total(
        self, client: Any, ledger: Ledger
    ) -> None:
        assert found(client, amount="400", currency="USD") == ledger.ids(
            "fabrikam_400", "adatum_400", "fabrikam_partly_paid"
        )
        assert found(client, amount="400.00") == ledger.ids(
            "fabrikam_400", "trey_400", "adatum_400", "fabrikam_partly_paid"
        )
        assert found(client, amount="125.5", currency="eur") == ledger.ids("trey_125")
        assert found(client, amount="125.51") == []

    def test_criteria_combine_with_and(self, client: Any, ledger: Ledger) -> None:
        assert found(client, q="adatum", amount="400.00", currency="usd") == ledger.ids(
            "adatum_400"
        )
        assert found(client, customerEmail="ap@adatum.example", currency="EUR") == []


class TestPaging:
    def test_top_bounds_the_answer_and_more_says_there_is_more(
        self, client: Any, ledger: Ledger
    ) -> None:
        body = search(client, top="2")
        assert [row["id"] for row in body["value"]] == ledger.ids("fabrikam_400", "adatum_250")
        assert (body["count"], body["more"]) == (2, True)
        exactly = search(client, currency="EUR", top="2")
        assert (exactly["count"], exactly["more"]) == (2, False)

    def test_the_usual_search_is_one_bc_request_and_q_one_per_field(
        self, client: Any, admin: Any, ledger: Ledger
    ) -> None:
        search(client)  # the local currency is read once, then cached

        def cost(**params: str) -> int:
            before = admin.call("GET", "stats")["apiRequests"]
            search(client, **params)
            return int(admin.call("GET", "stats")["apiRequests"] - before)

        assert cost(customerEmail="ap@adatum.example", amount="400.00") == 1
        assert cost(currency="EUR") == 2  # the currency's id, then the invoices
        assert cost(q="Trey") == 3  # number prefix, customer number, customer name
        assert cost(q="Trey Research, Inc") == 1  # a comma: no Code value, the name only


class TestRefusals:
    @pytest.mark.parametrize(
        ("params", "field", "message"),
        [
            ({"currency": "XTS"}, "currency", "XTS"),
            ({"currency": "US"}, "currency", "Not a three-letter currency code."),
            ({"amount": "four hundred"}, "amount", "Not a valid number."),
            ({"amount": "NaN"}, "amount", "Special numeric values (nan or infinity)"),
            ({"amount": "0"}, "amount", "0 is not positive; give the remaining amount"),
            ({"amount": "1.005", "currency": "usd"}, "amount", "1.005 has 3 decimals"),
            ({"amount": "10.5", "currency": "jpy"}, "amount", "at most 0 are allowed"),
            ({"q": "x" * 101}, "q", "is 101 characters long; at most 100 fit"),
            ({"q": "Smith & Sons"}, "q", "BC's filter language reserves them"),
            ({"q": "1..5"}, "q", "BC's filter language reserves them"),
            ({"q": "   "}, "q", "Must not be blank."),
            ({"customerEmail": "not-an-address"}, "customerEmail", "Not a valid email address."),
            ({"top": "0"}, "top", "greater than or equal to 1 and less than or equal to 50"),
            ({"top": "51"}, "top", "greater than or equal to 1 and less than or equal to 50"),
            ({"top": "many"}, "top", "Not a valid integer."),
            ({"status": "Paid"}, "status", "Unknown field."),
        ],
    )
    def test_a_bad_parameter_is_a_422_naming_it_and_bc_is_not_asked(
        self, client: Any, admin: Any, params: dict[str, str], field: str, message: str
    ) -> None:
        before = admin.call("GET", "stats")["apiRequests"]

        response = client.get(OPEN, query_string=params)

        assert response.status_code == 422, response.get_json()
        error = response.get_json()["error"]
        assert error["code"] == "validation_failed"
        assert message in " ".join(error["details"]["fields"][field]), error
        assert admin.call("GET", "stats")["apiRequests"] == before


class TestServiceIdentity:
    def test_only_the_reconcilers_token_with_a_read_grant_gets_an_answer(
        self, deps: Dependencies, company: Any
    ) -> None:
        anonymous = create_app(deps=deps).test_client()
        assert PERMISSIONS["invoices.open_invoices"] == "bc:read"
        assert anonymous.get(OPEN).status_code == 401
        stranger = {"Authorization": wrong_caller("bc-gateway")}
        assert anonymous.get(OPEN, headers=stranger).status_code == 403
        reconciler = {"Authorization": right_caller("bc-gateway")}
        assert anonymous.get(OPEN, headers=reconciler).status_code == 200


class TestEmulatorHoldsTheGatewayToBC:
    def test_a_nested_call_without_schema_version_2_1_is_refused(
        self, deps: Dependencies, company: Any
    ) -> None:
        assert deps.bc is not None
        path = deps.bc.company_path("salesInvoices")
        nested = {"$filter": "contains(tolower(customerName),'adatum')"}
        with pytest.raises(BCPermanentError, match=r"\$schemaversion=2\.1"):
            deps.bc.get(path, nested)
        assert deps.bc.get(path, {**nested, "$schemaversion": "2.1"})["value"] == []


class TestThroughTheReconcilersAdapter:
    def test_the_adapter_reads_typed_rows_and_the_ranking_puts_the_paid_invoice_first(
        self, live_gateway: Any, ledger: Ledger
    ) -> None:
        gateway = HttpBcGateway(
            f"http://127.0.0.1:{live_gateway.server.server_port}",
            authorization=TokenIssuer(RECONCILER_KEY.to_json).authorization,
        )
        payment = PaymentFacts(
            amount_minor=40000,
            currency="usd",
            paid_on=TODAY + dt.timedelta(days=11),
            customer_email="AP@adatum.example",
            customer_name="Adatum Corp.",
            invoice_hints=invoice_hints("Stripe payment"),
        )

        by_amount = gateway.search_open_invoices(
            OpenInvoiceQuery(currency="usd", amount=Decimal("400.00"))
        )
        by_email = gateway.search_open_invoices(
            OpenInvoiceQuery(customer_email=payment.customer_email)
        )
        suggestions = rank(payment, [*by_amount.invoices, *by_email.invoices])

        assert not by_amount.more
        first = suggestions[0]
        assert first.invoice.id == ledger.id("adatum_400")
        assert first.invoice.remaining_amount == Decimal("400.00")
        assert first.invoice.due_date == TODAY + dt.timedelta(days=10)
        assert first.strength is Strength.STRONG
        assert first.reasons[:3] == ("same amount", "same currency", "customer e-mail matches")
        assert "due 1 day before the payment" in first.reasons
        assert {s.invoice.id for s in suggestions} == set(
            ledger.ids("fabrikam_400", "adatum_400", "fabrikam_partly_paid", "adatum_250")
        )
