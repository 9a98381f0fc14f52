"""The seed/admin API: bulk data, inspection, time travel, reset."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


class TestBulkAndPaging:
    def test_five_thousand_invoices_page_through_completely(self, api: Any, kit: Any) -> None:
        created = api.seed(
            "invoices/bulk",
            {
                "count": 5000,
                "customerNumber": "C10000",
                "unitPrice": Decimal("12.34"),
                "post": True,
            },
        )
        assert created["count"] == 5000
        url = "salesInvoices?$filter=status eq 'Open'&$select=id,number,remainingAmount"
        seen: list[str] = []
        while url:
            body = kit.loads(api.get(url, headers={"Prefer": "odata.maxpagesize=1000"}))
            seen += [row["id"] for row in body["value"]]
            assert all(row["remainingAmount"] == Decimal("12.34") for row in body["value"])
            url = body.get("@odata.nextLink")
        assert seen == created["ids"]


class TestInspection:
    def test_unposted_lines_and_ledgers_are_visible(self, api: Any, kit: Any) -> None:
        invoice = api.seed(
            "invoices",
            {
                "customerNumber": "C10000",
                "post": True,
                "lines": [
                    {
                        "lineType": "Account",
                        "lineObjectNumber": "40100",
                        "quantity": 1,
                        "unitPrice": Decimal("80"),
                    }
                ],
            },
        )
        cash = api.setup["journals"]["CASHRCPT/DEFAULT"]
        api.post(
            f"customerPaymentJournals({cash})/customerPayments",
            {"amount": Decimal("-80"), "appliesToInvoiceId": invoice["id"], "documentNumber": "D1"},
        )
        lines = api.admin("GET", f"companies/{api.company_id}/journalLines")["value"]
        assert [(x["accountType"], x["amount"]) for x in lines] == [("Customer", Decimal("-80"))]
        api.post(f"journals({cash})/Microsoft.NAV.post")
        entries = api.admin("GET", f"companies/{api.company_id}/customerLedgerEntries")["value"]
        assert [(e["documentType"], e["amount"], e["remaining"]) for e in entries] == [
            ("Invoice", Decimal("80"), Decimal("0")),
            ("Payment", Decimal("-80"), Decimal("0")),
        ]
        bank = api.admin("GET", f"companies/{api.company_id}/bankLedgerEntries")["value"]
        assert [b["amount"] for b in bank] == [Decimal("80")]  # the batch balances to the bank

    def test_reset_empties_everything(self, api: Any, kit: Any) -> None:
        api.admin("POST", "reset")
        api.renew_token()
        body = kit.loads(api.get(f"{api.root}/companies"))
        assert body["value"] == []

    def test_clock_advance_moves_last_modified(self, api: Any, kit: Any) -> None:
        before = api.admin("GET", "clock")["now"]
        moved = api.admin("POST", "clock/advance", {"seconds": 86400})
        assert moved["now"][:10] > before[:10]
        api.renew_token()
        customer = kit.loads(api.post("customers", {"displayName": "Tomorrow"}))
        assert customer["lastModifiedDateTime"][:10] == moved["now"][:10]

    def test_touch_simulates_a_user_edit(self, api: Any, kit: Any, receiver: Any) -> None:
        customer = kit.loads(api.get("customers"))["value"][0]
        api.post(
            f"{api.root}/subscriptions",
            {"notificationUrl": receiver.url, "resource": f"companies({api.company_id})/customers"},
        )
        touched = api.seed("touch", {"entitySet": "customers", "id": customer["id"]})
        assert touched["@odata.etag"] != customer["@odata.etag"]
        api.admin("POST", "notifications/flush")
        assert receiver.wait_for(1)[0]["value"][0]["changeType"] == "updated"

    def test_settings_and_accounts(self, api: Any, kit: Any) -> None:
        api.seed(
            "accounts", {"number": "40200", "displayName": "Other income", "category": "Income"}
        )
        rows = kit.loads(api.get("accounts?$filter=number eq '40200'"))["value"]
        assert rows[0]["category"] == "Income"
        assert rows[0]["netChange"] == 0
        settings = api.admin(
            "PATCH", f"companies/{api.company_id}/settings", {"salesAccount": "40200"}
        )
        assert settings["salesAccount"] == "40200"
