"""``POST /_emulator/companies/{id}/creditMemos``: seeding credit memos through the API's rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bc_emulator import jsonio

LINE = {
    "lineType": "Account",
    "lineObjectNumber": "40100",
    "quantity": 1,
    "unitPrice": Decimal("40"),
}


def _invoice(api: Any) -> dict[str, Any]:
    body = {"customerNumber": "C10000", "post": True, "lines": [{**LINE, "unitPrice": 100}]}
    invoice: dict[str, Any] = api.seed("invoices", body)
    return invoice


def _seed_raw(api: Any, body: Any) -> Any:
    return api.http.post(
        f"{api.bc.admin}/companies/{api.company_id}/creditMemos",
        data=jsonio.dumps(body),
        headers={"Content-Type": "application/json"},
        timeout=15,
    )


class TestAdminCreditMemos:
    def test_draft_with_lines_and_tax_percent(self, api: Any, kit: Any) -> None:
        memo = api.seed(
            "creditMemos",
            {"customerNumber": "C10000", "lines": [{**LINE, "taxPercent": Decimal("19")}]},
        )
        assert memo["status"] == "Draft"
        assert memo["totalTaxAmount"] == Decimal("7.6")
        assert [x["taxPercent"] for x in memo["salesCreditMemoLines"]] == [Decimal("19")]
        again = kit.loads(api.get(f"salesCreditMemos({memo['id']})"))
        assert again["totalAmountIncludingTax"] == Decimal("47.6")

    def test_posted_and_applied_by_invoice_number(self, api: Any, kit: Any) -> None:
        invoice = _invoice(api)
        memo = api.seed(
            "creditMemos",
            {
                "customerNumber": "C10000",
                "invoiceNumber": invoice["number"],
                "post": True,
                "lines": [LINE],
            },
        )
        assert memo["status"] == "Paid"
        assert memo["invoiceId"] == invoice["id"]
        after = kit.loads(api.get(f"salesInvoices({invoice['id']})"))
        assert after["remainingAmount"] == Decimal("60")

    def test_array_body_and_api_key_for_lines(self, api: Any, kit: Any) -> None:
        invoice = _invoice(api)
        memos = api.seed(
            "creditMemos",
            [
                {"customerNumber": "C10000", "salesCreditMemoLines": [LINE]},
                {
                    "customerNumber": "C10000",
                    "invoiceId": invoice["id"],
                    "post": True,
                    "lines": [LINE],
                },
            ],
        )["value"]
        assert [m["status"] for m in memos] == ["Draft", "Paid"]
        listed = kit.loads(api.get("salesCreditMemos"))["value"]
        assert len(listed) == 2

    def test_same_validation_as_the_api(self, api: Any, kit: Any) -> None:
        draft = api.seed("invoices", {"customerNumber": "C10000", "lines": [LINE]})
        response = _seed_raw(api, {"customerNumber": "C10000", "invoiceId": draft["id"]})
        assert response.status_code == 400
        assert kit.error_message(response) == 'The "invoiceId" does not match to an Invoice.'
        unknown = _seed_raw(api, {"customerNumber": "C99999", "lines": [LINE]})
        assert kit.error_message(unknown) == 'The "customerNumber" does not match to a Customer.'
        closed = _invoice(api)
        api.seed(
            "creditMemos",
            {
                "customerNumber": "C10000",
                "invoiceId": closed["id"],
                "post": True,
                "lines": [{**LINE, "unitPrice": 100}],
            },
        )
        refused = _seed_raw(
            api,
            {"customerNumber": "C10000", "invoiceId": closed["id"], "post": True, "lines": [LINE]},
        )
        assert refused.status_code == 400
        assert "There is no Cust. Ledger Entry within the filter." in kit.error_message(refused)
