"""Sales credit memos: drafts, lines, posting and application to invoices (page 30038/30046)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

BLANK = "00000000-0000-0000-0000-000000000000"
LINE = {
    "lineType": "Account",
    "lineObjectNumber": "40100",
    "quantity": 1,
    "unitPrice": Decimal("100"),
}


def _invoice(api: Any, amount: str = "100", **extra: Any) -> dict[str, Any]:
    line = {**LINE, "unitPrice": Decimal(amount)}
    body = {"customerNumber": "C10000", "post": True, "lines": [line], **extra}
    invoice: dict[str, Any] = api.seed("invoices", body)
    return invoice


def _draft(api: Any, kit: Any, amount: str = "100", **extra: Any) -> dict[str, Any]:
    body = {
        "customerNumber": "C10000",
        "salesCreditMemoLines": [{**LINE, "unitPrice": Decimal(amount)}],
        **extra,
    }
    response = api.post("salesCreditMemos", body)
    assert response.status_code == 201, response.text
    memo: dict[str, Any] = kit.loads(response)
    return memo


def _post(api: Any, memo_id: str) -> Any:
    return api.post(f"salesCreditMemos({memo_id})/Microsoft.NAV.post")


def _entries(api: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = api.admin(
        "GET", f"companies/{api.company_id}/customerLedgerEntries"
    )["value"]
    return rows


class TestDrafts:
    def test_deep_insert_creates_a_draft_with_totals(self, api: Any, kit: Any) -> None:
        memo = _draft(api, kit, externalDocumentNumber="re_1abc")
        assert memo["status"] == "Draft"
        assert memo["number"].startswith("S-CR")
        assert memo["externalDocumentNumber"] == "RE_1ABC"
        assert memo["totalAmountIncludingTax"] == Decimal("100")
        assert memo["currencyCode"] == "USD"
        assert memo["currencyId"] == BLANK
        assert memo["invoiceId"] == BLANK
        assert memo["invoiceNumber"] == ""
        assert memo["creditMemoDate"] == memo["postingDate"] == memo["dueDate"]
        assert "remainingAmount" not in memo
        lines = kit.loads(api.get(f"salesCreditMemos({memo['id']})/salesCreditMemoLines"))
        assert [(x["lineType"], x["amountExcludingTax"]) for x in lines["value"]] == [
            ("Account", Decimal("100"))
        ]

    def test_property_order_follows_the_pages(self, api: Any, kit: Any) -> None:
        memo = _draft(api, kit)
        names = [k for k in memo if not k.startswith("@")]
        assert names.index("creditMemoDate") < names.index("customerId")
        assert names.index("status") < names.index("invoiceId") < names.index("invoiceNumber")
        assert names[-1] == "customerReturnReasonId"
        line = kit.loads(api.get(f"salesCreditMemoLines?$filter=documentId eq {memo['id']}"))
        line_names = [k for k in line["value"][0] if not k.startswith("@")]
        assert line_names.index("unitPrice") < line_names.index("quantity")

    def test_expand_lines_and_top_level_lines_need_a_filter(self, api: Any, kit: Any) -> None:
        memo = _draft(api, kit)
        expanded = kit.loads(
            api.get(f"salesCreditMemos({memo['id']})?$expand=salesCreditMemoLines")
        )
        assert [x["unitPrice"] for x in expanded["salesCreditMemoLines"]] == [Decimal("100")]
        listed = kit.loads(api.get("salesCreditMemos?$expand=salesCreditMemoLines"))
        assert len(listed["value"][0]["salesCreditMemoLines"]) == 1
        refused = api.get("salesCreditMemoLines")
        assert refused.status_code == 400
        assert kit.error_message(refused) == (
            "You must specify an id or a Document Id to get the lines."
        )

    def test_lines_can_be_added_changed_and_removed_on_a_draft(self, api: Any, kit: Any) -> None:
        memo = _draft(api, kit)
        added = api.post(f"salesCreditMemos({memo['id']})/salesCreditMemoLines", LINE)
        assert added.status_code == 201, added.text
        line = kit.loads(added)
        assert line["sequence"] == 20000
        patched = api.patch(
            f"salesCreditMemos({memo['id']})/salesCreditMemoLines({line['id']})",
            {"quantity": 3},
            line["@odata.etag"],
        )
        assert patched.status_code == 200, patched.text
        again = kit.loads(api.get(f"salesCreditMemos({memo['id']})"))
        assert again["totalAmountIncludingTax"] == Decimal("400")
        assert again["@odata.etag"] != memo["@odata.etag"]
        sequence = api.patch(
            f"salesCreditMemos({memo['id']})/salesCreditMemoLines({line['id']})",
            {"sequence": 30000},
            kit.loads(patched)["@odata.etag"],
        )
        assert kit.error_message(sequence).startswith("The value for sequence cannot be modified.")
        deleted = api.call(
            "DELETE",
            f"salesCreditMemos({memo['id']})/salesCreditMemoLines({line['id']})",
            headers={"If-Match": kit.loads(patched)["@odata.etag"]},
        )
        assert deleted.status_code == 204
        assert kit.loads(api.get(f"salesCreditMemos({memo['id']})"))[
            "totalAmountIncludingTax"
        ] == Decimal("100")

    def test_patch_and_delete_a_draft(self, api: Any, kit: Any) -> None:
        memo = _draft(api, kit)
        patched = api.patch(
            f"salesCreditMemos({memo['id']})",
            {"currencyCode": "EUR", "discountAmount": Decimal("10"), "billToCity": "Lyon"},
            memo["@odata.etag"],
        )
        assert patched.status_code == 200, patched.text
        body = kit.loads(patched)
        assert body["currencyCode"] == "EUR"
        assert body["totalAmountExcludingTax"] == Decimal("90")
        assert body["billToCity"] == "Lyon"
        deleted = api.call(
            "DELETE", f"salesCreditMemos({memo['id']})", headers={"If-Match": body["@odata.etag"]}
        )
        assert deleted.status_code == 204
        assert api.get(f"salesCreditMemos({memo['id']})").status_code == 404

    def test_customer_and_currency_rules_match_invoices(self, api: Any, kit: Any) -> None:
        missing = api.post("salesCreditMemos", {"externalDocumentNumber": "X"})
        assert kit.error_message(missing) == (
            'A "customerNumber" or a "customerId" must be provided.'
        )
        lcy = _draft(api, kit, currencyCode="USD")
        assert (lcy["currencyCode"], lcy["currencyId"]) == ("USD", BLANK)
        unknown = api.post("salesCreditMemos", {"customerNumber": "C10000", "currencyCode": "XYZ"})
        assert kit.error_message(unknown) == 'The "currencyCode" does not match to a Currency.'

    def test_return_reason_must_exist(self, api: Any, kit: Any) -> None:
        response = api.post(
            "salesCreditMemos",
            {
                "customerNumber": "C10000",
                "customerReturnReasonId": "5b7e0c1a-0000-4000-8000-000000000001",
            },
        )
        assert kit.error_message(response) == (
            'The "customerReturnReasonId" does not match to a Reason Code.'
        )


class TestInvoiceLink:
    def test_invoice_id_sets_the_number_and_reads_back(self, api: Any, kit: Any) -> None:
        invoice = _invoice(api)
        memo = _draft(api, kit, invoiceId=invoice["id"])
        assert memo["invoiceId"] == invoice["id"]
        assert memo["invoiceNumber"] == invoice["number"]
        by_number = _draft(api, kit, invoiceNumber=invoice["number"].lower())
        assert by_number["invoiceId"] == invoice["id"]
        cleared = api.patch(
            f"salesCreditMemos({memo['id']})", {"invoiceId": BLANK}, memo["@odata.etag"]
        )
        assert kit.loads(cleared)["invoiceNumber"] == ""

    def test_invoice_id_must_be_a_posted_invoice(self, api: Any, kit: Any) -> None:
        draft = api.seed("invoices", {"customerNumber": "C10000", "lines": [LINE]})
        response = api.post(
            "salesCreditMemos", {"customerNumber": "C10000", "invoiceId": draft["id"]}
        )
        assert kit.error_message(response) == 'The "invoiceId" does not match to an Invoice.'

    def test_invoice_id_and_number_must_agree(self, api: Any, kit: Any) -> None:
        first, second = _invoice(api), _invoice(api)
        response = api.post(
            "salesCreditMemos",
            {
                "customerNumber": "C10000",
                "invoiceId": first["id"],
                "invoiceNumber": second["number"],
            },
        )
        assert kit.error_message(response) == (
            'The "invoiceId" and "invoiceNumber" do not match to a specific Invoice.'
        )

    def test_an_unknown_number_is_kept_until_posting(self, api: Any, kit: Any) -> None:
        memo = _draft(api, kit, invoiceNumber="PS-INV999999")
        assert (memo["invoiceNumber"], memo["invoiceId"]) == ("PS-INV999999", BLANK)
        response = _post(api, memo["id"])
        assert response.status_code == 400
        assert kit.error_message(response) == (
            "There is no Cust. Ledger Entry within the filter.  Filters: Customer No.: C10000, "
            "Document Type: Invoice, Document No.: PS-INV999999, Open: Yes"
        )
        assert kit.loads(api.get(f"salesCreditMemos({memo['id']})"))["status"] == "Draft"


class TestPosting:
    def test_post_keeps_the_id_and_mirrors_invoice_posting(self, api: Any, kit: Any) -> None:
        api.admin("PATCH", f"companies/{api.company_id}/settings", {"taxRates": {"VAT20": 20}})
        memo = _draft(api, kit)
        line = kit.loads(api.get(f"salesCreditMemos({memo['id']})/salesCreditMemoLines"))
        line = line["value"][0]
        api.patch(
            f"salesCreditMemos({memo['id']})/salesCreditMemoLines({line['id']})",
            {"taxCode": "VAT20"},
            line["@odata.etag"],
        )
        response = _post(api, memo["id"])
        assert response.status_code == 204, response.text
        posted = kit.loads(api.get(f"salesCreditMemos({memo['id']})"))
        assert posted["number"].startswith("PS-CR")
        assert posted["status"] == "Open"
        entries = kit.loads(
            api.get(f"generalLedgerEntries?$filter=documentNumber eq '{posted['number']}'")
        )["value"]
        assert {
            (e["accountNumber"], e["debitAmount"], e["creditAmount"], e["documentType"])
            for e in entries
        } == {
            ("13100", Decimal("0"), Decimal("120"), "Credit_x0020_Memo"),
            ("40100", Decimal("100"), Decimal("0"), "Credit_x0020_Memo"),
            ("22300", Decimal("20"), Decimal("0"), "Credit_x0020_Memo"),
        }
        entry = next(e for e in _entries(api) if e["documentNumber"] == posted["number"])
        assert (entry["documentType"], entry["amount"], entry["remaining"]) == (
            "Credit Memo",
            Decimal("-120"),
            Decimal("-120"),
        )
        customer = kit.loads(api.get("customers?$filter=number eq 'C10000'"))["value"][0]
        assert customer["balanceDue"] == Decimal("-120")

    def test_posted_credit_memo_refuses_changes_and_a_second_post(self, api: Any, kit: Any) -> None:
        memo = _draft(api, kit)
        _post(api, memo["id"])
        posted = kit.loads(api.get(f"salesCreditMemos({memo['id']})"))
        patch = api.patch(
            f"salesCreditMemos({memo['id']})",
            {"externalDocumentNumber": "X"},
            posted["@odata.etag"],
        )
        assert kit.error_message(patch) == (
            "The credit memo has been posted and can no longer be modified."
        )
        again = _post(api, memo["id"])
        assert kit.error_message(again) == "The action can be applied to a draft credit memo only."
        line = kit.loads(api.get(f"salesCreditMemos({memo['id']})/salesCreditMemoLines"))
        add = api.post(f"salesCreditMemos({memo['id']})/salesCreditMemoLines", LINE)
        assert kit.error_message(add) == (
            "The credit memo has been posted and can no longer be modified."
        )
        assert len(line["value"]) == 1

    def test_a_draft_without_lines_cannot_be_posted(self, api: Any, kit: Any) -> None:
        memo = kit.loads(api.post("salesCreditMemos", {"customerNumber": "C10000"}))
        response = _post(api, memo["id"])
        assert kit.error_message(response) == (
            "Please add at least one line item to the credit memo."
        )

    def test_a_customer_blocked_for_invoices_still_gets_credit_memos(
        self, api: Any, kit: Any
    ) -> None:
        memo = _draft(api, kit)
        customer = kit.loads(api.get("customers?$filter=number eq 'C10000'"))["value"][0]
        api.patch(f"customers({customer['id']})", {"blocked": "Invoice"}, customer["@odata.etag"])
        assert _post(api, memo["id"]).status_code == 204
        other = _draft(api, kit)
        customer = kit.loads(api.get(f"customers({customer['id']})"))
        api.patch(f"customers({customer['id']})", {"blocked": "All"}, customer["@odata.etag"])
        refused = _post(api, other["id"])
        assert refused.status_code == 400
        assert "blocked with type All" in kit.error_message(refused)


class TestApplication:
    def test_full_credit_closes_the_invoice(self, api: Any, kit: Any) -> None:
        invoice = _invoice(api)
        memo = _draft(api, kit, invoiceId=invoice["id"])
        assert _post(api, memo["id"]).status_code == 204
        paid = kit.loads(api.get(f"salesInvoices({invoice['id']})"))
        assert (paid["status"], paid["remainingAmount"]) == ("Paid", Decimal("0"))
        posted = kit.loads(api.get(f"salesCreditMemos({memo['id']})"))
        assert posted["status"] == "Paid"
        assert posted["invoiceId"] == invoice["id"]

    def test_partial_credit_lowers_the_remaining_amount(self, api: Any, kit: Any) -> None:
        invoice = _invoice(api)
        memo = _draft(api, kit, amount="30.25", invoiceNumber=invoice["number"])
        assert _post(api, memo["id"]).status_code == 204
        after = kit.loads(api.get(f"salesInvoices({invoice['id']})"))
        assert (after["status"], after["remainingAmount"]) == ("Open", Decimal("69.75"))
        assert kit.loads(api.get(f"salesCreditMemos({memo['id']})"))["status"] == "Paid"

    def test_credit_beyond_what_is_open_stays_open_on_the_credit_memo(
        self, api: Any, kit: Any, stripe_batch: str
    ) -> None:
        invoice = _invoice(api)
        api.post(
            f"customerPaymentJournals({stripe_batch})/customerPayments",
            {"amount": Decimal("-70"), "appliesToInvoiceId": invoice["id"], "documentNumber": "P1"},
        )
        assert api.post(f"journals({stripe_batch})/Microsoft.NAV.post").status_code == 204
        memo = _draft(api, kit, amount="50", invoiceId=invoice["id"])
        assert _post(api, memo["id"]).status_code == 204
        after = kit.loads(api.get(f"salesInvoices({invoice['id']})"))
        assert (after["status"], after["remainingAmount"]) == ("Paid", Decimal("0"))
        posted = kit.loads(api.get(f"salesCreditMemos({memo['id']})"))
        assert posted["status"] == "Open"
        entry = next(e for e in _entries(api) if e["documentNumber"] == posted["number"])
        assert (entry["amount"], entry["remaining"]) == (Decimal("-50"), Decimal("-20"))

    def test_a_closed_invoice_or_another_customers_fails_the_posting(
        self, api: Any, kit: Any
    ) -> None:
        invoice = _invoice(api)
        first = _draft(api, kit, invoiceId=invoice["id"])
        _post(api, first["id"])
        second = _draft(api, kit, invoiceId=invoice["id"])
        closed = _post(api, second["id"])
        assert closed.status_code == 400
        assert "There is no Cust. Ledger Entry within the filter." in closed.text
        api.seed("customers", {"number": "C30000", "displayName": "Other"})
        open_invoice = _invoice(api)
        other = kit.loads(
            api.post(
                "salesCreditMemos",
                {
                    "customerNumber": "C30000",
                    "invoiceId": open_invoice["id"],
                    "salesCreditMemoLines": [LINE],
                },
            )
        )
        refused = _post(api, other["id"])
        assert "Customer No.: C30000" in kit.error_message(refused)
        untouched = kit.loads(api.get(f"salesInvoices({open_invoice['id']})"))
        assert untouched["remainingAmount"] == Decimal("100")

    def test_currency_must_match_unless_application_between_currencies(
        self, api: Any, kit: Any
    ) -> None:
        invoice = _invoice(api, currencyCode="EUR")
        memo = _draft(api, kit, amount="110", invoiceId=invoice["id"])
        refused = _post(api, memo["id"])
        assert kit.error_message(refused) == (
            "All entries in one application must be in the same currency."
        )
        api.admin(
            "PATCH", f"companies/{api.company_id}/settings", {"applnBetweenCurrencies": "All"}
        )
        assert _post(api, memo["id"]).status_code == 204
        after = kit.loads(api.get(f"salesInvoices({invoice['id']})"))
        assert after["remainingAmount"] == Decimal("0")  # 110 USD = 100 EUR at 1.1


class TestNotifications:
    def test_posting_notifies_the_credit_memo_and_the_invoice(
        self, api: Any, kit: Any, receiver: Any
    ) -> None:
        invoice = _invoice(api)
        for entity_set in ("salesCreditMemos", "salesInvoices"):
            body = {
                "notificationUrl": receiver.url,
                "resource": f"api/v2.0/companies({api.company_id})/{entity_set}",
            }
            assert api.post(f"{api.root}/subscriptions", body).status_code == 201
        memo = _draft(api, kit, invoiceId=invoice["id"])
        api.admin("POST", "notifications/flush")
        created = receiver.wait_for(1)[0]["value"]
        assert [(e["resource"].rsplit("/", 1)[-1], e["changeType"]) for e in created] == [
            (f"salesCreditMemos({memo['id']})", "created")
        ]
        _post(api, memo["id"])
        api.admin("POST", "notifications/flush")
        posted = receiver.wait_for(2)[1]["value"]
        assert {(e["resource"].rsplit("/", 1)[-1], e["changeType"]) for e in posted} == {
            (f"salesInvoices({invoice['id']})", "updated"),
            (f"salesCreditMemos({memo['id']})", "updated"),
        }
