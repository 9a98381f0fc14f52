"""Throttling like BC (bc-api.md §8) and fault injection knobs."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import requests


class TestThrottling:
    def test_per_second_limit_answers_429_with_retry_after(self, api: Any, kit: Any) -> None:
        api.admin("PATCH", "config", {"rate_limit_per_second": 5})
        statuses = [api.get("customers").status_code for _ in range(8)]
        assert statuses[:5] == [200] * 5
        assert 429 in statuses[5:]
        response = api.get("customers")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "1"
        error = kit.loads(response)["error"]
        assert error["code"] == "Request_TooManyRequests"
        assert "  CorrelationId:  " in error["message"]
        assert api.admin("GET", "stats")["throttled"] >= 2

    def test_window_limit_per_user(self, api: Any, kit: Any) -> None:
        api.admin("PATCH", "config", {"rate_limit_requests": 3, "rate_limit_window_seconds": 300})
        statuses = [api.get("customers").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        retry_after = int(api.get("customers").headers["Retry-After"])
        assert 1 <= retry_after <= 300

    def test_concurrent_requests_beyond_the_queue_are_rejected(
        self, api: Any, kit: Any, bc: Any
    ) -> None:
        api.admin(
            "PATCH",
            "config",
            {"max_concurrent_requests": 1, "max_queued_requests": 0, "latency_ms": 400},
        )
        results: list[int] = []

        def call() -> None:
            with requests.Session() as session:
                session.verify = bc.ca_file
                session.trust_env = False
                response = session.get(
                    api.url("customers"), headers={"Authorization": f"Bearer {api.token}"}
                )
                results.append(response.status_code)

        threads = [threading.Thread(target=call) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results)[0] == 200
        assert 429 in results


class TestFaults:
    def test_injected_503_for_n_requests_then_normal(self, api: Any, kit: Any) -> None:
        api.admin("POST", "faults", {"status": 503, "count": 2})
        first = api.get("customers")
        assert first.status_code == 503
        assert first.headers["Retry-After"] == "1"
        assert kit.loads(first)["error"]["code"]
        assert api.get("customers").status_code == 503
        assert api.get("customers").status_code == 200

    def test_fault_limited_to_a_path_and_method(self, api: Any, kit: Any) -> None:
        api.admin(
            "POST",
            "faults",
            {"status": 504, "count": 5, "pathContains": "/salesInvoices", "methods": ["POST"]},
        )
        assert api.get("salesInvoices").status_code == 200
        created = api.post("salesInvoices", {"customerNumber": "C10000"})
        assert created.status_code == 504
        assert kit.loads(api.get("salesInvoices"))["value"] == []

    def test_a_fault_with_a_rate_hits_that_share_of_requests_the_same_way_for_a_seed(
        self, api: Any, kit: Any
    ) -> None:
        def statuses() -> list[int]:
            api.admin("DELETE", "faults")
            api.admin(
                "POST",
                "faults",
                {"status": 429, "count": None, "retryAfter": 2, "rate": Decimal("0.25"), "seed": 5},
            )
            return [api.get("customers").status_code for _ in range(200)]

        first = statuses()
        assert set(first) == {200, 429}
        assert 30 <= first.count(429) <= 70
        assert statuses() == first
        api.admin("DELETE", "faults")

    def test_time_window_fault_and_clear(self, api: Any, kit: Any) -> None:
        api.admin("POST", "faults", {"status": 500, "seconds": 30, "retryAfter": 7})
        failing = api.get("customers")
        assert failing.status_code == 500
        assert failing.headers["Retry-After"] == "7"
        api.admin("DELETE", "faults")
        assert api.get("customers").status_code == 200

    def test_timeout_fault_delays_the_answer(self, api: Any, kit: Any) -> None:
        api.admin("POST", "faults", {"status": 408, "count": 1, "delaySeconds": Decimal("0.3")})
        try:
            api.call("GET", "customers", timeout=0.1)
            raised = False
        except requests.Timeout:
            raised = True
        assert raised

    def test_token_endpoint_fault_uses_entra_shape(
        self, api: Any, kit: Any, bc: Any, http: Any
    ) -> None:
        api.admin("POST", "faults", {"status": 503, "count": 1, "target": "token"})
        form = {
            "grant_type": "client_credentials",
            "client_id": kit.client_id,
            "client_secret": kit.secret,
            "scope": "https://api.businesscentral.dynamics.com/.default",
        }
        url = f"{bc.authority(kit.tenant)}/oauth2/v2.0/token"
        failed = http.post(url, data=form)
        assert failed.status_code == 503
        assert failed.json()["error"] == "temporarily_unavailable"
        assert http.post(url, data=form).status_code == 200
