"""The command API the reconciler calls, against the BC emulator over HTTPS."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from factories import authorized

from bc_gateway import create_app

pytestmark = pytest.mark.rabbitmq

TODAY = dt.date.today().isoformat()
MISSING = "00000000-0000-0000-0000-00000000beef"


def invoice(admin: Any, company: Any, customer_id: str | None = None, **extra: Any) -> Any:
    """A posted invoice of 2 x 150.25 + 1 x 99.50 = 400.00."""
    body = {
        "customerId": customer_id or company.customer_id,
        "externalDocumentNumber": "in_1TestInvoice",
        "lines": [
            {
                "lineType": "Account",
                "lineObjectNumber": "40100",
                "description": "Consulting",
                "quantity": 2,
                "unitPrice": Decimal("150.25"),
            },
            {
                "lineType": "Account",
                "lineObjectNumber": "40100",
                "description": "Expenses",
                "quantity": 1,
                "unitPrice": Decimal("99.50"),
            },
        ],
        "post": True,
        **extra,
    }
    return company.seed(admin, "invoices", body)


def payment(invoice_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "bc_invoice_id": invoice_id,
        "amount": "-400.00",
        "currency": "usd",
        "external_document_number": "pi_3TestPaymentIntent",
        "posting_date": TODAY,
        "description": "Stripe payment",
    }
    body.update(overrides)
    return body


def lines_in(admin: Any, company: Any) -> list[dict[str, Any]]:
    return list(admin.call("GET", f"companies/{company.id}/journalLines")["value"])


class TestReads:
    def test_an_invoice_comes_with_lines_customer_and_decimal_strings(
        self, client: Any, admin: Any, company: Any
    ) -> None:
        seeded = invoice(admin, company)

        response = client.get(f"/commands/invoices/{seeded['id']}")

        assert response.status_code == 200
        body = response.get_json()
        assert body["status"] == "Open"
        assert body["currency_code"] == "USD"
        assert body["external_document_number"] == "IN_1TESTINVOICE"
        assert Decimal(body["total_amount_including_tax"]) == Decimal("400.00")
        assert isinstance(body["total_amount_including_tax"], str)
        assert [(x["description"], x["quantity"], x["unit_price"]) for x in body["lines"]] == [
            ("Consulting", "2", "150.25"),
            ("Expenses", "1", "99.5"),  # BC writes the number as it holds it
        ]
        assert body["customer"] == {
            "id": company.customer_id,
            "number": "C10000",
            "name": "Adatum Corporation",
            "email": "ap@adatum.example",
            "currency_code": "USD",
            "blocked": "",
            "last_modified": body["customer"]["last_modified"],
        }

    def test_a_foreign_currency_invoice_keeps_its_currency(
        self, client: Any, admin: Any, company: Any
    ) -> None:
        seeded = invoice(admin, company, company.eur_customer_id)
        body = client.get(f"/commands/invoices/{seeded['id']}").get_json()
        assert body["currency_code"] == "EUR"
        assert body["customer"]["currency_code"] == "EUR"

    def test_a_customer_without_currency_reports_the_local_currency(
        self, client: Any, company: Any
    ) -> None:
        body = client.get(f"/commands/customers/{company.customer_id}").get_json()
        assert (body["number"], body["currency_code"]) == ("C10000", "USD")

    def test_unknown_and_malformed_ids(self, client: Any, company: Any) -> None:
        missing = client.get(f"/commands/invoices/{MISSING}")
        assert missing.status_code == 404
        assert missing.get_json()["error"]["code"] == "not_found"
        malformed = client.get("/commands/customers/not-a-guid")
        assert malformed.status_code == 422
        assert malformed.get_json()["error"]["code"] == "validation_failed"

    def test_the_invoice_list_follows_every_page_and_filters(
        self, make_deps: Any, admin: Any, company: Any
    ) -> None:
        client = authorized(
            create_app(deps=make_deps(MLC_BC_PAGE_SIZE="2")).test_client(), "bc-gateway"
        )
        since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        posted = company.seed(
            admin, "invoices/bulk", {"count": 5, "customerId": company.customer_id, "post": True}
        )
        company.seed(admin, "invoices/bulk", {"count": 2, "customerId": company.customer_id})

        response = client.get(
            "/commands/invoices",
            query_string={"status": "Open", "modified_since": since.isoformat()},
        )

        body = response.get_json()
        assert response.status_code == 200, body
        assert body["count"] == 5
        assert sorted(x["id"] for x in body["value"]) == sorted(posted["ids"])
        assert client.get("/commands/invoices?status=Draft").get_json()["count"] == 2
        assert client.get("/commands/invoices?status=Nope").status_code == 422


class TestPayments:
    def test_the_same_external_document_number_twice_gives_one_line(
        self, client: Any, admin: Any, company: Any
    ) -> None:
        seeded = invoice(admin, company)

        first = client.post("/commands/payments", json=payment(seeded["id"]))
        second = client.post("/commands/payments", json=payment(seeded["id"]))

        assert first.status_code == 201, first.get_json()
        assert second.status_code == 200
        assert first.get_json()["created"] is True
        assert second.get_json()["created"] is False
        assert second.get_json()["line_id"] == first.get_json()["line_id"]
        lines = lines_in(admin, company)
        assert len(lines) == 1
        assert lines[0]["externalDocumentNumber"] == "PI_3TESTPAYMENTINTENT"
        assert lines[0]["amount"] == Decimal("-400.00")
        assert lines[0]["appliesToInvoiceId"] == seeded["id"]

    def test_posting_the_batch_applies_the_payment_to_the_invoice(
        self, client: Any, admin: Any, company: Any
    ) -> None:
        seeded = invoice(admin, company)
        assert client.post("/commands/payments", json=payment(seeded["id"])).status_code == 201

        posted = client.post("/commands/payment-journals/STRIPE/post")

        assert posted.status_code == 200, posted.get_json()
        assert posted.get_json()["posted"] == 1
        after = client.get(f"/commands/invoices/{seeded['id']}").get_json()
        assert (after["status"], Decimal(after["remaining_amount"])) == ("Paid", Decimal(0))
        # Posted lines leave the batch; the G/L entries still stop a second line.
        again = client.post("/commands/payments", json=payment(seeded["id"]))
        assert again.status_code == 200
        assert again.get_json()["already_posted"] is True
        assert lines_in(admin, company) == []
        nothing = client.post("/commands/payment-journals/STRIPE/post").get_json()
        assert nothing["posted"] == 0

    def test_the_answer_carries_the_invoice_as_read_before_the_line(
        self, client: Any, admin: Any, company: Any
    ) -> None:
        seeded = invoice(admin, company)
        body = client.post("/commands/payments", json=payment(seeded["id"], amount="-100.00"))
        result = body.get_json()
        assert body.status_code == 201, result
        assert result["invoice_number"] == seeded["number"]
        assert result["invoice_currency"] == "USD"
        assert Decimal(result["invoice_remaining_amount"]) == Decimal("400.00")

    def test_a_warm_payment_costs_four_bc_requests_and_its_post_two(
        self, client: Any, admin: Any, company: Any
    ) -> None:
        first, second = invoice(admin, company), invoice(admin, company)
        assert client.post("/commands/payments", json=payment(first["id"])).status_code == 201
        assert client.post("/commands/payment-journals/STRIPE/post").status_code == 200

        before = admin.call("GET", "stats")["apiRequests"]
        body = payment(second["id"], external_document_number="pi_3Second")
        assert client.post("/commands/payments", json=body).status_code == 201
        after_line = admin.call("GET", "stats")["apiRequests"]
        assert client.post("/commands/payment-journals/STRIPE/post").get_json()["posted"] == 1
        after_post = admin.call("GET", "stats")["apiRequests"]

        # invoice with its customer, the line look-up, the G/L look-up, the create;
        # then the batch's lines and the post: the batch itself is remembered.
        assert (after_line - before, after_post - after_line) == (4, 2)

    def test_a_first_write_the_reconciler_vouches_for_is_one_request_and_its_post_one(
        self, client: Any, admin: Any, company: Any
    ) -> None:
        first, second = invoice(admin, company), invoice(admin, company)
        assert client.post("/commands/payments", json=payment(first["id"])).status_code == 201
        assert client.post("/commands/payment-journals/STRIPE/post").status_code == 200
        known = {
            "first_write": True,
            "customer_id": company.customer_id,
            "invoice_number": second["number"],
            "invoice_currency": "USD",
        }
        body = payment(second["id"], external_document_number="pi_3Known", known=known)

        before = admin.call("GET", "stats")["apiRequests"]
        created = client.post("/commands/payments", json=body)
        after_line = admin.call("GET", "stats")["apiRequests"]
        posted = client.post("/commands/payment-journals/STRIPE/post?report=false")
        after_post = admin.call("GET", "stats")["apiRequests"]

        result = created.get_json()
        assert created.status_code == 201, result
        assert (after_line - before, after_post - after_line) == (1, 1)
        assert result["invoice_number"] == second["number"]
        assert result["invoice_remaining_amount"] is None  # BC was not read
        assert posted.get_json()["posted"] is None  # not listed first
        after = client.get(f"/commands/invoices/{second['id']}").get_json()
        assert after["status"] == "Paid"
        # A retry comes without the facts: the look-ups find the posted line, none is added.
        again = client.post("/commands/payments", json={**body, "known": None})
        assert again.status_code == 200
        assert again.get_json()["already_posted"] is True
        assert lines_in(admin, company) == []
        empty = client.post("/commands/payment-journals/STRIPE/post?report=false")
        assert empty.status_code == 200
        assert empty.get_json()["posted"] == 0

    def test_the_check_before_a_post_finds_the_lines_that_overpay(
        self, client: Any, admin: Any, company: Any
    ) -> None:
        seeded, other = invoice(admin, company), invoice(admin, company)
        body = payment(other["id"], external_document_number="PI_C")
        assert client.post("/commands/payments", json=body).status_code == 201
        check = [
            {"external_document_number": "PI_A", "bc_invoice_id": seeded["id"], "paid": "300.00"},
            {"external_document_number": "PI_B", "bc_invoice_id": seeded["id"], "paid": "200.00"},
            {"external_document_number": "PI_C", "bc_invoice_id": other["id"], "paid": "400.00"},
        ]
        before = admin.call("GET", "stats")["apiRequests"]
        posted = client.post(
            "/commands/payment-journals/STRIPE/post?report=false", json={"check": check}
        )
        after = admin.call("GET", "stats")["apiRequests"]

        assert posted.status_code == 200, posted.get_json()
        # Both invoices in one read, then the post: two requests.
        assert after - before == 2
        [found] = posted.get_json()["overpaid"]
        assert found["external_document_number"] == "PI_B"
        assert found["invoice_number"] == seeded["number"]
        assert Decimal(found["invoice_remaining_amount"]) == Decimal("100.00")
        assert Decimal(found["overpaid_by"]) == Decimal("100.00")

    def test_vouched_facts_are_checked_for_shape_and_currency(
        self, client: Any, admin: Any, company: Any
    ) -> None:
        seeded = invoice(admin, company)
        good = {
            "first_write": True,
            "customer_id": company.customer_id,
            "invoice_number": seeded["number"],
            "invoice_currency": "EUR",
        }
        for bad in (
            {**good, "first_write": False},
            {**good, "customer_id": "not-a-guid"},
            {k: v for k, v in good.items() if k != "customer_id"},
            {**good, "extra": 1},
        ):
            refused = client.post("/commands/payments", json=payment(seeded["id"], known=bad))
            assert refused.status_code == 422, (bad, refused.get_json())
        mismatch = client.post("/commands/payments", json=payment(seeded["id"], known=good))
        assert mismatch.status_code == 422
        assert mismatch.get_json()["error"]["code"] == "currency_mismatch"
        assert lines_in(admin, company) == []

    def test_a_batch_deleted_in_bc_is_found_again_or_recreated(
        self, client: Any, deps: Any, admin: Any, company: Any
    ) -> None:
        first, second = invoice(admin, company), invoice(admin, company)
        assert client.post("/commands/payments", json=payment(first["id"])).status_code == 201
        assert client.post("/commands/payment-journals/STRIPE/post").status_code == 200
        bc = deps.bc
        old = bc.get(bc.company_path("customerPaymentJournals"), {"$filter": "code eq 'STRIPE'"})
        batch = old["value"][0]
        bc.delete(bc.company_path(f"customerPaymentJournals({batch['id']})"), batch["@odata.etag"])

        body = payment(second["id"], external_document_number="pi_3AfterDelete")
        created = client.post("/commands/payments", json=body)
        posted = client.post("/commands/payment-journals/STRIPE/post")

        assert created.status_code == 201, created.get_json()
        assert created.get_json()["journal_id"] != batch["id"]
        assert posted.get_json()["posted"] == 1
        after = client.get(f"/commands/invoices/{second['id']}").get_json()
        assert after["status"] == "Paid"

    def test_a_partial_payment_leaves_the_rest_open(
        self, client: Any, admin: Any, company: Any
    ) -> None:
        seeded = invoice(admin, company)
        body = payment(seeded["id"], amount="-150.25")
        assert client.post("/commands/payments", json=body).status_code == 201
        assert client.post("/commands/payment-journals/STRIPE/post").status_code == 200
        after = client.get(f"/commands/invoices/{seeded['id']}").get_json()
        assert (after["status"], after["remaining_amount"]) == ("Open", "249.75")

    @pytest.mark.parametrize(
        ("overrides", "code"),
        [
            ({"amount": "400.00"}, "validation_failed"),
            ({"amount": 12.5}, "validation_failed"),
            ({"currency": "EUR"}, "currency_mismatch"),
            ({"external_document_number": "x" * 36}, "validation_failed"),
        ],
    )
    def test_refused_payments(
        self, client: Any, admin: Any, company: Any, overrides: dict[str, Any], code: str
    ) -> None:
        seeded = invoice(admin, company)
        body = payment(seeded["id"], **overrides)
        if overrides.get("amount") == 12.5:  # a JSON float: still refused, it is positive
            body["amount"] = 12.5
        response = client.post("/commands/payments", json=body)
        assert response.status_code == 422
        assert response.get_json()["error"]["code"] == code
        assert lines_in(admin, company) == []

    def test_a_payment_for_a_draft_invoice_is_rejected_with_bcs_message(
        self, client: Any, admin: Any, company: Any
    ) -> None:
        draft = invoice(admin, company, post=False)
        response = client.post("/commands/payments", json=payment(draft["id"]))
        error = response.get_json()["error"]
        assert response.status_code == 422
        assert error["code"] == "bc_rejected"
        assert error["details"]["bc_code"] == "Application_DialogException"
        assert "appliesToInvoiceId" in error["message"]


class TestRefunds:
    def test_a_refund_line_goes_to_the_refund_batch_and_bc_refuses_to_post_it(
        self, client: Any, admin: Any, company: Any
    ) -> None:
        seeded = invoice(admin, company)
        body = payment(seeded["id"], amount="25.00", external_document_number="re_3Refund")

        created = client.post("/commands/refunds", json=body)
        repeated = client.post("/commands/payments", json={**body, "kind": "refund"})

        assert created.status_code == 201, created.get_json()
        assert created.get_json()["journal"] == "STRIPEREF"
        assert repeated.status_code == 200
        assert [x["amount"] for x in lines_in(admin, company)] == [Decimal("25.00")]
        # BC's standard API makes it a Payment line, and a positive payment cannot be posted.
        refused = client.post("/commands/payment-journals/STRIPEREF/post")
        error = refused.get_json()["error"]
        assert refused.status_code == 422
        assert error["code"] == "bc_rejected"
        assert "Amount must be negative" in error["message"]

    def test_only_the_connectors_own_batches_can_be_posted(self, client: Any, company: Any) -> None:
        response = client.post("/commands/payment-journals/DEFAULT/post")
        assert response.status_code == 422
        error = response.get_json()["error"]
        assert error["code"] == "validation_failed"
        assert "journal" in error["details"]["fields"]


class TestGeneralJournalLines:
    def payout(self, post: bool) -> dict[str, Any]:
        common = {"posting_date": TODAY, "document_number": "PO-0001", "description": "Payout"}
        return {
            "post": post,
            "limit": "96.80",
            "lines": [
                {
                    **common,
                    "account_type": "G/L Account",
                    "account_number": "60100",
                    "amount": "3.20",
                    "external_document_number": "po_1Fees",
                },
                {
                    **common,
                    "account_type": "Bank Account",
                    "account_number": "CHECKING",
                    "amount": "96.80",
                    "external_document_number": "po_1Net",
                },
            ],
        }

    def test_lines_are_written_once_and_posted_once(
        self, client: Any, admin: Any, company: Any
    ) -> None:
        written = client.post("/commands/general-journal-lines", json=self.payout(post=False))
        again = client.post("/commands/general-journal-lines", json=self.payout(post=True))
        after_post = client.post("/commands/general-journal-lines", json=self.payout(post=True))

        assert written.status_code == 200, written.get_json()
        assert [x["status"] for x in written.get_json()["lines"]] == ["created", "created"]
        assert [x["status"] for x in again.get_json()["lines"]] == ["existing", "existing"]
        assert again.get_json()["posted"] == 2
        assert [x["status"] for x in after_post.get_json()["lines"]] == ["posted", "posted"]
        assert after_post.get_json()["posted"] == 0
        posted = admin.call("GET", f"companies/{company.id}/postedJournalLines")["value"]
        assert sorted((x["accountNumber"], x["amount"]) for x in posted) == [
            ("60100", Decimal("3.20")),
            ("CHECKING", Decimal("96.80")),
        ]
        assert {x["balancingAccountNumber"] for x in posted} == {"10900"}


class TestUnavailable:
    def test_a_bc_outage_is_bc_unavailable_with_retry_after(
        self, make_deps: Any, admin: Any, company: Any
    ) -> None:
        client = authorized(
            create_app(deps=make_deps(MLC_BC_MAX_ATTEMPTS="1")).test_client(), "bc-gateway"
        )
        admin.fault(status=503, count=5, retryAfter=7)
        response = client.get(f"/commands/customers/{company.customer_id}")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "7"
        assert response.get_json()["error"]["code"] == "bc_unavailable"

    def test_without_a_bc_connection_commands_are_unavailable(
        self, make_deps: Any, company: Any
    ) -> None:
        deps = make_deps(MLC_BC_TENANT_ID="", MLC_BC_COMPANY_ID="")
        response = authorized(create_app(deps=deps).test_client(), "bc-gateway").get(
            f"/commands/customers/{MISSING}"
        )
        assert response.status_code == 503
        assert "MLC_BC_TENANT_ID" in str(response.get_json())
