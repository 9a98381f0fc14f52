"""Sales invoices: drafts, deep insert, totals, posting and cancel (bc-api.md §4.5, §5)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

LINE = {
    "lineType": "Account",
    "lineObjectNumber": "40100",
    "quantity": 2,
    "unitPrice": Decimal("50"),
}


def _draft(api: Any, kit: Any, **extra: Any) -> dict[str, Any]:
    body = {"customerNumber": "C10000", "salesInvoiceLines": [LINE], **extra}
    response = api.post("salesInvoices", body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = kit.loads(response)
    return result


class TestDraft:
    def test_post_creates_a_draft_with_lines_and_totals(self, api: Any, kit: Any) -> None:
        invoice = _draft(api, kit, externalDocumentNumber="in_1Deep")
        assert invoice["status"] == "Draft"
        assert invoice["number"].startswith("S-INV")
        assert invoice["totalAmountIncludingTax"] == Decimal("100")
        assert invoice["remainingAmount"] == Decimal("100")
        lines = kit.loads(api.get(f"salesInvoices({invoice['id']})/salesInvoiceLines"))["value"]
        assert [(x["lineType"], x["amountExcludingTax"]) for x in lines] == [
            ("Account", Decimal("100"))
        ]

    def test_customer_is_required(self, api: Any, kit: Any) -> None:
        response = api.post("salesInvoices", {"externalDocumentNumber": "X"})
        assert response.status_code == 400
        assert kit.loads(response)["error"]["message"].startswith(
            'A "customerNumber" or a "customerId" must be provided.'
        )

    def test_invoice_discount_and_tax_are_exact(self, api: Any, kit: Any) -> None:
        api.admin("PATCH", f"companies/{api.company_id}/settings", {"taxRates": {"VAT20": 20}})
        body = {
            "customerNumber": "C10000",
            "salesInvoiceLines": [
                {**LINE, "quantity": 3, "unitPrice": Decimal("33.33"), "taxCode": "VAT20"},
                {**LINE, "quantity": 1, "unitPrice": Decimal("0.01"), "taxCode": "VAT20"},
            ],
        }
        invoice = kit.loads(api.post("salesInvoices", body))
        patched = api.patch(
            f"salesInvoices({invoice['id']})",
            {"discountAmount": Decimal("10")},
            invoice["@odata.etag"],
        )
        assert patched.status_code == 200, patched.text
        result = kit.loads(patched)
        assert result["discountAmount"] == Decimal("10")
        assert result["totalAmountExcludingTax"] == Decimal("90")
        lines = kit.loads(api.get(f"salesInvoices({invoice['id']})/salesInvoiceLines"))["value"]
        assert sum(x["invoiceDiscountAllocation"] for x in lines) == Decimal("10")
        assert sum(x["netAmount"] for x in lines) == result["totalAmountExcludingTax"]
        assert result["totalTaxAmount"] == sum(x["netTaxAmount"] for x in lines)
        assert result["totalAmountIncludingTax"] == Decimal("90") + result["totalTaxAmount"]

    def test_foreign_currency_invoice(self, api: Any, kit: Any) -> None:
        invoice = _draft(api, kit, currencyCode="eur")
        assert invoice["currencyCode"] == "EUR"
        assert invoice["currencyId"] != "00000000-0000-0000-0000-000000000000"
        lcy = _draft(api, kit, currencyCode="USD")
        assert lcy["currencyCode"] == "USD"
        assert lcy["currencyId"] == "00000000-0000-0000-0000-000000000000"

    def test_line_change_updates_header_etag(self, api: Any, kit: Any) -> None:
        invoice = _draft(api, kit)
        added = api.post(f"salesInvoices({invoice['id']})/salesInvoiceLines", LINE)
        assert added.status_code == 201
        assert kit.loads(added)["sequence"] == 20000
        again = kit.loads(api.get(f"salesInvoices({invoice['id']})"))
        assert again["@odata.etag"] != invoice["@odata.etag"]
        assert again["totalAmountIncludingTax"] == Decimal("200")

    def test_unknown_gl_account_on_line(self, api: Any, kit: Any) -> None:
        response = api.post(
            "salesInvoices",
            {
                "customerNumber": "C10000",
                "salesInvoiceLines": [{**LINE, "lineObjectNumber": "999"}],
            },
        )
        assert response.status_code == 400
        assert "G/L Account does not exist" in kit.loads(response)["error"]["message"]


class TestPost:
    def test_post_keeps_id_changes_number_and_opens(self, api: Any, kit: Any) -> None:
        draft = _draft(api, kit)
        response = api.post(f"salesInvoices({draft['id']})/Microsoft.NAV.post")
        assert response.status_code == 204
        assert response.text == ""
        posted = kit.loads(api.get(f"salesInvoices({draft['id']})"))
        assert posted["id"] == draft["id"]
        assert posted["number"] != draft["number"]
        assert posted["number"].startswith("PS-INV")
        assert posted["status"] == "Open"
        assert posted["remainingAmount"] == Decimal("100")
        entries = kit.loads(
            api.get(f"generalLedgerEntries?$filter=documentNumber eq '{posted['number']}'")
        )["value"]
        assert {(e["accountNumber"], e["debitAmount"], e["creditAmount"]) for e in entries} == {
            ("13100", Decimal("100"), Decimal("0")),
            ("40100", Decimal("0"), Decimal("100")),
        }

    def test_posting_twice_fails_with_bc_message(self, api: Any, kit: Any) -> None:
        draft = _draft(api, kit)
        api.post(f"salesInvoices({draft['id']})/Microsoft.NAV.post")
        again = api.post(f"salesInvoices({draft['id']})/Microsoft.NAV.post")
        assert again.status_code == 400
        assert kit.loads(again)["error"]["message"].startswith(
            "The action can be applied to a draft invoice only."
        )

    def test_invoice_without_lines_cannot_be_posted(self, api: Any, kit: Any) -> None:
        draft = kit.loads(api.post("salesInvoices", {"customerNumber": "C10000"}))
        response = api.post(f"salesInvoices({draft['id']})/Microsoft.NAV.post")
        assert response.status_code == 400

    def test_posted_invoice_refuses_patch(self, api: Any, kit: Any) -> None:
        draft = _draft(api, kit)
        api.post(f"salesInvoices({draft['id']})/Microsoft.NAV.post")
        posted = kit.loads(api.get(f"salesInvoices({draft['id']})"))
        response = api.patch(
            f"salesInvoices({draft['id']})",
            {"externalDocumentNumber": "NEW"},
            posted["@odata.etag"],
        )
        assert response.status_code == 400
        assert "has been posted and can no longer be modified" in response.text

    def test_action_with_stale_if_match_is_409(self, api: Any, kit: Any) -> None:
        draft = _draft(api, kit)
        api.post(f"salesInvoices({draft['id']})/salesInvoiceLines", LINE)
        response = api.post(
            f"salesInvoices({draft['id']})/Microsoft.NAV.post",
            headers={"If-Match": draft["@odata.etag"]},
        )
        assert response.status_code == 409

    def test_cancel_reverses_an_unpaid_invoice(self, api: Any, kit: Any) -> None:
        draft = _draft(api, kit)
        api.post(f"salesInvoices({draft['id']})/Microsoft.NAV.post")
        response = api.post(f"salesInvoices({draft['id']})/Microsoft.NAV.cancel")
        assert response.status_code == 204
        canceled = kit.loads(api.get(f"salesInvoices({draft['id']})"))
        assert canceled["status"] == "Canceled"
        assert canceled["remainingAmount"] == Decimal("0")
        receivables = kit.loads(api.get("generalLedgerEntries?$filter=accountNumber eq '13100'"))
        assert sum(e["debitAmount"] - e["creditAmount"] for e in receivables["value"]) == 0

    def test_admin_seeded_posted_invoices_in_several_currencies(self, api: Any, kit: Any) -> None:
        euro = api.seed(
            "invoices",
            {
                "customerNumber": "C10000",
                "currencyCode": "EUR",
                "post": True,
                "lines": [{**LINE, "taxPercent": Decimal("19")}],
            },
        )
        assert euro["status"] == "Open"
        assert euro["currencyCode"] == "EUR"
        assert euro["totalTaxAmount"] == Decimal("19")
        entries = kit.loads(
            api.get(f"generalLedgerEntries?$filter=documentNumber eq '{euro['number']}'")
        )["value"]
        debit = sum(e["debitAmount"] for e in entries)
        assert debit == sum(e["creditAmount"] for e in entries) == Decimal("130.90")
