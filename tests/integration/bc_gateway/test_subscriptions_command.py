"""``GET /commands/subscriptions``: the Today page's list of BC's webhook subscriptions, over HTTP.

The gateway runs as a werkzeug server on 127.0.0.1 (BC's emulator calls its webhook for the
subscription handshake) and is asked through the reconciler's own adapter with the reconciler's
service token, as the Today page asks it. The list is one BC call (the connection report makes
about fifteen); its rows are the report's, so "ours" and "due" mean the same on both pages;
BC's ``clientState`` never leaves the gateway; and a BC that fails or refuses is a clear 503,
never a 500.
"""

from __future__ import annotations

import datetime as dt
import json
import types
from collections.abc import Callable
from typing import Any

import pytest
from factories import AUDITOR_KEY
from factories import SERVICE_SECRETS
from factories import free_port
from factories import service_token

from bc_gateway.subscriptions import ENTITIES
from reconciler.adapters.gateways import HttpBcGateway
from reconciler.adapters.http import GatewayRejected
from reconciler.adapters.http import GatewayUnavailable
from reconciler.console import today

pytestmark = pytest.mark.rabbitmq

BC = SERVICE_SECRETS["ml-connector/bc"]
DAY = 24 * 3600
PATH = "/commands/subscriptions"


def api_requests(admin: Any) -> int:
    return int(admin.call("GET", "stats")["apiRequests"])


def assert_no_secret(body: dict[str, Any]) -> None:
    text = json.dumps(body, default=str)  # the adapter reads numbers as Decimal
    assert "clientState" not in text
    assert "client_state" not in text
    for secret in (BC["client_state"], BC["client_secret"]):
        assert secret not in text


class TestListing:
    def test_ours_with_their_expiry_a_foreign_one_not_ours_in_one_bc_call(
        self, serve: Callable[..., Any], admin: Any, company: Any
    ) -> None:
        gateway = serve()
        created = {o.subscription_id: o for o in gateway.subscribe()}
        # Another subscriber on the same app and company: listed, never counted as ours.
        other_url = gateway.url + "?other=1"
        [foreign] = gateway.subscribe("customers", url=other_url)
        before = api_requests(admin)

        body = gateway.adapter().subscriptions()

        assert api_requests(admin) - before == 1  # the report makes ~15
        assert body["count"] == len(body["value"]) == len(ENTITIES) + 1
        assert body["notification_url"] == gateway.url
        assert body["renew_margin_hours"] == 24
        bc_now = dt.datetime.fromisoformat(admin.call("GET", "clock")["now"])
        checked = dt.datetime.fromisoformat(body["checked_at"])
        assert abs((checked - bc_now).total_seconds()) < 60  # judged on BC's clock
        rows = {row["id"]: row for row in body["value"]}
        assert set(rows) == {*created, foreign.subscription_id}
        for sub_id, outcome in created.items():
            row = rows[sub_id]
            assert row["ours"] is True
            assert row["entity"] == outcome.entity
            assert row["notification_url"] == gateway.url
            assert row["resource"] == f"/api/v2.0/companies({company.id})/{outcome.entity}"
            # BC's expirationDateTime, as BC answered renew-subscriptions: 3 days out.
            assert dt.datetime.fromisoformat(row["expires_at"]) == outcome.expires
            assert outcome.expires is not None
            assert outcome.expires - bc_now > dt.timedelta(days=2.9)
            assert (row["expired"], row["expiring_soon"]) == (False, False)
        other = rows[foreign.subscription_id]
        assert (other["entity"], other["ours"]) == ("customers", False)
        assert other["notification_url"] == other_url
        assert_no_secret(body)

    def test_within_the_renewal_margin_they_are_expiring_soon(
        self, serve: Callable[..., Any], admin: Any, company: Any
    ) -> None:
        gateway = serve()
        gateway.subscribe()
        admin.advance(2.5 * DAY)  # a day or less left: due, not yet gone

        rows = gateway.adapter().subscriptions()["value"]

        assert len(rows) == len(ENTITIES)
        assert all(r["ours"] and r["expiring_soon"] and not r["expired"] for r in rows)

    def test_the_rows_are_the_connection_reports(
        self, serve: Callable[..., Any], admin: Any, company: Any
    ) -> None:
        gateway = serve()
        gateway.subscribe("salesInvoices", "customers")
        gateway.subscribe("salesCreditMemos", url=gateway.url + "?other=1")
        adapter = gateway.adapter()

        listed = adapter.subscriptions()["value"]
        reported = adapter.connection()["checks"]["subscriptions"]["subscriptions"]

        def key(row: dict[str, Any]) -> str:
            return str(row["id"])

        assert sorted(listed, key=key) == sorted(reported, key=key)

    def test_the_today_page_reads_them_through_the_adapter(
        self, serve: Callable[..., Any], admin: Any, company: Any, monkeypatch: Any
    ) -> None:
        gateway = serve()
        gateway.subscribe()
        gateway.subscribe("customers", url=gateway.url + "?other=1")
        monkeypatch.setattr(today, "_cache", {})
        deps: Any = types.SimpleNamespace(handler_deps=types.SimpleNamespace(bc=gateway.adapter()))

        found, problem = today._subscriptions(deps)

        assert problem is None
        assert found is not None
        assert sorted((s.label, s.ours) for s in found) == [
            ("Customers", False),
            ("Customers", True),
            ("Sales credit memos", True),
            ("Sales invoices", True),
        ]
        assert [s.ours for s in found] == [True, True, True, False]  # ours first
        assert all(s.status == "Active" and s.expires_at is not None for s in found)


class TestWhoMayAsk:
    def test_without_a_token_401(self, serve: Callable[..., Any], admin: Any, company: Any) -> None:
        gateway = serve()
        before = api_requests(admin)

        response = gateway.get(PATH, None)

        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["error"]["code"] == "unauthorized"
        with pytest.raises(GatewayUnavailable, match="refused the service token"):
            HttpBcGateway(gateway.base).subscriptions()
        assert api_requests(admin) == before  # refused before BC is asked

    def test_a_caller_without_the_grant_403_even_one_that_may_read_the_books(
        self, serve: Callable[..., Any], admin: Any, company: Any
    ) -> None:
        gateway = serve({"MLC_COMMAND_CALLERS": "reconciler=*;auditor=bc:read"})
        before = api_requests(admin)

        response = gateway.get(PATH, "Bearer " + service_token("bc-gateway", key=AUDITOR_KEY))

        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
        with pytest.raises(GatewayRejected) as refused:
            gateway.adapter(AUDITOR_KEY).subscriptions()
        assert refused.value.code == "forbidden"
        assert api_requests(admin) == before
        assert gateway.adapter().subscriptions()["count"] == 0  # the reconciler may


class TestBcFailing:
    @pytest.mark.parametrize(
        ("fault", "bc_status"),
        [
            ({"status": 503, "count": 5}, 503),
            ({"status": 500, "count": 5}, 500),
            (
                {
                    "status": 403,
                    "code": "Authorization_InsufficientPermissions",
                    "message": "You do not have the following permissions on TableData API "
                    "Webhook Subscription.",
                    "count": 5,
                },
                403,
            ),
        ],
        ids=["unavailable", "server error", "refused"],
    )
    def test_a_clear_503_never_a_500(
        self,
        serve: Callable[..., Any],
        admin: Any,
        company: Any,
        fault: dict[str, Any],
        bc_status: int,
    ) -> None:
        gateway = serve({"MLC_BC_MAX_ATTEMPTS": "1"})
        gateway.subscribe()
        admin.fault(pathContains="subscriptions", **fault)

        response = gateway.get(PATH, "Bearer " + service_token("bc-gateway"))

        assert response.status_code == 503, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        assert int(response.headers["Retry-After"]) >= 1
        error = response.json()["error"]
        assert error["code"] == "bc_unavailable"
        assert error["message"].startswith("BC is unavailable")
        assert error["details"]["bc_status"] == bc_status
        assert_no_secret(response.json())
        with pytest.raises(GatewayUnavailable, match="503 bc_unavailable"):
            gateway.adapter().subscriptions()

    def test_bc_unreachable_is_a_clear_503(
        self, serve: Callable[..., Any], admin: Any, company: Any
    ) -> None:
        # Entra (the emulator) issues the token; BC's API host refuses connections.
        gateway = serve(
            {"MLC_BC_API_BASE": f"https://127.0.0.1:{free_port()}", "MLC_BC_MAX_ATTEMPTS": "1"}
        )

        response = gateway.get(PATH, "Bearer " + service_token("bc-gateway"))

        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "bc_unavailable"
