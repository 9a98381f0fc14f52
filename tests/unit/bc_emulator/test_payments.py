"""Customer payments and batch posting (bc-api.md §4.8-4.10, §9.3, §9.5)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

LINE = {
    "lineType": "Account",
    "lineObjectNumber": "40100",
    "quantity": 1,
    "unitPrice": Decimal("100"),
}


def _posted_invoice(api: Any, **extra: Any) -> dict[str, Any]:
    invoice: dict[str, Any] = api.seed(
        "invoices", {"customerNumber": "C10000", "post": True, "lines": [LINE], **extra}
    )
    return invoice


def _pay(api: Any, batch: str, **body: Any) -> Any:
    return api.post(f"customerPaymentJournals({batch})/customerPayments", body)


class TestCustomerPayments:
    def test_line_defaults_and_amount_stored_as_sent(
        self, api: Any, kit: Any, stripe_batch: str
    ) -> None:
        invoice = _posted_invoice(api)
        response = _pay(
            api,
            stripe_batch,
            amount=Decimal("-40.5"),
            appliesToInvoiceId=invoice["id"],
            externalDocumentNumber="pi_3abc",
            documentNumber="STR-1",
        )
        assert response.status_code == 201, response.text
        line = kit.loads(response)
        assert line["amount"] == Decimal("-40.5")
        assert line["lineNumber"] == 10000
        assert line["customerNumber"] == "C10000"  # taken from the invoice
        assert line["appliesToInvoiceNumber"] == invoice["number"]
        assert line["externalDocumentNumber"] == "PI_3ABC"
        assert line["journalDisplayName"] == "STRIPE"
        assert line["description"] == "Adatum Corporation"
        duplicate = kit.loads(
            api.get(
                f"customerPaymentJournals({stripe_batch})/customerPayments"
                "?$filter=externalDocumentNumber eq 'PI_3ABC'"
            )
        )
        assert [x["id"] for x in duplicate["value"]] == [line["id"]]

    def test_positive_amount_is_accepted_and_fails_at_posting(
        self, api: Any, kit: Any, stripe_batch: str
    ) -> None:
        invoice = _posted_invoice(api)
        created = _pay(
            api,
            stripe_batch,
            amount=Decimal("100"),
            appliesToInvoiceId=invoice["id"],
            documentNumber="STR-2",
        )
        assert created.status_code == 201
        response = api.post(f"journals({stripe_batch})/Microsoft.NAV.post")
        assert response.status_code == 400
        error = kit.loads(response)["error"]
        assert error["code"] == "Application_FieldValidationException"
        message, _, _ = error["message"].partition("  CorrelationId:  ")
        assert message == (
            "Amount must be negative in Gen. Journal Line Journal Template Name='CASHRCPT',"
            "Journal Batch Name='STRIPE',Line No.='10000'"
        )
        still = kit.loads(api.get(f"salesInvoices({invoice['id']})"))
        assert still["remainingAmount"] == Decimal("100")
        lines = kit.loads(api.get(f"customerPaymentJournals({stripe_batch})/customerPayments"))
        assert len(lines["value"]) == 1

    @pytest.mark.parametrize("target", ["draft", "missing"])
    def test_applies_to_must_be_a_posted_invoice(
        self, api: Any, kit: Any, stripe_batch: str, target: str
    ) -> None:
        draft = api.seed("invoices", {"customerNumber": "C10000", "lines": [LINE]})
        invoice_id = draft["id"] if target == "draft" else "0badc0de-0000-4000-8000-000000000000"
        response = _pay(api, stripe_batch, amount=Decimal("-1"), appliesToInvoiceId=invoice_id)
        assert response.status_code == 400
        assert kit.loads(response)["error"]["message"].startswith(
            'The "appliesToInvoiceId" should be the ID of an Open, Paid, Corrective, or Canceled '
            "Invoice."
        )

    def test_applies_to_id_and_number_must_match(
        self, api: Any, kit: Any, stripe_batch: str
    ) -> None:
        first = _posted_invoice(api)
        second = _posted_invoice(api)
        response = _pay(
            api,
            stripe_batch,
            amount=Decimal("-1"),
            appliesToInvoiceId=first["id"],
            appliesToInvoiceNumber=second["number"],
        )
        assert response.status_code == 400
        assert "The Applies To Invoice values do not match to the same Invoice." in response.text

    def test_journal_is_required_at_top_level(self, api: Any, kit: Any) -> None:
        read = api.get("customerPayments")
        assert read.status_code == 400
        assert (
            "You must specify a journal batch ID or a journal ID to get a journal line."
            in kit.loads(read)["error"]["message"]
        )
        write = api.post("customerPayments", {"customerNumber": "C10000"})
        assert write.status_code == 400

    def test_top_level_post_with_journal_id_and_only_into_cash_receipts(
        self, api: Any, kit: Any, stripe_batch: str
    ) -> None:
        created = api.post(
            "customerPayments",
            {"journalId": stripe_batch, "customerNumber": "C10000", "amount": Decimal("-1")},
        )
        assert created.status_code == 201
        assert kit.loads(created)["journalId"] == stripe_batch
        general = api.setup["journals"]["GENERAL/DEFAULT"]
        refused = api.post("customerPayments", {"journalId": general, "customerNumber": "C10000"})
        assert refused.status_code == 400

    def test_payment_journals_have_no_post_action(
        self, api: Any, kit: Any, stripe_batch: str
    ) -> None:
        response = api.post(f"customerPaymentJournals({stripe_batch})/Microsoft.NAV.post")
        assert response.status_code == 404
        assert kit.loads(response)["error"]["code"] == "BadRequest_ResourceNotFound"


class TestPostingPayments:
    def test_full_payment_pays_the_invoice(self, api: Any, kit: Any, stripe_batch: str) -> None:
        invoice = _posted_invoice(api)
        _pay(
            api,
            stripe_batch,
            amount=Decimal("-100"),
            appliesToInvoiceId=invoice["id"],
            documentNumber="STR-9",
            externalDocumentNumber="ch_1",
        )
        response = api.post(f"journals({stripe_batch})/Microsoft.NAV.post")
        assert response.status_code == 204
        paid = kit.loads(api.get(f"salesInvoices({invoice['id']})"))
        assert paid["status"] == "Paid"
        assert paid["remainingAmount"] == Decimal("0")
        assert (
            kit.loads(api.get(f"customerPaymentJournals({stripe_batch})/customerPayments"))["value"]
            == []
        )
        entries = kit.loads(api.get("generalLedgerEntries?$filter=documentNumber eq 'STR-9'"))
        assert {
            (e["accountNumber"], e["debitAmount"], e["creditAmount"], e["documentType"])
            for e in entries["value"]
        } == {
            ("13100", Decimal("0"), Decimal("100"), "Payment"),
            ("10900", Decimal("100"), Decimal("0"), "Payment"),
        }
        posted = api.admin("GET", f"companies/{api.company_id}/postedJournalLines")["value"]
        assert [(p["externalDocumentNumber"], p["appliedAmount"]) for p in posted] == [
            ("CH_1", Decimal("100"))
        ]

    def test_partial_payments_lower_remaining_amount(
        self, api: Any, kit: Any, stripe_batch: str
    ) -> None:
        invoice = _posted_invoice(api)
        _pay(
            api,
            stripe_batch,
            amount=Decimal("-30.25"),
            appliesToInvoiceId=invoice["id"],
            documentNumber="P1",
        )
        _pay(
            api,
            stripe_batch,
            amount=Decimal("-19.75"),
            appliesToInvoiceId=invoice["id"],
            documentNumber="P2",
        )
        assert api.post(f"journals({stripe_batch})/Microsoft.NAV.post").status_code == 204
        after = kit.loads(api.get(f"salesInvoices({invoice['id']})"))
        assert after["status"] == "Open"
        assert after["remainingAmount"] == Decimal("50")
        customer = kit.loads(api.get("customers?$filter=number eq 'C10000'"))["value"][0]
        assert customer["balanceDue"] == Decimal("50")

    def test_paying_a_closed_invoice_fails_at_posting(
        self, api: Any, kit: Any, stripe_batch: str
    ) -> None:
        invoice = _posted_invoice(api)
        _pay(
            api,
            stripe_batch,
            amount=Decimal("-100"),
            appliesToInvoiceId=invoice["id"],
            documentNumber="A1",
        )
        api.post(f"journals({stripe_batch})/Microsoft.NAV.post")
        again = _pay(
            api,
            stripe_batch,
            amount=Decimal("-100"),
            appliesToInvoiceId=invoice["id"],
            documentNumber="A2",
        )
        assert again.status_code == 201  # Paid is a valid target for appliesToInvoiceId
        response = api.post(f"journals({stripe_batch})/Microsoft.NAV.post")
        assert response.status_code == 400
        assert "Open must be equal to 'Yes'" in response.text

    def test_currency_mismatch_needs_application_between_currencies(
        self, api: Any, kit: Any, stripe_batch: str
    ) -> None:
        invoice = _posted_invoice(api, currencyCode="EUR")
        _pay(
            api,
            stripe_batch,
            amount=Decimal("-110"),
            appliesToInvoiceId=invoice["id"],
            documentNumber="FX1",
        )
        refused = api.post(f"journals({stripe_batch})/Microsoft.NAV.post")
        assert refused.status_code == 400
        assert "same currency" in refused.text
        api.admin(
            "PATCH", f"companies/{api.company_id}/settings", {"applnBetweenCurrencies": "All"}
        )
        assert api.post(f"journals({stripe_batch})/Microsoft.NAV.post").status_code == 204
        paid = kit.loads(api.get(f"salesInvoices({invoice['id']})"))
        assert paid["status"] == "Paid"

    def test_nothing_to_post(self, api: Any, kit: Any, stripe_batch: str) -> None:
        response = api.post(f"journals({stripe_batch})/Microsoft.NAV.post")
        assert response.status_code == 400
        assert kit.loads(response)["error"]["message"].startswith("There is nothing to post.")

    def test_no_series_refuses_manual_numbers_unless_allowed(self, api: Any, kit: Any) -> None:
        batch = api.seed(
            "journals",
            {
                "template": "CASHRCPT",
                "code": "SERIES",
                "balancingAccountType": "G/L Account",
                "balancingAccountNumber": "10900",
                "noSeries": {"code": "CASH", "prefix": "CR", "next": 1},
            },
        )["id"]
        invoice = _posted_invoice(api)
        auto = kit.loads(_pay(api, batch, amount=Decimal("-10"), appliesToInvoiceId=invoice["id"]))
        assert auto["documentNumber"] == "CR00001"
        _pay(
            api,
            batch,
            amount=Decimal("-10"),
            appliesToInvoiceId=invoice["id"],
            documentNumber="MINE",
        )
        response = api.post(f"journals({batch})/Microsoft.NAV.post")
        assert response.status_code == 400
        assert "You may not enter numbers manually." in response.text
