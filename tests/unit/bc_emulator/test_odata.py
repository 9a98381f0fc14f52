"""OData behaviour (bc-api.md §6): paging, filters, $select/$expand, ETags, errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest


def _invoices(api: Any, count: int, **extra: Any) -> list[str]:
    body = {"count": count, "customerNumber": "C10000", "unitPrice": Decimal("10"), **extra}
    result: list[str] = api.seed("invoices/bulk", body)["ids"]
    return result


class TestPaging:
    def test_maxpagesize_pages_follow_nextlink_until_done(self, api: Any, kit: Any) -> None:
        ids = _invoices(api, 25)
        seen: list[str] = []
        url = "salesInvoices?$select=id,number"
        pages = 0
        while url:
            response = api.get(url, headers={"Prefer": "odata.maxpagesize=10"})
            assert response.status_code == 200
            assert response.headers["Preference-Applied"] == "odata.maxpagesize=10"
            body = kit.loads(response)
            assert len(body["value"]) <= 10
            seen += [row["id"] for row in body["value"]]
            url = body.get("@odata.nextLink")
            if url:
                assert url.startswith(api.company + "/salesInvoices?")
                assert "$skiptoken=" in url
            pages += 1
        assert pages == 3
        assert seen == ids

    def test_records_inserted_between_pages_are_neither_skipped_nor_repeated(
        self, api: Any, kit: Any
    ) -> None:
        prefer = {"Prefer": "odata.maxpagesize=2"}
        first_ids = _invoices(api, 4)
        first = kit.loads(api.get("salesInvoices", headers=prefer))
        later_ids = _invoices(api, 1, externalDocumentPrefix="LATE-")
        second = kit.loads(api.get(first["@odata.nextLink"], headers=prefer))
        third = kit.loads(api.get(second["@odata.nextLink"], headers=prefer))
        got = [r["id"] for r in first["value"] + second["value"] + third["value"]]
        assert got == first_ids + later_ids
        assert "@odata.nextLink" not in third

    def test_top_and_skip(self, api: Any, kit: Any) -> None:
        ids = _invoices(api, 6)
        body = kit.loads(api.get("salesInvoices?$skip=1&$top=3"))
        assert [r["id"] for r in body["value"]] == ids[1:4]
        assert "@odata.nextLink" not in body

    def test_top_larger_than_page_pages_up_to_top(self, api: Any, kit: Any) -> None:
        ids = _invoices(api, 6)
        first = kit.loads(
            api.get("salesInvoices?$top=5", headers={"Prefer": "odata.maxpagesize=3"})
        )
        second = kit.loads(api.get(first["@odata.nextLink"]))
        assert [r["id"] for r in first["value"] + second["value"]] == ids[:5]
        assert "@odata.nextLink" not in second

    def test_server_page_size_applies_without_prefer(self, api: Any, kit: Any) -> None:
        _invoices(api, 3)
        api.admin("PATCH", "config", {"max_page_size": 2})
        body = kit.loads(api.get("salesInvoices"))
        assert len(body["value"]) == 2
        assert "@odata.nextLink" in body

    def test_orderby_descending(self, api: Any, kit: Any) -> None:
        ids = _invoices(api, 3)
        body = kit.loads(api.get("salesInvoices?$orderby=number desc"))
        assert [r["id"] for r in body["value"]] == list(reversed(ids))


class TestFilter:
    def test_string_status_and_number_literals(self, api: Any, kit: Any) -> None:
        posted = _invoices(api, 2, post=True)
        _invoices(api, 1)
        open_rows = kit.loads(api.get("salesInvoices?$filter=status eq 'Open'"))["value"]
        assert [r["id"] for r in open_rows] == posted
        drafts = kit.loads(api.get("salesInvoices?$filter=status ne 'Open'"))["value"]
        assert [r["status"] for r in drafts] == ["Draft"]
        big = kit.loads(
            api.get("salesInvoices?$filter=status eq 'Open' and totalAmountExcludingTax gt 9.99")
        )["value"]
        assert len(big) == 2
        none = kit.loads(api.get("salesInvoices?$filter=totalAmountIncludingTax lt 10"))["value"]
        assert none == []

    def test_guid_literal_is_unquoted(self, api: Any, kit: Any) -> None:
        ids = _invoices(api, 3)
        rows = kit.loads(api.get(f"salesInvoices?$filter=id eq {ids[1]}"))["value"]
        assert [r["id"] for r in rows] == [ids[1]]
        customer = kit.loads(api.get("customers"))["value"][0]["id"]
        by_customer = api.get(f"salesInvoices?$filter=customerId eq {customer}")
        assert len(kit.loads(by_customer)["value"]) == 3

    def test_quoted_guid_is_a_type_error(self, api: Any, kit: Any) -> None:
        ids = _invoices(api, 1)
        response = api.get(f"salesInvoices?$filter=id eq '{ids[0]}'")
        assert response.status_code == 400
        assert "incompatible types" in kit.loads(response)["error"]["message"]

    def test_datetime_literal_on_last_modified(self, api: Any, kit: Any) -> None:
        _invoices(api, 2)
        rows = kit.loads(api.get("salesInvoices"))["value"]
        stamp = rows[0]["lastModifiedDateTime"]
        later = kit.loads(api.get(f"salesInvoices?$filter=lastModifiedDateTime gt {stamp}"))
        assert all(r["lastModifiedDateTime"] > stamp for r in later["value"])
        since = kit.loads(api.get(f"salesInvoices?$filter=lastModifiedDateTime ge {stamp}"))
        assert len(since["value"]) >= 1
        assert (
            kit.loads(
                api.get("salesInvoices?$filter=lastModifiedDateTime le 2000-01-01T00:00:00Z")
            )["value"]
            == []
        )

    def test_external_document_number_is_case_sensitive_upper_case(
        self, api: Any, kit: Any
    ) -> None:
        api.post("salesInvoices", {"customerNumber": "C10000", "externalDocumentNumber": "in_1x"})
        upper = kit.loads(api.get("salesInvoices?$filter=externalDocumentNumber eq 'IN_1X'"))
        lower = kit.loads(api.get("salesInvoices?$filter=externalDocumentNumber eq 'in_1x'"))
        assert len(upper["value"]) == 1
        assert lower["value"] == []

    def test_or_on_same_field_works_and_on_distinct_fields_is_refused(
        self, api: Any, kit: Any
    ) -> None:
        _invoices(api, 1, post=True)
        _invoices(api, 1)
        both = kit.loads(api.get("salesInvoices?$filter=status eq 'Open' or status eq 'Draft'"))
        assert len(both["value"]) == 2
        response = api.get("salesInvoices?$filter=status eq 'Open' or number eq 'X'")
        assert response.status_code == 400
        assert "'OR' operator is not supported on distinct fields" in response.text

    def test_unknown_property_and_syntax_errors(self, api: Any, kit: Any) -> None:
        unknown = api.get("customers?$filter=colour eq 'red'")
        assert unknown.status_code == 400
        assert "Could not find a property named 'colour'" in unknown.text
        broken = api.get("customers?$filter=number eq")
        assert broken.status_code == 400
        assert kit.loads(broken)["error"]["code"] == "BadRequest"

    def test_journal_display_name_and_journal_id(self, api: Any, kit: Any) -> None:
        cash = api.setup["journals"]["CASHRCPT/DEFAULT"]
        rows = kit.loads(api.get("customerPaymentJournals?$filter=code eq 'DEFAULT'"))["value"]
        assert [r["id"] for r in rows] == [cash]
        api.post(f"customerPaymentJournals({cash})/customerPayments", {"customerNumber": "C10000"})
        lines = kit.loads(api.get(f"customerPayments?$filter=journalId eq {cash}"))["value"]
        assert len(lines) == 1
        assert lines[0]["journalDisplayName"] == "DEFAULT"


class TestSelectExpand:
    def test_select_returns_only_those_properties_plus_etag(self, api: Any, kit: Any) -> None:
        row = kit.loads(api.get("customers?$select=number,displayName"))["value"][0]
        assert set(row) == {"@odata.etag", "number", "displayName"}

    def test_select_unknown_property_is_an_error(self, api: Any) -> None:
        assert api.get("customers?$select=nope").status_code == 400

    def test_expand_lines_with_nested_select(self, api: Any, kit: Any) -> None:
        invoice = api.seed(
            "invoices",
            {
                "customerNumber": "C10000",
                "lines": [
                    {
                        "lineType": "Account",
                        "lineObjectNumber": "40100",
                        "quantity": 1,
                        "unitPrice": Decimal("5"),
                    },
                    {
                        "lineType": "Account",
                        "lineObjectNumber": "40100",
                        "quantity": 2,
                        "unitPrice": Decimal("7.25"),
                    },
                ],
            },
        )
        body = kit.loads(
            api.get(
                f"salesInvoices({invoice['id']})?$expand=salesInvoiceLines($select=sequence,netAmount)"
            )
        )
        lines = body["salesInvoiceLines"]
        assert [(x["sequence"], x["netAmount"]) for x in lines] == [
            (10000, Decimal("5")),
            (20000, Decimal("14.5")),
        ]
        assert set(lines[0]) == {"@odata.etag", "sequence", "netAmount"}
        listed = kit.loads(api.get("salesInvoices?$expand=salesInvoiceLines,customer"))
        assert listed["value"][0]["customer"]["number"] == "C10000"

    def test_top_level_lines_need_a_document_id(self, api: Any, kit: Any) -> None:
        response = api.get("salesInvoiceLines")
        assert response.status_code == 400
        assert "You must specify an Id or a Document Id to get the lines." in response.text
        invoice = api.seed(
            "invoices",
            {
                "customerNumber": "C10000",
                "lines": [
                    {
                        "lineType": "Account",
                        "lineObjectNumber": "40100",
                        "quantity": 1,
                        "unitPrice": Decimal("1"),
                    }
                ],
            },
        )
        rows = kit.loads(api.get(f"salesInvoiceLines?$filter=documentId eq {invoice['id']}"))
        assert len(rows["value"]) == 1


class TestWrites:
    def test_post_201_patch_200_delete_204_with_etags(self, api: Any, kit: Any) -> None:
        created = api.post("customers", {"displayName": "Fabrikam"})
        assert created.status_code == 201
        customer = kit.loads(created)
        assert created.headers["ETag"] == customer["@odata.etag"]
        again = kit.loads(api.get(f"customers({customer['id']})"))
        assert again["@odata.etag"] == customer["@odata.etag"]
        patched = api.patch(
            f"customers({customer['id']})", {"email": "ap@fabrikam.test"}, customer["@odata.etag"]
        )
        assert patched.status_code == 200
        assert kit.loads(patched)["@odata.etag"] != customer["@odata.etag"]
        deleted = api.call(
            "DELETE", f"customers({customer['id']})", headers={"If-Match": patched.headers["ETag"]}
        )
        assert deleted.status_code == 204
        assert deleted.text == ""
        gone = api.get(f"customers({customer['id']})")
        assert gone.status_code == 404
        assert kit.loads(gone)["error"]["code"] == "Internal_RecordNotFound"

    def test_stale_etag_is_409_request_entity_changed(self, api: Any, kit: Any) -> None:
        customer = kit.loads(api.post("customers", {"displayName": "Stale"}))
        first = api.patch(f"customers({customer['id']})", {"city": "Oslo"}, customer["@odata.etag"])
        assert first.status_code == 200
        second = api.patch(
            f"customers({customer['id']})", {"city": "Bergen"}, customer["@odata.etag"]
        )
        assert second.status_code == 409
        error = kit.loads(second)["error"]
        assert error["code"] == "Request_EntityChanged"
        assert error["message"].startswith("Another user has already changed the record.")
        star = api.patch(f"customers({customer['id']})", {"city": "Bergen"}, "*")
        assert star.status_code == 200

    def test_patch_and_delete_without_if_match_are_refused(self, api: Any, kit: Any) -> None:
        customer = kit.loads(api.post("customers", {"displayName": "NoTag"}))
        patch = api.patch(f"customers({customer['id']})", {"city": "Rome"}, None)
        assert patch.status_code == 400
        assert kit.loads(patch)["error"]["code"] == "BadRequest_InvalidToken"
        delete = api.call("DELETE", f"customers({customer['id']})")
        assert delete.status_code == 400

    def test_display_name_is_required(self, api: Any, kit: Any) -> None:
        response = api.post("customers", {"email": "x@y.z"})
        assert response.status_code == 400
        assert kit.loads(response)["error"]["message"].startswith(
            'A "displayName" must be provided.'
        )

    def test_unknown_and_read_only_properties_are_refused(self, api: Any, kit: Any) -> None:
        unknown = api.post("customers", {"displayName": "X", "colour": "red"})
        assert unknown.status_code == 400
        read_only = api.post("customers", {"displayName": "X", "balanceDue": 5})
        assert kit.loads(read_only)["error"]["code"] == "BadRequest_InvalidOperation"

    def test_companies_are_read_only(self, api: Any, kit: Any) -> None:
        response = api.post(f"{api.root}/companies", {"name": "New"})
        assert response.status_code == 405
        assert kit.loads(response)["error"]["code"] == "BadRequest_MethodNotAllowed"


class TestErrors:
    @pytest.mark.parametrize(
        ("path", "code"),
        [
            ("noSuchSet", "BadRequest_ResourceNotFound"),
            ("customers(00000000-0000-0000-0000-00000000beef)", "Internal_RecordNotFound"),
            ("customers(not-a-guid)", "BadRequest"),
        ],
    )
    def test_error_envelope_with_correlation_id(
        self, api: Any, kit: Any, path: str, code: str
    ) -> None:
        response = api.get(path)
        assert response.status_code in (400, 404)
        error = kit.loads(response)["error"]
        assert error["code"] == code
        head, _, tail = error["message"].partition("  CorrelationId:  ")
        assert head
        assert tail.endswith(".")
        assert len(tail) == 37

    def test_unknown_route_outside_the_api_uses_bc_envelope(
        self, bc: Any, http: Any, kit: Any
    ) -> None:
        response = http.get(f"{bc.base_url}/nothing/here/at/all")
        assert response.status_code == 404
        assert kit.loads(response)["error"]["code"] == "BadRequest_NotFound"
