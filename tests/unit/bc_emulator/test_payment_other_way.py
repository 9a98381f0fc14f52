"""An invoice paid "another way": a person books the receipt in BC's default cash receipts journal.

No Stripe batch and no admin shortcut: a ``customerPayments`` line in ``CASHRCPT/DEFAULT``
(balanced by the CHECKING bank account), applied to the posted invoice, then
``journals({id})/Microsoft.NAV.post`` -- exactly the standard API calls. The invoice's
``remainingAmount`` must drop, ``status`` turn ``Paid`` at zero, and every posting must raise an
``updated`` webhook notification for the invoice (bc-api.md §4.5 status, §7.5, §10.6).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

LINE = {
    "lineType": "Account",
    "lineObjectNumber": "40100",
    "quantity": 1,
    "unitPrice": Decimal("250"),
}


def _subscribe_invoices(api: Any, receiver: Any) -> None:
    body = {
        "notificationUrl": receiver.url,
        "resource": f"api/v2.0/companies({api.company_id})/salesInvoices",
    }
    assert api.post(f"{api.root}/subscriptions", body).status_code == 201


def _invoice_changes(receiver: Any, posts: int) -> list[tuple[str, str]]:
    return [
        (e["resource"].rsplit("/", 1)[-1], e["changeType"])
        for post in receiver.wait_for(posts)[posts - 1 :]
        for e in post["value"]
    ]


class TestPaymentBookedInBc:
    def test_partial_then_full_payment_in_the_default_cash_receipts_batch(
        self, api: Any, kit: Any, receiver: Any
    ) -> None:
        invoice = api.seed("invoices", {"customerNumber": "C10000", "post": True, "lines": [LINE]})
        journals = kit.loads(api.get("customerPaymentJournals?$filter=code eq 'DEFAULT'"))
        [journal] = journals["value"]
        assert journal["balancingAccountNumber"] == "CHECKING"
        _subscribe_invoices(api, receiver)
        payments = f"customerPaymentJournals({journal['id']})/customerPayments"

        first = api.post(
            payments,
            {
                "customerNumber": "C10000",
                "documentNumber": "BANK-1",
                "amount": Decimal("-100"),
                "appliesToInvoiceNumber": invoice["number"],
                "description": "Wire transfer",
            },
        )
        assert first.status_code == 201, first.text
        assert kit.loads(first)["appliesToInvoiceId"] == invoice["id"]
        assert api.post(f"journals({journal['id']})/Microsoft.NAV.post").status_code == 204
        partly = kit.loads(api.get(f"salesInvoices({invoice['id']})"))
        assert (partly["status"], partly["remainingAmount"]) == ("Open", Decimal("150"))
        api.admin("POST", "notifications/flush")
        assert _invoice_changes(receiver, 1) == [(f"salesInvoices({invoice['id']})", "updated")]

        second = api.post(
            payments,
            {
                "documentNumber": "BANK-2",
                "amount": Decimal("-150"),
                "appliesToInvoiceId": invoice["id"],
            },
        )
        assert second.status_code == 201, second.text
        assert kit.loads(second)["customerNumber"] == "C10000"  # taken from the invoice
        assert api.post(f"journals({journal['id']})/Microsoft.NAV.post").status_code == 204
        paid = kit.loads(api.get(f"salesInvoices({invoice['id']})"))
        assert (paid["status"], paid["remainingAmount"]) == ("Paid", Decimal("0"))
        api.admin("POST", "notifications/flush")
        assert _invoice_changes(receiver, 2) == [(f"salesInvoices({invoice['id']})", "updated")]

        balance = api.admin("GET", f"companies/{api.company_id}/bankAccounts/CHECKING/balance")
        assert balance["balance"] == Decimal("250")
        receivables = kit.loads(api.get("generalLedgerEntries?$filter=accountNumber eq '13100'"))
        assert sum(e["debitAmount"] - e["creditAmount"] for e in receivables["value"]) == 0
        assert kit.loads(api.get(payments))["value"] == []
