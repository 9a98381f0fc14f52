"""OData JSON ``$batch`` (bc-api.md §2.1, §6.3) and how a batch counts against the limits (§8)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
import requests

from bc_emulator.__main__ import build_parser
from bc_emulator.__main__ import config_from_args
from bc_emulator.config import make_config


@pytest.fixture
def journal(stripe_batch: str) -> str:
    """The cash-receipt batch the lines go to (conftest's ``stripe_batch``)."""
    return stripe_batch


def _batch(api: Any, requests_: list[dict[str, Any]], **headers: str) -> requests.Response:
    """POST a JSON batch to the tenant-level ``$batch`` endpoint."""
    response: requests.Response = api.post(
        f"{api.root}/$batch", {"requests": requests_}, headers=headers
    )
    return response


def _payment(api: Any, journal: str, op_id: str, amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": op_id,
        "method": "POST",
        "url": f"companies({api.company_id})/customerPaymentJournals({journal})/customerPayments",
        "headers": {"Content-Type": "application/json"},
        "body": {"customerNumber": "C10000", "amount": Decimal(amount), **extra},
    }


def _bad_payment(api: Any, journal: str, op_id: str) -> dict[str, Any]:
    """A payment line BC refuses: the customer does not exist."""
    return _payment(api, journal, op_id, "-1", customerNumber="NOPE")


def _lines(api: Any, kit: Any, journal: str) -> list[dict[str, Any]]:
    path = f"customerPaymentJournals({journal})/customerPayments"
    value: list[dict[str, Any]] = kit.loads(api.get(path))["value"]
    return value


def _responses(kit: Any, response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    value: list[dict[str, Any]] = kit.loads(response)["responses"]
    return value


class TestBatchOperations:
    def test_three_creates_answer_three_201s_with_ids_echoed(
        self, api: Any, kit: Any, journal: str
    ) -> None:
        ops = [_payment(api, journal, f"r{n}", f"-{n}0.5") for n in (1, 2, 3)]
        answers = _responses(kit, _batch(api, ops))
        assert [(a["id"], a["status"]) for a in answers] == [("r1", 201), ("r2", 201), ("r3", 201)]
        assert [a["body"]["amount"] for a in answers] == [
            Decimal("-10.5"),
            Decimal("-20.5"),
            Decimal("-30.5"),
        ]
        first = answers[0]
        assert first["headers"]["etag"] == first["body"]["@odata.etag"]
        assert first["headers"]["location"].endswith(f"customerPayments({first['body']['id']})")
        assert first["headers"]["odata-version"] == "4.0"
        lines = _lines(api, kit, journal)
        assert sorted(x["id"] for x in lines) == sorted(a["body"]["id"] for a in answers)
        stats = api.admin("GET", "stats")
        assert stats["batchOperations"] == 3

    def test_get_of_a_filtered_collection_inside_a_batch(self, api: Any, kit: Any) -> None:
        api.seed("customers", {"number": "C20000", "displayName": "Trey Research"})
        get = {
            "id": "q",
            "method": "GET",
            "url": f"companies({api.company_id})/customers?$filter=number eq 'C20000'"
            "&$select=number,displayName",
        }
        [answer] = _responses(kit, _batch(api, [get]))
        assert answer["status"] == 200
        assert answer["body"]["value"] == [
            {
                "@odata.etag": answer["body"]["value"][0]["@odata.etag"],
                "number": "C20000",
                "displayName": "Trey Research",
            }
        ]

    def test_relative_urls_with_the_company_header_and_absolute_urls(
        self, api: Any, kit: Any, journal: str
    ) -> None:
        relative = {
            "id": "rel",
            "method": "POST",
            "url": f"customerPaymentJournals({journal})/customerPayments",
            "headers": {"Company": api.setup["name"], "Content-Type": "application/json"},
            "body": {"customerNumber": "C10000", "amount": -5},
        }
        absolute = {
            "id": "abs",
            "method": "GET",
            "url": f"{api.company}/customers?$filter=number eq 'C10000'",
        }
        answers = _responses(kit, _batch(api, [relative, absolute]))
        assert [a["status"] for a in answers] == [201, 200]
        assert answers[0]["body"]["journalId"] == journal
        assert [c["number"] for c in answers[1]["body"]["value"]] == ["C10000"]
        unknown = {**relative, "headers": {"Company": "No Such Company"}}
        [missing] = _responses(kit, _batch(api, [unknown]))
        assert missing["status"] == 404
        assert missing["body"]["error"]["code"] == "Internal_CompanyNotFound"

    def test_inner_errors_use_the_envelope_and_stop_the_batch(
        self, api: Any, kit: Any, journal: str
    ) -> None:
        ops = [
            _payment(api, journal, "1", "-1"),
            _bad_payment(api, journal, "2"),
            _payment(api, journal, "3", "-3"),
        ]
        answers = _responses(kit, _batch(api, ops))
        assert [(a["id"], a["status"]) for a in answers] == [("1", 201), ("2", 400)]
        assert "  CorrelationId:  " in answers[1]["body"]["error"]["message"]
        assert [x["amount"] for x in _lines(api, kit, journal)] == [Decimal("-1")]

    def test_continue_on_error_runs_the_rest_and_keeps_what_succeeded(
        self, api: Any, kit: Any, journal: str
    ) -> None:
        ops = [
            _payment(api, journal, "1", "-1"),
            _bad_payment(api, journal, "2"),
            _payment(api, journal, "3", "-3"),
        ]
        response = _batch(api, ops, Prefer="odata.continue-on-error")
        assert [a["status"] for a in _responses(kit, response)] == [201, 400, 201]
        amounts = sorted(x["amount"] for x in _lines(api, kit, journal))
        assert amounts == [Decimal("-3"), Decimal("-1")]

    def test_depends_on_a_failed_request_answers_424(
        self, api: Any, kit: Any, journal: str
    ) -> None:
        ops = [_bad_payment(api, journal, "a"), {**_payment(api, journal, "b", "-2")}]
        ops[1]["dependsOn"] = ["a"]
        response = _batch(api, ops, Prefer="odata.continue-on-error")
        assert [a["status"] for a in _responses(kit, response)] == [400, 424]
        assert _lines(api, kit, journal) == []


class TestSnapshotIsolation:
    def test_one_failure_rolls_back_every_change(self, api: Any, kit: Any, journal: str) -> None:
        ops = [
            _payment(api, journal, "1", "-1"),
            _payment(api, journal, "2", "-2"),
            _bad_payment(api, journal, "3"),
        ]
        answers = _responses(kit, _batch(api, ops, Isolation="snapshot"))
        assert [a["status"] for a in answers] == [201, 201, 400]
        assert _lines(api, kit, journal) == []
        again = _responses(kit, _batch(api, ops[:2], Isolation="snapshot"))
        assert [a["status"] for a in again] == [201, 201]
        numbers = [x["lineNumber"] for x in _lines(api, kit, journal)]
        assert numbers == [10000, 20000]  # the rolled-back lines left no trace

    def test_a_rolled_back_change_is_never_notified(
        self, api: Any, kit: Any, receiver: Any
    ) -> None:
        subscription = {
            "notificationUrl": receiver.url,
            "resource": f"api/v2.0/companies({api.company_id})/customers",
            "clientState": "s",
        }
        assert api.post(f"{api.root}/subscriptions", subscription).status_code == 201

        def create(name: str) -> dict[str, Any]:
            return {
                "method": "POST",
                "url": f"companies({api.company_id})/customers",
                "body": {"displayName": name},
            }

        failing = create("Rolled back")
        bad = {**create("Bad"), "body": {"noSuchProperty": 1}}
        answers = _responses(kit, _batch(api, [failing, bad], Isolation="snapshot"))
        assert [a["status"] for a in answers] == [201, 400]
        assert answers[0]["id"] is None
        api.admin("POST", "notifications/flush")
        assert receiver.posts == []
        kept = _responses(kit, _batch(api, [create("Kept")], Isolation="snapshot"))
        api.admin("POST", "notifications/flush")
        [post] = receiver.wait_for(1)
        assert [e["resource"].rsplit("(", 1)[1] for e in post["value"]] == [
            kept[0]["body"]["id"] + ")"
        ]

    def test_subscriptions_are_refused_inside_a_snapshot_batch(self, api: Any, kit: Any) -> None:
        op = {"method": "GET", "url": "subscriptions"}
        [answer] = _responses(kit, _batch(api, [op], Isolation="snapshot"))
        assert answer["status"] == 400
        [plain] = _responses(kit, _batch(api, [op]))
        assert plain["status"] == 200


class TestBatchRefusals:
    def test_more_than_100_operations_is_refused_with_bcs_message(self, api: Any, kit: Any) -> None:
        op = {"method": "GET", "url": f"companies({api.company_id})/customers"}
        response = _batch(api, [op] * 101)
        assert response.status_code == 400
        error = kit.loads(response)["error"]
        assert error["code"] == "Unknown"
        assert error["message"].startswith(
            "The current batch message contains too many parts. A maximum number of '100' query "
            "operations and change sets are allowed in a batch message.  CorrelationId:  "
        )
        assert len(_responses(kit, _batch(api, [op] * 100))) == 100

    @pytest.mark.parametrize(
        ("extra", "fragment"),
        [({"atomicityGroup": "g1"}, "atomicityGroup"), ({"dependsOn": ["later"]}, "depends on")],
    )
    def test_unsupported_or_invalid_members_are_refused(
        self, api: Any, kit: Any, extra: dict[str, Any], fragment: str
    ) -> None:
        op = {"id": "1", "method": "GET", "url": f"companies({api.company_id})/customers"}
        response = _batch(api, [{**op, **extra}])
        assert response.status_code == 400
        assert fragment in kit.loads(response)["error"]["message"]

    def test_nested_batches_and_non_api_urls_fail_as_operations(self, api: Any, kit: Any) -> None:
        nested = {"method": "POST", "url": "$batch", "body": {"requests": []}}
        admin = {"method": "POST", "url": "/_emulator/reset"}
        response = _batch(api, [nested, admin], Prefer="odata.continue-on-error")
        assert [a["status"] for a in _responses(kit, response)] == [400, 400]
        assert api.get("customers").status_code == 200  # the company was not reset

    def test_the_batch_itself_needs_a_token(self, api: Any, kit: Any) -> None:
        response = api.http.post(f"{api.root}/$batch", json={"requests": []}, timeout=10)
        assert response.status_code == 401


class TestBatchThrottling:
    def _get(self, api: Any, count: int) -> list[dict[str, Any]]:
        op = {"method": "GET", "url": f"companies({api.company_id})/customers?$top=1"}
        return [op] * count

    def test_a_batch_counts_once_by_default_and_per_operation_with_the_knob(
        self, api: Any, kit: Any
    ) -> None:
        api.admin("PATCH", "config", {"rate_limit_requests": 5, "rate_limit_window_seconds": 300})
        answers = _responses(kit, _batch(api, self._get(api, 10)))
        assert [a["status"] for a in answers] == [200] * 10
        stats = api.admin("GET", "stats")
        assert (stats["apiRequests"], stats["batchOperations"]) == (1, 10)
        api.admin("PATCH", "config", {"batch_counts_operations": True})
        refused = _batch(api, self._get(api, 10))
        assert refused.status_code == 429
        assert kit.loads(refused)["error"]["code"] == "Request_TooManyRequests"
        assert 1 <= int(refused.headers["Retry-After"]) <= 300
        assert _batch(api, self._get(api, 4)).status_code == 200  # 1 + 4 = 5 fit
        assert api.get("customers").status_code == 429

    def test_operations_run_in_the_batchs_single_concurrency_slot(self, api: Any, kit: Any) -> None:
        api.admin("PATCH", "config", {"max_concurrent_requests": 1, "max_queued_requests": 0})
        answers = _responses(kit, _batch(api, self._get(api, 5)))
        assert [a["status"] for a in answers] == [200] * 5

    def test_compressed_window_retry_after_is_the_real_wait(self, api: Any, kit: Any) -> None:
        api.admin("PATCH", "config", {"rate_limit_requests": 2, "rate_limit_window_seconds": 1})
        assert [api.get("customers").status_code for _ in range(2)] == [200, 200]
        refused = api.get("customers")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "1"
        time.sleep(int(refused.headers["Retry-After"]))
        assert api.get("customers").status_code == 200


class TestKnobs:
    def test_cli_flags_set_a_time_compressed_limit_and_the_batch_knobs(self) -> None:
        args = build_parser().parse_args(
            [
                "--rate-limit-requests",
                "600",
                "--rate-limit-window",
                "30",
                "--batch-counts-operations",
                "--max-batch-operations",
                "50",
            ]
        )
        config = make_config(config_from_args(args))
        assert (config.rate_limit_requests, config.rate_limit_window_seconds) == (600, 30.0)
        assert config.batch_counts_operations is True
        assert config.max_batch_operations == 50
        defaults = make_config(config_from_args(build_parser().parse_args([])))
        assert defaults.batch_counts_operations is False
        assert defaults.max_batch_operations == 100
