"""HttpBCClient against the BC emulator: paging, retries, error classes, ETags, token refresh."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from bc_gateway.adapters.bc_client import HttpBCClient
from bc_gateway.adapters.bc_errors import BCConflict
from bc_gateway.adapters.bc_errors import BCNotFound
from bc_gateway.adapters.bc_errors import BCPermanentError
from bc_gateway.adapters.bc_errors import BCRetryableError
from bc_gateway.bootstrap import Dependencies

pytestmark = pytest.mark.rabbitmq


def client_of(deps: Dependencies) -> HttpBCClient:
    assert isinstance(deps.bc, HttpBCClient)
    return deps.bc


def api_requests(admin: Any) -> int:
    return int(admin.call("GET", "stats")["apiRequests"])


class TestPaging:
    def test_every_page_is_read_through_next_links_with_exact_amounts(
        self, deps: Dependencies, admin: Any, company: Any
    ) -> None:
        seeded = company.seed(
            admin,
            "invoices/bulk",
            {
                "count": 25,
                "customerId": company.customer_id,
                "unitPrice": Decimal("123.45"),
                "post": True,
            },
        )
        bc = client_of(deps)

        pages = list(bc.pages(bc.company_path("salesInvoices"), page_size=10))

        assert [len(page) for page in pages] == [10, 10, 5]
        ids = [invoice["id"] for page in pages for invoice in page]
        assert sorted(ids) == sorted(seeded["ids"])
        totals = {invoice["totalAmountIncludingTax"] for page in pages for invoice in page}
        assert totals == {Decimal("123.45")}
        assert all(isinstance(t, Decimal) for t in totals)

    def test_filters_are_sent_percent_encoded(
        self, deps: Dependencies, admin: Any, company: Any
    ) -> None:
        bc = client_of(deps)
        found = bc.get(bc.company_path("customers"), {"$filter": "displayName eq 'Trey Research'"})
        assert [c["number"] for c in found["value"]] == ["C20000"]


class TestRetries:
    def test_a_503_with_retry_after_is_retried_after_waiting(
        self, deps: Dependencies, admin: Any, company: Any
    ) -> None:
        admin.fault(status=503, count=1, retryAfter=1)
        bc = client_of(deps)
        started = time.monotonic()

        company_info = bc.get(f"companies({company.id})")

        assert company_info["id"] == company.id
        assert time.monotonic() - started >= 0.9  # Retry-After: 1 was honoured
        assert admin.faults()[0]["hits"] == 1

    @pytest.mark.parametrize("status", [408, 429, 502, 504])
    def test_other_transient_statuses_are_retried(
        self, deps: Dependencies, admin: Any, company: Any, status: int
    ) -> None:
        admin.fault(status=status, count=2, retryAfter=0)
        assert client_of(deps).get(f"companies({company.id})")["id"] == company.id
        assert admin.faults()[0]["hits"] == 2

    def test_attempts_are_bounded_and_the_error_is_retryable(
        self, deps: Dependencies, admin: Any, company: Any
    ) -> None:
        admin.fault(status=503, count=100, retryAfter=0)
        with pytest.raises(BCRetryableError) as info:
            client_of(deps).get(f"companies({company.id})")
        assert info.value.status == 503
        assert info.value.code == "Internal_ServiceUnavailable"
        assert admin.faults()[0]["hits"] == 5  # MLC_BC_MAX_ATTEMPTS default

    def test_a_post_is_not_repeated_after_a_gateway_timeout(
        self, deps: Dependencies, admin: Any, company: Any
    ) -> None:
        # A 504 may come after BC did the work: repeating a POST could write twice.
        admin.fault(status=504, count=5, methods=["POST"], retryAfter=0)
        bc = client_of(deps)
        with pytest.raises(BCRetryableError):
            bc.create(bc.company_path("customers"), {"displayName": "Once Only"})
        assert admin.faults()[0]["hits"] == 1

    def test_a_post_is_repeated_after_429_because_bc_did_not_process_it(
        self, deps: Dependencies, admin: Any, company: Any
    ) -> None:
        admin.fault(status=429, count=1, methods=["POST"], retryAfter=0)
        bc = client_of(deps)
        created = bc.create(bc.company_path("customers"), {"displayName": "Throttled Once"})
        assert created["displayName"] == "Throttled Once"
        assert admin.faults()[0]["hits"] == 1


class TestErrors:
    def test_a_business_rule_refusal_is_permanent_and_not_retried(
        self, deps: Dependencies, admin: Any, company: Any
    ) -> None:
        bc = client_of(deps)
        before = api_requests(admin)
        with pytest.raises(BCPermanentError) as info:
            bc.create(bc.company_path("salesInvoices"), {"externalDocumentNumber": "X"})
        assert info.value.status == 400
        assert info.value.code == "Application_DialogException"
        assert "customerNumber" in info.value.message
        assert "CorrelationId" not in info.value.message
        assert info.value.correlation_id
        assert api_requests(admin) == before + 1

    def test_a_missing_record_is_not_found(
        self, deps: Dependencies, admin: Any, company: Any
    ) -> None:
        bc = client_of(deps)
        with pytest.raises(BCNotFound) as info:
            bc.get(bc.company_path("customers(00000000-0000-0000-0000-00000000beef)"))
        assert info.value.code == "Internal_RecordNotFound"


class TestConcurrency:
    def test_a_stale_etag_is_refreshed_and_the_patch_retried_once(
        self, deps: Dependencies, admin: Any, company: Any
    ) -> None:
        bc = client_of(deps)
        path = bc.company_path(f"customers({company.customer_id})")
        stale = bc.get(path)["@odata.etag"]
        bc.update(path, {"phoneNumber": "555-0100"}, stale)  # makes `stale` stale

        updated = bc.update(path, {"phoneNumber": "555-0199"}, stale)

        assert updated["phoneNumber"] == "555-0199"

    def test_a_conflict_that_persists_surfaces_as_bc_conflict(
        self, deps: Dependencies, admin: Any, company: Any
    ) -> None:
        admin.fault(status=409, code="Request_EntityChanged", count=2, methods=["PATCH"])
        bc = client_of(deps)
        path = bc.company_path(f"customers({company.customer_id})")
        etag = bc.get(path)["@odata.etag"]
        with pytest.raises(BCConflict):
            bc.update(path, {"phoneNumber": "555-0100"}, etag)
        assert admin.faults()[0]["hits"] == 2


class TestTokens:
    def test_a_token_bc_no_longer_accepts_is_replaced_once(
        self, deps: Dependencies, admin: Any, company: Any
    ) -> None:
        bc = client_of(deps)
        bc.get(f"companies({company.id})")
        # An hour later on BC's clock the cached token is expired, though msal still trusts it.
        admin.advance(3600)

        assert bc.get(f"companies({company.id})")["id"] == company.id
        assert deps.tokens is not None
        assert deps.tokens.last_source == "identity_provider"
