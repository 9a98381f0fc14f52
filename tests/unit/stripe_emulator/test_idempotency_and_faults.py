"""Idempotency keys, rate limits, injected faults and the request counter."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import requests
import stripe

from stripe_emulator.server import EmulatorServer

TEST_KEY = "sk_test_emulator_contract"
ClientFactory = Callable[..., stripe.StripeClient]


class TestIdempotency:
    def test_same_key_and_params_replays_the_first_response(
        self, client: stripe.StripeClient
    ) -> None:
        options: stripe.RequestOptions = {"idempotency_key": "bc:CRONUS:C0001:create:1"}
        first = client.v1.customers.create(params={"email": "i@example.com"}, options=options)
        second = client.v1.customers.create(params={"email": "i@example.com"}, options=options)
        assert second.id == first.id
        assert first.last_response is not None
        assert second.last_response is not None
        assert second.last_response.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.last_response.headers
        assert len(client.v1.customers.list().data) == 1

    def test_same_key_with_other_params_is_idempotency_error(
        self, client: stripe.StripeClient
    ) -> None:
        options: stripe.RequestOptions = {"idempotency_key": "key-mismatch"}
        client.v1.customers.create(params={"email": "a@example.com"}, options=options)
        with pytest.raises(stripe.IdempotencyError) as caught:
            client.v1.customers.create(params={"email": "b@example.com"}, options=options)
        assert caught.value.http_status == 400

    def test_a_stored_500_is_replayed_for_the_same_key(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.inject_fault(status=500, count=1, method="POST", path="/v1/customers", stage="endpoint")
        options: stripe.RequestOptions = {"idempotency_key": "key-500"}
        with pytest.raises(stripe.APIError) as first:
            client.v1.customers.create(params={"email": "x@example.com"}, options=options)
        assert first.value.http_status == 500
        with pytest.raises(stripe.APIError) as again:
            client.v1.customers.create(params={"email": "x@example.com"}, options=options)
        assert again.value.headers is not None
        assert again.value.headers["Idempotent-Replayed"] == "true"
        fresh = client.v1.customers.create(params={"email": "x@example.com"})
        assert fresh.id.startswith("cus_")

    def test_edge_faults_store_nothing_so_sdk_retries_succeed(
        self, emu: EmulatorServer, make_client: ClientFactory
    ) -> None:
        emu.inject_fault(status=503, count=1, method="POST", path="/v1/customers")
        emu.clear_requests()
        customer = make_client(retries=1).v1.customers.create(params={"email": "r@example.com"})
        log = emu.requests(method="POST", path="/v1/customers")
        assert [entry["status"] for entry in log] == [503, 200]
        assert log[0]["idempotency_key"] == log[1]["idempotency_key"]  # the SDK reuses its key
        assert customer.id.startswith("cus_")

    def test_after_stage_fault_keeps_the_effect_and_replays_the_error(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.inject_fault(status=500, count=1, method="POST", path="/v1/customers", stage="after")
        options: stripe.RequestOptions = {"idempotency_key": "key-after"}
        for _ in range(2):
            with pytest.raises(stripe.APIError):
                client.v1.customers.create(params={"email": "a@example.com"}, options=options)
        assert len(client.v1.customers.list().data) == 1

    def test_a_path_with_a_star_matches_one_step_of_any_invoice(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        customer = client.v1.customers.create(params={"name": "Glob"})
        invoice = client.v1.invoices.create(params={"customer": customer.id, "auto_advance": False})
        client.v1.invoices.add_lines(
            invoice.id, params={"lines": [{"amount": 1000, "description": "x"}]}
        )
        emu.inject_fault(status=503, method="POST", path="/v1/invoices/*/finalize", stage="after")
        with pytest.raises(stripe.APIError) as caught:
            client.v1.invoices.finalize_invoice(invoice.id)
        assert caught.value.http_status == 503
        # The step ran (its answer was lost), and nothing else under the pattern's prefix matched.
        assert client.v1.invoices.retrieve(invoice.id).status == "open"
        assert emu.admin("GET", "faults")["faults"] == []

    def test_keys_expire_after_24_hours(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        options: stripe.RequestOptions = {"idempotency_key": "key-ttl"}
        first = client.v1.customers.create(params={"name": "t"}, options=options)
        emu.advance_clock(24 * 3600 + 1)
        second = client.v1.customers.create(params={"name": "t"}, options=options)
        assert second.id != first.id

    def test_key_in_flight_is_409(self, emu: EmulatorServer) -> None:
        emu.configure(latency_ms=600)
        headers = {"Authorization": f"Bearer {TEST_KEY}", "Idempotency-Key": "key-in-flight"}
        url = f"{emu.base_url}/v1/customers"
        results: list[int] = []
        slow = threading.Thread(
            target=lambda: results.append(
                requests.post(url, headers=headers, timeout=10).status_code
            )
        )
        slow.start()
        time.sleep(0.2)
        second = requests.post(url, headers=headers, timeout=10)
        slow.join()
        assert second.status_code == 409
        assert second.json()["error"]["code"] == "idempotency_key_in_use"
        assert results == [200]


class TestRateLimits:
    def test_documented_defaults(self, emu: EmulatorServer) -> None:
        config = emu.admin("GET", "config")
        assert (config["rate_limit"], config["search_rate_limit"]) == (25.0, 20.0)

    def test_global_limit_raises_rate_limit_error(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.configure(rate_limit=1)  # a bucket of one request, refilled once per second
        client.v1.customers.list()
        with pytest.raises(stripe.RateLimitError) as caught:
            client.v1.customers.list()
        assert caught.value.http_status == 429
        assert caught.value.code is None  # the SDK quirk: read e.error.code
        assert caught.value.error is not None
        assert caught.value.error.code == "rate_limit"
        assert caught.value.headers is not None
        assert caught.value.headers["Stripe-Rate-Limited-Reason"] == "global-rate"

    def test_search_has_its_own_limit(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.configure(search_rate_limit=1)
        client.v1.customers.search(params={"query": "email:'x@example.com'"})
        with pytest.raises(stripe.RateLimitError) as caught:
            client.v1.customers.search(params={"query": "email:'x@example.com'"})
        assert caught.value.headers is not None
        assert caught.value.headers["Stripe-Rate-Limited-Reason"] == "endpoint-rate"
        assert client.v1.customers.list().data == []

    def test_lock_timeout_asks_the_sdk_to_retry(
        self, emu: EmulatorServer, make_client: ClientFactory
    ) -> None:
        emu.inject_fault(kind="lock_timeout", count=1, path="/v1/customers")
        with pytest.raises(stripe.RateLimitError) as caught:
            make_client().v1.customers.list()
        assert caught.value.error is not None
        assert caught.value.error.code == "lock_timeout"
        assert caught.value.headers is not None
        assert caught.value.headers["Stripe-Should-Retry"] == "true"
        emu.inject_fault(kind="lock_timeout", count=1, path="/v1/customers")
        emu.clear_requests()
        assert make_client(retries=1).v1.customers.list().data == []
        assert [e["status"] for e in emu.requests()] == [429, 200]


class TestFaultsAndCounting:
    def test_injected_5xx_for_n_requests(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.inject_fault(status=502, count=2, method="GET")
        for _ in range(2):
            with pytest.raises(stripe.APIError) as caught:
                client.v1.customers.list()
            assert caught.value.http_status == 502
        assert client.v1.customers.list().data == []

    def test_a_fault_with_a_rate_hits_that_share_of_requests_the_same_way_for_a_seed(
        self, emu: EmulatorServer
    ) -> None:
        emu.configure(rate_limit=0)  # only the injected fault answers non-2xx

        def statuses() -> list[int]:
            emu.clear_faults()
            emu.inject_fault(status=503, count=None, path="/v1/customers", rate=0.25, seed=11)
            return [
                requests.get(
                    f"{emu.base_url}/v1/customers",
                    headers={"Authorization": f"Bearer {TEST_KEY}"},
                    timeout=5,
                ).status_code
                for _ in range(200)
            ]

        first = statuses()
        assert set(first) == {200, 503}
        assert 30 <= first.count(503) <= 70
        assert statuses() == first
        emu.clear_faults()

    def test_request_counter_counts_api_calls_by_route(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.clear_requests()
        customer = client.v1.customers.create()
        invoice = client.v1.invoices.create(params={"customer": customer.id})
        client.v1.invoices.finalize_invoice(invoice.id)
        counts = emu.request_count()
        assert counts["total"] == 3
        assert counts["by_route"] == {
            "POST /v1/customers": 1,
            "POST /v1/invoices": 1,
            "POST /v1/invoices/{invoice_id}/finalize": 1,
        }
        assert emu.request_count(method="POST", path="/v1/invoices")["total"] == 2
