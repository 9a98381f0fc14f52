"""Webhook subscriptions and notifications (bc-api.md §7), against a real HTTP receiver."""

from __future__ import annotations

import time
import urllib.parse
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

ELEMENT_KEYS = {
    "subscriptionId",
    "clientState",
    "expirationDateTime",
    "resource",
    "changeType",
    "lastModifiedDateTime",
}


def _subscribe(api: Any, receiver: Any, entity_set: str = "customers", **extra: Any) -> Any:
    body = {
        "notificationUrl": receiver.url,
        "resource": f"api/v2.0/companies({api.company_id})/{entity_set}",
        "clientState": "state-123",
        **extra,
    }
    return api.post(f"{api.root}/subscriptions", body)


def _subscriptions(api: Any, kit: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = kit.loads(api.get(f"{api.root}/subscriptions"))["value"]
    return result


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


class TestSubscriptionLifecycle:
    def test_create_does_the_handshake_and_expires_in_three_days(
        self, api: Any, kit: Any, receiver: Any
    ) -> None:
        response = _subscribe(api, receiver)
        assert response.status_code == 201, response.text
        sub = kit.loads(response)
        assert len(receiver.handshakes) == 1
        assert sub["notificationUrl"] == receiver.url
        assert sub["clientState"] == "state-123"
        assert len(sub["subscriptionId"]) == 32
        lifetime = _parse(sub["expirationDateTime"]) - _parse(sub["systemCreatedAt"])
        assert lifetime == timedelta(days=3)
        assert [s["subscriptionId"] for s in _subscriptions(api, kit)] == [sub["subscriptionId"]]
        one = api.get(f"{api.root}/subscriptions('{sub['subscriptionId']}')")
        assert one.status_code == 200

    @pytest.mark.parametrize("mode", ["wrong", "status400", "slow"])
    def test_failed_handshake_fails_the_call(
        self, api: Any, kit: Any, receiver: Any, mode: str
    ) -> None:
        receiver.handshake_mode = mode
        api.admin("PATCH", "config", {"validation_timeout_seconds": Decimal("0.5")})
        response = _subscribe(api, receiver)
        assert response.status_code == 400
        assert "could not be validated" in kit.loads(response)["error"]["message"]
        assert _subscriptions(api, kit) == []

    def test_http_url_is_refused_unless_allowed(self, api: Any, kit: Any, receiver: Any) -> None:
        api.admin("PATCH", "config", {"allow_http_notification_url": False})
        response = _subscribe(api, receiver)
        assert response.status_code == 400
        assert "https" in kit.loads(response)["error"]["message"]
        assert receiver.handshakes == []

    def test_unsupported_entity_is_refused(self, api: Any, kit: Any, receiver: Any) -> None:
        response = _subscribe(api, receiver, entity_set="customerPayments")
        assert response.status_code == 400

    def test_renew_needs_if_match_and_repeats_handshake(
        self, api: Any, kit: Any, receiver: Any
    ) -> None:
        sub = kit.loads(_subscribe(api, receiver))
        url = f"{api.root}/subscriptions('{sub['subscriptionId']}')"
        api.admin("POST", "clock/advance", {"seconds": 1800})
        assert api.patch(url, {"clientState": "new"}, None).status_code == 400
        renewed = api.patch(url, {"clientState": "new"}, sub["@odata.etag"])
        assert renewed.status_code == 200, renewed.text
        body = kit.loads(renewed)
        assert len(receiver.handshakes) == 2
        assert body["clientState"] == "new"
        moved = _parse(body["expirationDateTime"]) - _parse(sub["expirationDateTime"])
        assert timedelta(minutes=30) <= moved < timedelta(minutes=31)
        stale = api.patch(url, {"clientState": "newer"}, sub["@odata.etag"])
        assert stale.status_code == 409

    def test_delete_with_if_match(self, api: Any, kit: Any, receiver: Any) -> None:
        sub = kit.loads(_subscribe(api, receiver))
        url = f"{api.root}/subscriptions('{sub['subscriptionId']}')"
        response = api.call("DELETE", url, headers={"If-Match": sub["@odata.etag"]})
        assert response.status_code == 204
        assert _subscriptions(api, kit) == []

    def test_expired_subscriptions_disappear_and_stop_notifying(
        self, api: Any, kit: Any, receiver: Any
    ) -> None:
        _subscribe(api, receiver)
        api.admin("POST", "clock/advance", {"seconds": 3 * 24 * 3600 + 1})
        api.renew_token()
        assert _subscriptions(api, kit) == []
        api.post("customers", {"displayName": "After expiry"})
        api.admin("POST", "notifications/flush")
        assert receiver.posts == []


class TestNotifications:
    def test_changes_are_batched_collapsed_and_carry_no_data(
        self, api: Any, kit: Any, receiver: Any
    ) -> None:
        sub = kit.loads(_subscribe(api, receiver))
        api.admin("PATCH", "config", {"notification_delay_seconds": 30})
        first = kit.loads(api.post("customers", {"displayName": "One"}))
        api.patch(f"customers({first['id']})", {"city": "Paris"}, first["@odata.etag"])
        second = kit.loads(api.post("customers", {"displayName": "Two"}))
        time.sleep(0.3)
        assert receiver.posts == []  # still inside the 30 s window
        api.admin("POST", "clock/advance", {"seconds": 31})
        posts = receiver.wait_for(1)
        elements = posts[0]["value"]
        assert all(set(e) == ELEMENT_KEYS for e in elements)
        base = f"api/v2.0/companies({api.company_id})/customers"
        assert [(e["resource"], e["changeType"]) for e in elements] == [
            (f"{base}({first['id']})", "created"),
            (f"{base}({second['id']})", "created"),
        ]
        assert {e["subscriptionId"] for e in elements} == {sub["subscriptionId"]}
        assert elements[0]["clientState"] == "state-123"
        headers = receiver.headers[0]
        assert headers["clientRequestId"] == headers["x-ms-correlation-id"]
        assert headers["Content-Type"].startswith("application/json")

    def test_update_and_delete_are_notified(self, api: Any, kit: Any, receiver: Any) -> None:
        customer = kit.loads(api.post("customers", {"displayName": "Later"}))
        _subscribe(api, receiver)
        patched = api.patch(
            f"customers({customer['id']})", {"city": "Rome"}, customer["@odata.etag"]
        )
        api.admin("POST", "notifications/flush")
        api.call(
            "DELETE", f"customers({customer['id']})", headers={"If-Match": patched.headers["ETag"]}
        )
        api.admin("POST", "notifications/flush")
        posts = receiver.wait_for(2)
        assert [p["value"][0]["changeType"] for p in posts] == ["updated", "deleted"]

    def test_invoice_posting_and_payment_raise_updated(
        self, api: Any, kit: Any, receiver: Any
    ) -> None:
        invoice = api.seed(
            "invoices",
            {
                "customerNumber": "C10000",
                "lines": [
                    {
                        "lineType": "Account",
                        "lineObjectNumber": "40100",
                        "quantity": 1,
                        "unitPrice": Decimal("10"),
                    }
                ],
            },
        )
        _subscribe(api, receiver, entity_set="salesInvoices")
        api.post(f"salesInvoices({invoice['id']})/Microsoft.NAV.post")
        api.admin("POST", "notifications/flush")
        element = receiver.wait_for(1)[0]["value"][0]
        assert element["changeType"] == "updated"
        assert element["resource"].endswith(f"/salesInvoices({invoice['id']})")

    def test_subscriptions_sharing_a_url_share_one_post(
        self, api: Any, kit: Any, receiver: Any
    ) -> None:
        _subscribe(api, receiver, entity_set="customers")
        _subscribe(api, receiver, entity_set="salesInvoices")
        api.admin("PATCH", "config", {"notification_delay_seconds": 30})
        api.post("salesInvoices", {"customerNumber": "C10000"})
        api.post("customers", {"displayName": "Both"})
        api.admin("POST", "notifications/flush")
        posts = receiver.wait_for(1)
        assert len(posts) == 1
        assert len({e["subscriptionId"] for e in posts[0]["value"]}) == 2

    def test_collection_notification_above_the_threshold(
        self, api: Any, kit: Any, receiver: Any
    ) -> None:
        _subscribe(api, receiver, entity_set="salesInvoices")
        api.admin("PATCH", "config", {"collection_threshold": 3, "notification_delay_seconds": 30})
        before = kit.loads(api.get(f"{api.root}/companies"))["value"][0]["systemCreatedAt"]
        ids = api.seed("invoices/bulk", {"count": 5, "customerNumber": "C10000"})["ids"]
        api.admin("POST", "notifications/flush")
        elements = receiver.wait_for(1)[0]["value"]
        assert len(elements) == 1
        element = elements[0]
        assert element["changeType"] == "collection"
        base = f"api/v2.0/companies({api.company_id})/salesInvoices"
        assert element["resource"].startswith(f"{base}?$filter=lastModifiedDateTime%20gt%20")
        assert before <= element["lastModifiedDateTime"]
        query = urllib.parse.unquote(element["resource"].partition("?")[2])
        rows = kit.loads(api.get(f"salesInvoices?{query}"))["value"]
        assert [r["id"] for r in rows] == ids

    def test_any_other_4xx_deletes_the_subscription(
        self, api: Any, kit: Any, receiver: Any
    ) -> None:
        _subscribe(api, receiver)
        receiver.statuses.extend([410])
        api.post("customers", {"displayName": "Gone"})
        api.admin("POST", "notifications/flush")
        assert receiver.attempts == 1
        assert _subscriptions(api, kit) == []
        api.post("customers", {"displayName": "Never sent"})
        api.admin("POST", "notifications/flush")
        assert receiver.attempts == 1
        log = api.admin("GET", "notifications")["log"]
        assert log[-1]["outcome"] == "subscription-deleted"

    def test_503_is_retried_until_delivered(self, api: Any, kit: Any, receiver: Any) -> None:
        _subscribe(api, receiver)
        receiver.statuses.extend([503, 429])
        api.post("customers", {"displayName": "Retry me"})
        posts = receiver.wait_for(1, timeout=5)
        assert receiver.attempts == 3
        assert posts[0]["value"][0]["changeType"] == "created"
        outcomes = [e["outcome"] for e in api.admin("GET", "notifications")["log"]]
        assert outcomes == ["retry-scheduled", "retry-scheduled", "delivered"]
        assert len(_subscriptions(api, kit)) == 1

    def test_subscription_deleted_after_too_many_failed_attempts(
        self, api: Any, kit: Any, receiver: Any
    ) -> None:
        _subscribe(api, receiver)
        receiver.statuses.extend([500] * 10)
        api.post("customers", {"displayName": "Never"})
        deadline = time.monotonic() + 5
        while _subscriptions(api, kit) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _subscriptions(api, kit) == []
        assert receiver.attempts == 6  # attempt numbers 0..5; deleted when it would exceed 5

    def test_lifetime_is_measured_on_the_emulated_clock(
        self, api: Any, kit: Any, receiver: Any
    ) -> None:
        sub = kit.loads(_subscribe(api, receiver))
        expiry = _parse(sub["expirationDateTime"])
        assert expiry - datetime.now(UTC) > timedelta(days=2, hours=23)
