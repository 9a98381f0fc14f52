"""``salesInvoices(...)/Microsoft.NAV.cancel``: a posted corrective credit memo (codeunit 1303)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

LINE = {
    "lineType": "Account",
    "lineObjectNumber": "40100",
    "quantity": 2,
    "unitPrice": Decimal("50"),
}
PAID_MESSAGE = (
    "You cannot cancel this posted sales invoice because it is fully or partially paid."
    "\\To reverse a paid sales invoice, you must manually create a sales credit memo."
)


def _invoice(api: Any, **extra: Any) -> dict[str, Any]:
    body = {"customerNumber": "C10000", "post": True, "lines": [LINE], **extra}
    invoice: dict[str, Any] = api.seed("invoices", body)
    return invoice


def _cancel(api: Any, invoice_id: str) -> Any:
    return api.post(f"salesInvoices({invoice_id})/Microsoft.NAV.cancel")


def _memos(api: Any, kit: Any, invoice_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = kit.loads(
        api.get(f"salesCreditMemos?$filter=invoiceId eq {invoice_id}&$expand=salesCreditMemoLines")
    )["value"]
    return found


class TestCancel:
    def test_cancel_posts_a_corrective_credit_memo(self, api: Any, kit: Any) -> None:
        invoice = _invoice(api, externalDocumentNumber="in_1Cancel", currencyCode="EUR")
        response = _cancel(api, invoice["id"])
        assert response.status_code == 204, response.text
        canceled = kit.loads(api.get(f"salesInvoices({invoice['id']})"))
        assert (canceled["status"], canceled["remainingAmount"]) == ("Canceled", Decimal("0"))
        [memo] = _memos(api, kit, invoice["id"])
        assert memo["status"] == "Corrective"
        assert memo["number"].startswith("PS-CR")
        assert memo["invoiceNumber"] == invoice["number"]
        assert memo["currencyCode"] == "EUR"
        assert memo["externalDocumentNumber"] == "IN_1CANCEL"
        assert memo["totalAmountIncludingTax"] == invoice["totalAmountIncludingTax"]
        assert [(x["quantity"], x["unitPrice"]) for x in memo["salesCreditMemoLines"]] == [
            (Decimal("2"), Decimal("50"))
        ]
        receivables = kit.loads(api.get("generalLedgerEntries?$filter=accountNumber eq '13100'"))
        assert sum(e["debitAmount"] - e["creditAmount"] for e in receivables["value"]) == 0
        memo_entries = kit.loads(
            api.get(f"generalLedgerEntries?$filter=documentNumber eq '{memo['number']}'")
        )["value"]
        assert {e["documentType"] for e in memo_entries} == {"Credit_x0020_Memo"}
        ledger = api.admin("GET", f"companies/{api.company_id}/customerLedgerEntries")["value"]
        assert [(e["documentType"], e["amount"], e["open"]) for e in ledger] == [
            ("Invoice", Decimal("100"), False),
            ("Credit Memo", Decimal("-100"), False),
        ]

    def test_a_canceled_invoice_cannot_be_canceled_again(self, api: Any, kit: Any) -> None:
        invoice = _invoice(api)
        _cancel(api, invoice["id"])
        again = _cancel(api, invoice["id"])
        assert again.status_code == 400
        assert kit.error_message(again) == (
            "The invoice cannot be canceled because it has already been canceled."
        )
        assert len(_memos(api, kit, invoice["id"])) == 1

    def test_a_draft_cannot_be_canceled(self, api: Any, kit: Any) -> None:
        draft = api.seed("invoices", {"customerNumber": "C10000", "lines": [LINE]})
        response = _cancel(api, draft["id"])
        assert kit.error_message(response) == "The action can be applied to a posted invoice only."

    def test_a_partly_paid_invoice_keeps_bc_error(
        self, api: Any, kit: Any, stripe_batch: str
    ) -> None:
        invoice = _invoice(api)
        api.post(
            f"customerPaymentJournals({stripe_batch})/customerPayments",
            {"amount": Decimal("-1"), "appliesToInvoiceId": invoice["id"], "documentNumber": "P1"},
        )
        api.post(f"journals({stripe_batch})/Microsoft.NAV.post")
        response = _cancel(api, invoice["id"])
        assert response.status_code == 400
        assert kit.error_message(response) == PAID_MESSAGE
        assert _memos(api, kit, invoice["id"]) == []
        assert kit.loads(api.get(f"salesInvoices({invoice['id']})"))["status"] == "Open"

    def test_a_credited_invoice_counts_as_partly_paid(self, api: Any, kit: Any) -> None:
        invoice = _invoice(api)
        api.seed(
            "creditMemos",
            {
                "customerNumber": "C10000",
                "invoiceId": invoice["id"],
                "post": True,
                "lines": [{**LINE, "quantity": 1}],
            },
        )
        response = _cancel(api, invoice["id"])
        assert kit.error_message(response) == PAID_MESSAGE

    def test_a_blocked_customer_or_receivables_account_stops_the_cancel(
        self, api: Any, kit: Any
    ) -> None:
        invoice = _invoice(api)
        customer = kit.loads(api.get("customers?$filter=number eq 'C10000'"))["value"][0]
        api.patch(f"customers({customer['id']})", {"blocked": "Invoice"}, customer["@odata.etag"])
        blocked = _cancel(api, invoice["id"])
        assert kit.error_message(blocked) == (
            "You cannot cancel this posted sales invoice because customer Adatum Corporation is "
            "blocked."
        )
        customer = kit.loads(api.get(f"customers({customer['id']})"))
        api.patch(f"customers({customer['id']})", {"blocked": " "}, customer["@odata.etag"])
        api.seed("accounts", {"number": "13200", "displayName": "Blocked AR", "blocked": True})
        api.admin("PATCH", f"companies/{api.company_id}/settings", {"receivablesAccount": "13200"})
        refused = _cancel(api, invoice["id"])
        assert kit.error_message(refused) == (
            "You cannot cancel this posted sales invoice because G/L Account 13200 is blocked."
        )
        assert _memos(api, kit, invoice["id"]) == []

    def test_a_failing_credit_memo_posting_is_reported_and_leaves_nothing(
        self, api: Any, kit: Any, bc: Any
    ) -> None:
        api.seed("accounts", {"number": "40200", "displayName": "Other revenue"})
        invoice = _invoice(api, lines=[{**LINE, "lineObjectNumber": "40200"}])
        # A user blocks the revenue account in BC's UI; the API cannot, so change it in place.
        with bc.emulator.store.lock:
            company = bc.emulator.store.environment(kit.tenant, kit.env).companies[api.company_id]
            account = company.gl_account_by_number("40200")
            account.values["blocked"] = True
        response = _cancel(api, invoice["id"])
        assert response.status_code == 400
        assert kit.error_message(response) == (
            "Canceling the invoice failed because of the following error: \\Blocked must be "
            "equal to 'No'  in G/L Account: No.=40200. Current value is 'Yes'.."
        )
        assert _memos(api, kit, invoice["id"]) == []
        assert kit.loads(api.get("salesCreditMemos"))["value"] == []
        assert kit.loads(api.get(f"salesInvoices({invoice['id']})"))["status"] == "Open"

    def test_item_lines_need_the_sales_account(self, api: Any, kit: Any) -> None:
        item_line = {
            "lineType": "Item",
            "lineObjectNumber": "ITEM-1",
            "quantity": 1,
            "unitPrice": 5,
        }
        invoice = _invoice(api, lines=[item_line])
        api.seed("accounts", {"number": "40900", "displayName": "Closed", "blocked": True})
        api.admin("PATCH", f"companies/{api.company_id}/settings", {"salesAccount": "40900"})
        response = _cancel(api, invoice["id"])
        assert kit.error_message(response) == (
            "You cannot cancel this posted sales invoice because G/L Account 40900 is blocked."
        )

    def test_cancel_notifies_the_invoice_and_the_new_credit_memo(
        self, api: Any, kit: Any, receiver: Any
    ) -> None:
        invoice = _invoice(api)
        for entity_set in ("salesInvoices", "salesCreditMemos"):
            body = {
                "notificationUrl": receiver.url,
                "resource": f"api/v2.0/companies({api.company_id})/{entity_set}",
            }
            assert api.post(f"{api.root}/subscriptions", body).status_code == 201
        _cancel(api, invoice["id"])
        api.admin("POST", "notifications/flush")
        [memo] = _memos(api, kit, invoice["id"])
        elements = receiver.wait_for(1)[0]["value"]
        assert {(e["resource"].rsplit("/", 1)[-1], e["changeType"]) for e in elements} == {
            (f"salesInvoices({invoice['id']})", "updated"),
            (f"salesCreditMemos({memo['id']})", "created"),
        }
