"""Customers: shape, metadata semantics, list pagination, search with an indexing delay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from stripe_emulator.server import EmulatorServer

N = type(None)
CUSTOMER: dict[str, tuple[type, ...]] = {
    "id": (str,), "object": (str,), "address": (dict, N), "balance": (int,),
    "business_name": (str, N), "created": (int,), "currency": (str, N), "description": (str, N),
    "email": (str, N), "individual_name": (str, N), "invoice_prefix": (str,),
    "invoice_settings": (dict,), "livemode": (bool,), "metadata": (dict,), "name": (str, N),
    "next_invoice_sequence": (int,), "phone": (str, N), "preferred_locales": (list,),
    "shipping": (dict, N), "tax_exempt": (str,),
}  # fmt: skip

CheckShape = Callable[[object, type, dict[str, tuple[type, ...]]], dict[str, Any]]


class TestCustomerObjects:
    def test_create_returns_typed_customer_with_documented_fields(
        self, client: stripe.StripeClient, assert_shape: CheckShape
    ) -> None:
        customer = client.v1.customers.create(
            params={
                "email": "jane@example.com",
                "name": "Jane Doe",
                "address": {"city": "Berlin", "country": "DE"},
                "metadata": {"bc_customer_no": "C0001"},
            }
        )
        data = assert_shape(customer, stripe.Customer, CUSTOMER)
        assert customer.id.startswith("cus_")
        assert data["metadata"] == {"bc_customer_no": "C0001"}
        assert data["address"]["city"] == "Berlin"
        assert customer.last_response is not None
        assert customer.last_response.headers["Request-Id"].startswith("req_")

    def test_metadata_updates_merge_and_empty_values_delete(
        self, client: stripe.StripeClient
    ) -> None:
        customer = client.v1.customers.create(params={"metadata": {"a": "1", "b": "2"}})
        updated = client.v1.customers.update(customer.id, params={"metadata": {"b": "", "c": "3"}})
        assert updated.metadata is not None
        assert updated.metadata.to_dict() == {"a": "1", "c": "3"}
        cleared = client.v1.customers.update(customer.id, params={"metadata": ""})
        assert cleared.metadata is not None
        assert cleared.metadata.to_dict() == {}

    def test_delete_then_retrieve_shows_deleted_stub(self, client: stripe.StripeClient) -> None:
        customer = client.v1.customers.create(params={"email": "gone@example.com"})
        deleted = client.v1.customers.delete(customer.id)
        assert deleted.deleted is True
        assert client.v1.customers.retrieve(customer.id).deleted is True
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.customers.update(customer.id, params={"name": "x"})


class TestCustomerLists:
    def test_list_by_email_is_exact_and_case_sensitive(self, client: stripe.StripeClient) -> None:
        wanted = client.v1.customers.create(params={"email": "Case@Example.com"})
        client.v1.customers.create(params={"email": "case@example.com"})
        found = client.v1.customers.list(params={"email": "Case@Example.com"})
        assert [c.id for c in found.data] == [wanted.id]

    def test_cursor_pagination_both_ways(self, client: stripe.StripeClient) -> None:
        ids = [client.v1.customers.create(params={"name": f"c{i}"}).id for i in range(7)]
        newest_first = ids[::-1]
        first = client.v1.customers.list(params={"limit": 3})
        assert [c.id for c in first.data] == newest_first[:3]
        assert first.has_more is True
        assert first.url == "/v1/customers"
        second = client.v1.customers.list(params={"limit": 3, "starting_after": first.data[-1].id})
        assert [c.id for c in second.data] == newest_first[3:6]
        back = client.v1.customers.list(params={"limit": 2, "ending_before": second.data[0].id})
        assert [c.id for c in back.data] == newest_first[1:3]
        walked = [c.id for c in client.v1.customers.list(params={"limit": 2}).auto_paging_iter()]
        assert walked == newest_first

    def test_limit_out_of_range(self, client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.customers.list(params={"limit": 101})
        assert caught.value.param == "limit"


class TestCustomerSearch:
    def test_new_customer_is_searchable_only_after_the_indexing_delay(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.configure(search_index_delay=60)
        customer = client.v1.customers.create(
            params={"email": "s@example.com", "metadata": {"bc_customer_no": "C0042"}}
        )
        query = "metadata['bc_customer_no']:'C0042'"
        assert client.v1.customers.search(params={"query": query}).data == []
        emu.advance_clock(61)
        result = client.v1.customers.search(params={"query": query})
        assert isinstance(result, stripe.SearchResultObject)
        assert [c.id for c in result.data] == [customer.id]
        assert isinstance(result.data[0], stripe.Customer)

    def test_updates_reach_search_late_too(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.configure(search_index_delay=30)
        customer = client.v1.customers.create(params={"metadata": {"k": "old"}})
        emu.advance_clock(31)
        client.v1.customers.update(customer.id, params={"metadata": {"k": "new"}})
        assert len(client.v1.customers.search(params={"query": "metadata['k']:'old'"}).data) == 1
        assert client.v1.customers.search(params={"query": "metadata['k']:'new'"}).data == []
        emu.advance_clock(31)
        assert client.v1.customers.search(params={"query": "metadata['k']:'old'"}).data == []
        assert len(client.v1.customers.search(params={"query": "metadata['k']:'new'"}).data) == 1

    def test_search_pages_with_next_page(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        ids = {
            client.v1.customers.create(params={"name": f"Acme {i}", "metadata": {"g": "x"}}).id
            for i in range(5)
        }
        emu.flush_search_index()
        page = client.v1.customers.search(params={"query": "metadata['g']:'x'", "limit": 2})
        assert page.has_more is True
        assert isinstance(page.next_page, str)
        seen = [c.id for c in page.data]
        while page.has_more:
            page = client.v1.customers.search(
                params={"query": "metadata['g']:'x'", "limit": 2, "page": page.next_page}
            )
            seen += [c.id for c in page.data]
        assert page.next_page is None
        assert set(seen) == ids
        assert len(seen) == 5

    def test_invalid_query_is_a_400(self, client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.customers.search(params={"query": "name:'a' AND email:'b' OR phone:'c'"})
        assert caught.value.param == "query"
