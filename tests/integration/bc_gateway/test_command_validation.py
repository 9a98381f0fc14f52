"""Commands validate what they are asked (issue 10), against the BC emulator over HTTPS.

Each finding of the trust-boundary review is replayed: an amount of ``-1E+30``, a NUL in an
external document number, a made-up journal name on each command that names one, a payment above
what the invoice has open (without and with the overpayment flag) and a G/L line above its
payout. Each must be a 422 naming the field, and the emulator's own state, read back over HTTP
(its admin API and BC's API), must show that nothing was written: no line, no batch, no posting.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

pytestmark = pytest.mark.rabbitmq

TODAY = dt.date.today().isoformat()


@dataclass
class World:
    """The emulator behind the gateway, read back over HTTP to see what a command wrote."""

    admin: Any
    company: Any
    deps: Any

    def invoice(self, amount: str = "400.00") -> dict[str, Any]:
        """A posted USD invoice of one line, for the seeded customer."""
        body = {
            "customerId": self.company.customer_id,
            "externalDocumentNumber": "in_1Validation",
            "lines": [
                {
                    "lineType": "Account",
                    "lineObjectNumber": "40100",
                    "description": "Consulting",
                    "quantity": 1,
                    "unitPrice": Decimal(amount),
                },
            ],
            "post": True,
        }
        invoice: dict[str, Any] = self.company.seed(self.admin, "invoices", body)
        return invoice

    def batches(self) -> set[tuple[str, str]]:
        """Every cash-receipt and general journal batch BC lists, by set and code."""
        bc = self.deps.bc
        found: set[tuple[str, str]] = set()
        for batch_set in ("customerPaymentJournals", "journals"):
            for page in bc.pages(bc.company_path(batch_set)):
                found.update((batch_set, str(batch["code"])) for batch in page)
        return found

    def state(self) -> dict[str, Any]:
        """Unposted lines of every batch, posted lines, and the batches themselves."""
        where = f"companies/{self.company.id}"
        return {
            "lines": self.admin.call("GET", f"{where}/journalLines")["value"],
            "posted": self.admin.call("GET", f"{where}/postedJournalLines")["value"],
            "batches": self.batches(),
        }

    def api_requests(self) -> int:
        return int(self.admin.call("GET", "stats")["apiRequests"])

    @contextmanager
    def writes_nothing(self, *, asks_bc: bool = True) -> Iterator[None]:
        """BC is unchanged by the block; with ``asks_bc=False`` it was not even asked."""
        before = self.state()
        requests = self.api_requests()
        yield
        asked = self.api_requests() - requests
        after = self.state()
        assert after == before
        if not asks_bc:
            assert asked == 0, f"{asked} BC request(s) for a command refused at the edge"


@pytest.fixture
def world(admin: Any, company: Any, deps: Any) -> World:
    return World(admin, company, deps)


def payment(invoice_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "bc_invoice_id": invoice_id,
        "amount": "-400.00",
        "currency": "usd",
        "external_document_number": "pi_3Validation",
        "posting_date": TODAY,
        "description": "Stripe payment",
    }
    body.update(overrides)
    return body


def payout(*amounts: str, limit: str | None = "100.00", **extra: Any) -> dict[str, Any]:
    """A general-journal-lines command: one fee line per amount against the clearing account."""
    lines = [
        {
            "account_type": "G/L Account",
            "account_number": "60100",
            "amount": value,
            "posting_date": TODAY,
            "document_number": "PO-VALID1",
            "external_document_number": f"po_1Valid-{index}",
            "description": "Stripe fees",
        }
        for index, value in enumerate(amounts)
    ]
    body: dict[str, Any] = {"lines": lines, "post": False, **extra}
    if limit is not None:
        body["limit"] = limit
    return body


def raw(body: dict[str, Any], **numbers: str) -> str:
    """``body`` as JSON with some values written as bare JSON numbers (``-1E+30``)."""
    text = json.dumps(body)
    for name, literal in numbers.items():
        text = text.replace(json.dumps(body[name]), literal, 1)
    return text


def refused(response: Any, *path: str, code: str = "validation_failed") -> str:
    """Assert a 422 with ``code`` whose details name the field at ``path``; its reasons."""
    body = response.get_json()
    assert response.status_code == 422, body
    error = body["error"]
    assert error["code"] == code, error
    node = error["details"]["fields"]
    for part in path:
        assert part in node, error
        node = node[part]
    return str(node)


class TestAmounts:
    @pytest.mark.parametrize("as_number", [False, True], ids=["string", "json-number"])
    def test_a_payment_of_minus_1e30_is_refused_and_nothing_is_written(
        self, client: Any, world: World, as_number: bool
    ) -> None:
        invoice = world.invoice()
        body = payment(invoice["id"], amount="-1E+30")
        with world.writes_nothing(asks_bc=False):
            if as_number:
                response = client.post(
                    "/commands/payments",
                    data=raw(body, amount="-1E+30"),
                    content_type="application/json",
                )
            else:
                response = client.post("/commands/payments", json=body)
        assert "out of range" in refused(response, "amount")

    def test_a_general_line_of_minus_1e30_is_refused_and_nothing_is_written(
        self, client: Any, world: World
    ) -> None:
        with world.writes_nothing(asks_bc=False):
            response = client.post("/commands/general-journal-lines", json=payout("-1E+30"))
        assert "out of range" in refused(response, "lines", "0", "amount")

    @pytest.mark.parametrize(
        ("amount", "currency", "words"),
        [
            ("-10.001", "usd", "at most 2"),
            ("-100.5", "jpy", "at most 0"),
            ("-100.10", "isk", "at most 0"),
            ("NaN", "usd", "Special numeric values"),
            ("-Infinity", "usd", "Special numeric values"),
        ],
    )
    def test_amounts_finer_than_their_currency_or_not_finite_are_refused(
        self, client: Any, world: World, amount: str, currency: str, words: str
    ) -> None:
        invoice = world.invoice()
        with world.writes_nothing(asks_bc=False):
            response = client.post(
                "/commands/payments", json=payment(invoice["id"], amount=amount, currency=currency)
            )
        assert words in refused(response, "amount")

    def test_a_general_line_finer_than_the_local_currency_is_refused_before_any_write(
        self, client: Any, world: World
    ) -> None:
        # Three decimals pass the schema (some currencies have three); USD, BC's LCY, has two.
        with world.writes_nothing():
            response = client.post("/commands/general-journal-lines", json=payout("3.201"))
        assert "the currency's precision" in refused(response, "lines", "0", "amount")


class TestStrings:
    def test_a_nul_in_the_external_document_number_is_refused_and_nothing_is_written(
        self, client: Any, world: World
    ) -> None:
        invoice = world.invoice()
        body = payment(invoice["id"], external_document_number="pi_3Abc\x00DEF")
        with world.writes_nothing(asks_bc=False):
            response = client.post("/commands/payments", json=body)
        assert "U+0000" in refused(response, "external_document_number")

    @pytest.mark.parametrize(
        ("field", "value", "words"),
        [
            ("external_document_number", "po_1\x00", "U+0000"),
            ("document_number", "PO-\x85", "U+0085"),
            ("document_number", "P" * 21, "at most 20"),
            ("document_number", "PO|*", "ASCII letters"),
            ("account_number", "60100 ", "trims"),
            ("description", "fees\x1b[31m", "U+001B"),
            ("description", "d" * 101, "at most 100"),
        ],
    )
    def test_general_line_strings_are_checked_against_bcs_fields(
        self, client: Any, world: World, field: str, value: str, words: str
    ) -> None:
        body = payout("3.20")
        body["lines"][0][field] = value
        with world.writes_nothing(asks_bc=False):
            response = client.post("/commands/general-journal-lines", json=body)
        assert words in refused(response, "lines", "0", field)

    @pytest.mark.parametrize(
        ("field", "value", "words"),
        [
            ("external_document_number", "pi_1|pi_2", "ASCII letters"),
            ("external_document_number", "x" * 36, "at most 35"),
            ("description", "Stripe\u009bpayment", "U+009B"),
        ],
    )
    def test_payment_strings_are_checked_against_bcs_fields(
        self, client: Any, world: World, field: str, value: str, words: str
    ) -> None:
        invoice = world.invoice()
        with world.writes_nothing(asks_bc=False):
            response = client.post(
                "/commands/payments", json=payment(invoice["id"], **{field: value})
            )
        assert words in refused(response, field)


class TestJournals:
    @pytest.mark.parametrize(
        ("kind", "journal"),
        [("payment", "MADEUP"), ("payment", "STRIPEREF"), ("refund", "STRIPE")],
        ids=["made-up", "refund-batch-for-a-payment", "payment-batch-for-a-refund"],
    )
    def test_a_payment_naming_another_journal_creates_no_batch(
        self, client: Any, world: World, kind: str, journal: str
    ) -> None:
        invoice = world.invoice()
        amount = "-400.00" if kind == "payment" else "25.00"
        body = payment(invoice["id"], kind=kind, journal=journal, amount=amount)
        with world.writes_nothing(asks_bc=False):
            response = client.post("/commands/payments", json=body)
        reasons = refused(response, "journal")
        assert "not a journal the connector is configured to use" in reasons
        assert "MLC_BC_" in reasons

    def test_the_configured_journal_may_be_named_in_any_case(
        self, client: Any, world: World
    ) -> None:
        invoice = world.invoice()
        response = client.post("/commands/payments", json=payment(invoice["id"], journal="stripe"))
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["journal"] == "STRIPE"

    def test_posting_a_made_up_journal_is_refused_before_bc_is_asked(
        self, client: Any, world: World
    ) -> None:
        with world.writes_nothing(asks_bc=False):
            response = client.post("/commands/payment-journals/NEWBATCH/post")
        assert "not a journal the connector is configured to use" in refused(response, "journal")

    def test_someone_elses_batch_is_not_posted(self, client: Any, world: World) -> None:
        bc = world.deps.bc
        invoice = world.invoice()
        world.company.seed(
            world.admin,
            "journals",
            {"code": "CASHDESK", "template": "CASHRCPT", "balancingAccountNumber": "10900"},
        )
        (desk,) = bc.get(
            bc.company_path("customerPaymentJournals"), {"$filter": "code eq 'CASHDESK'"}
        )["value"]
        bc.create(
            bc.company_path(f"customerPaymentJournals({desk['id']})/customerPayments"),
            {
                "customerId": world.company.customer_id,
                "postingDate": TODAY,
                "documentNumber": "DESK1",
                "amount": Decimal("-10"),
                "appliesToInvoiceId": invoice["id"],
            },
        )
        with world.writes_nothing(asks_bc=False):
            response = client.post("/commands/payment-journals/CASHDESK/post")
        refused(response, "journal")
        assert [line["documentNumber"] for line in world.state()["lines"]] == ["DESK1"]

    @pytest.mark.parametrize(
        ("name", "words"),
        [("ST%00RIPE", "U+0000"), ("TOOLONGNAME", "Code[10]"), ("A%27B", "ASCII letters")],
    )
    def test_a_malformed_journal_in_the_path_is_refused(
        self, client: Any, world: World, name: str, words: str
    ) -> None:
        with world.writes_nothing(asks_bc=False):
            response = client.post(f"/commands/payment-journals/{name}/post")
        assert words in refused(response, "journal")

    def test_general_lines_for_a_made_up_journal_create_no_batch(
        self, client: Any, world: World
    ) -> None:
        with world.writes_nothing(asks_bc=False):
            response = client.post(
                "/commands/general-journal-lines", json=payout("3.20", journal="MADEUP")
            )
        assert "MLC_BC_GENERAL_JOURNAL" in refused(response, "journal")


class TestRemainingAmount:
    def test_a_payment_above_the_remaining_amount_is_refused_and_creates_no_batch(
        self, client: Any, world: World
    ) -> None:
        invoice = world.invoice("400.00")
        with world.writes_nothing():
            response = client.post(
                "/commands/payments", json=payment(invoice["id"], amount="-400.01")
            )
        assert "overpayment: true" in refused(response, "amount", code="amount_exceeds_remaining")
        details = response.get_json()["error"]["details"]
        assert Decimal(details["invoice_remaining_amount"]) == Decimal("400")
        assert details["invoice_number"] == invoice["number"]

    def test_with_the_overpayment_flag_it_is_written(self, client: Any, world: World) -> None:
        invoice = world.invoice("400.00")
        body = payment(invoice["id"], amount="-450.00", overpayment=True)

        response = client.post("/commands/payments", json=body)

        assert response.status_code == 201, response.get_json()
        assert Decimal(response.get_json()["invoice_remaining_amount"]) == Decimal("400")
        (line,) = world.state()["lines"]
        assert (line["amount"], line["appliesToInvoiceId"]) == (Decimal("-450.00"), invoice["id"])
        # A retry without the flag (a crash before the reconciler noted it) finds the line.
        again = client.post("/commands/payments", json={**body, "overpayment": False})
        assert again.status_code == 200, again.get_json()
        assert again.get_json()["line_id"] == line["id"]

    def test_the_bound_is_what_remains_after_earlier_payments(
        self, client: Any, world: World
    ) -> None:
        invoice = world.invoice("400.00")
        first = payment(invoice["id"], amount="-300.00", external_document_number="pi_3First")
        assert client.post("/commands/payments", json=first).status_code == 201
        assert client.post("/commands/payment-journals/STRIPE/post").status_code == 200

        second = payment(invoice["id"], amount="-100.01", external_document_number="pi_3Second")
        with world.writes_nothing():
            response = client.post("/commands/payments", json=second)
        refused(response, "amount", code="amount_exceeds_remaining")
        exact = {**second, "amount": "-100.00"}
        assert client.post("/commands/payments", json=exact).status_code == 201

    @pytest.mark.parametrize("flag", ["true", 1, "1", None])
    def test_the_flag_is_a_json_boolean(self, client: Any, world: World, flag: Any) -> None:
        invoice = world.invoice()
        body = payment(invoice["id"], amount="-450.00", overpayment=flag)
        with world.writes_nothing(asks_bc=False):
            response = client.post("/commands/payments", json=body)
        refused(response, "overpayment")


class TestPayoutLimit:
    def test_a_general_line_above_the_payout_is_refused_and_nothing_is_written(
        self, client: Any, world: World
    ) -> None:
        with world.writes_nothing(asks_bc=False):
            response = client.post(
                "/commands/general-journal-lines",
                json=payout("3.20", "-100.01", "96.80", limit="100.00"),
            )
        reasons = refused(response, "lines", "1", "amount")
        assert "limit of 100.00" in reasons
        assert set(response.get_json()["error"]["details"]["fields"]["lines"]) == {"1"}

    @pytest.mark.parametrize(
        ("limit", "words"),
        [
            (None, "Missing data"),
            ("0", "must be positive"),
            ("-100.00", "must be positive"),
            ("1E+30", "out of range"),
        ],
    )
    def test_the_limit_is_required_and_sane(
        self, client: Any, world: World, limit: str | None, words: str
    ) -> None:
        with world.writes_nothing(asks_bc=False):
            response = client.post(
                "/commands/general-journal-lines", json=payout("3.20", limit=limit)
            )
        assert words in refused(response, "limit")

    def test_lines_up_to_the_limit_are_written(self, client: Any, world: World) -> None:
        response = client.post(
            "/commands/general-journal-lines", json=payout("100.00", "-100.00", limit="100.00")
        )
        assert response.status_code == 200, response.get_json()
        amounts = sorted(line["amount"] for line in world.state()["lines"])
        assert amounts == [Decimal("-100.00"), Decimal("100.00")]
