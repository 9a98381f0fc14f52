"""``GET /commands/connection``: the Connections page's BC report, over real HTTP.

The gateway runs as a werkzeug server on 127.0.0.1 (BC's emulator calls its webhook for the
subscription handshake) and is asked through the reconciler's own adapter with the reconciler's
service token, as the console asks it. Every answer is a 200 whose checks say what is wrong; none
carries a secret (the client secret, the clientState, the access token).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from factories import AUDITOR_KEY
from factories import SERVICE_SECRETS

from bc_gateway.bootstrap import Dependencies
from bc_gateway.bootstrap import build_bc
from bc_gateway.connection import ENTITY_READS
from bc_gateway.subscriptions import ENTITIES
from reconciler.adapters.http import GatewayRejected

pytestmark = pytest.mark.rabbitmq

BC = SERVICE_SECRETS["ml-connector/bc"]
DAY = 24 * 3600


def assert_no_secret(report: dict[str, Any], deps: Dependencies) -> None:
    """Neither the client secret, the clientState nor the token the gateway holds."""
    text = json.dumps(report, default=str)  # the adapter reads numbers as Decimal
    for secret in (BC["client_secret"], BC["client_state"]):
        assert secret not in text
    if deps.tokens is not None:
        try:
            token = deps.tokens.token()
        except Exception:  # noqa: BLE001 - no token issued: nothing to leak
            return
        assert token not in text
        assert token.split(".")[-1] not in text


class TestHealthy:
    def test_every_check_passes_with_its_facts(
        self, serve: Callable[..., Any], admin: Any, company: Any
    ) -> None:
        gateway = serve()
        gateway.subscribe()

        started = time.monotonic()
        report = gateway.adapter().connection()
        assert time.monotonic() - started < 8

        checks = report["checks"]
        assert report["ok"] is True, checks
        assert list(checks) == ["token", "company", "permissions", "subscriptions"]
        assert all(c["ok"] and not c["skipped"] for c in checks.values())
        token = checks["token"]
        assert token["client_id"] == BC["client_id"]
        assert token["tenant_id"] == gateway.deps.settings.bc.tenant_id  # type: ignore[union-attr]
        assert token["authority_host"] == admin.bc.base_url
        bc_now = dt.datetime.fromisoformat(admin.call("GET", "clock")["now"])
        expires = dt.datetime.fromisoformat(token["expires_at"])
        assert bc_now < expires <= bc_now + dt.timedelta(hours=1)
        assert checks["company"]["id"] == company.id
        assert checks["company"]["reachable"] is True
        assert checks["company"]["name"]
        rows = checks["permissions"]["entities"]
        assert [r["entity"] for r in rows] == list(ENTITY_READS)
        assert {r["status"] for r in rows} == {200}
        subs = checks["subscriptions"]
        assert subs["notification_url"] == gateway.url
        assert subs["missing"] == []
        assert sorted(s["entity"] for s in subs["subscriptions"] if s["ours"]) == sorted(ENTITIES)
        assert not any(s["expiring_soon"] or s["expired"] for s in subs["subscriptions"])
        assert "clientState" not in json.dumps(report, default=str)
        assert_no_secret(report, gateway.deps)

    def test_only_the_reconciler_may_ask(
        self, serve: Callable[..., Any], admin: Any, company: Any
    ) -> None:
        # An auditor trusted to read the books is not thereby trusted with the set-up.
        gateway = serve({"MLC_COMMAND_CALLERS": "reconciler=*;auditor=bc:read"})
        with pytest.raises(GatewayRejected) as refused:
            gateway.adapter(AUDITOR_KEY).connection()
        assert refused.value.code == "forbidden"
        assert gateway.adapter().connection()["checks"]["token"]["ok"] is True


class TestSubscriptions:
    def test_missing_foreign_and_due_subscriptions_are_told_apart(
        self, serve: Callable[..., Any], admin: Any, company: Any
    ) -> None:
        gateway = serve()
        gateway.subscribe("salesInvoices", "customers")
        # Someone else's subscription on the same app: listed, never counted as ours.
        gateway.subscribe("salesCreditMemos", url=gateway.url + "?other=1")
        admin.advance(2.5 * DAY)  # ours now expire within a day: due, not yet gone

        subs = gateway.adapter().connection()["checks"]["subscriptions"]

        assert subs["ok"] is False
        assert subs["missing"] == ["salesCreditMemos"]
        assert "renew-subscriptions" in subs["detail"]
        by_entity = {(s["entity"], s["ours"]): s for s in subs["subscriptions"]}
        assert set(by_entity) == {
            ("salesInvoices", True),
            ("customers", True),
            ("salesCreditMemos", False),
        }
        assert by_entity["salesInvoices", True]["expiring_soon"] is True
        assert by_entity["salesInvoices", True]["expired"] is False

    def test_subscriptions_due_for_renewal_still_pass(
        self, serve: Callable[..., Any], admin: Any, company: Any
    ) -> None:
        gateway = serve()
        gateway.subscribe()
        admin.advance(2.5 * DAY)

        subs = gateway.adapter().connection()["checks"]["subscriptions"]

        assert subs["ok"] is True
        assert "due for renewal" in subs["detail"]

    def test_without_a_notification_url_none_is_ours(
        self, serve: Callable[..., Any], admin: Any, company: Any
    ) -> None:
        gateway = serve()
        gateway.subscribe()
        unset = dataclasses.replace(gateway.deps.settings, notification_url=None)
        other = serve(settings=unset)

        subs = other.adapter().connection()["checks"]["subscriptions"]

        assert subs["ok"] is False
        assert "MLC_BC_NOTIFICATION_URL" in subs["detail"]
        assert len(subs["subscriptions"]) == 3
        assert not any(s["ours"] for s in subs["subscriptions"])


class TestFailures:
    def test_a_wrong_secret_fails_the_token_and_skips_the_rest_with_the_reason(
        self, serve: Callable[..., Any], make_deps: Any, admin: Any, company: Any
    ) -> None:
        settings = make_deps().settings.bc
        tokens, client = build_bc(settings, BC["client_id"], "wrong-secret-value-1")
        gateway = serve(tokens=tokens, bc=client)

        report = gateway.adapter().connection()

        checks = report["checks"]
        assert report["ok"] is False
        assert checks["token"]["ok"] is False
        assert "AADSTS7000215" in checks["token"]["detail"]
        assert checks["token"]["aadsts"] == 7000215
        assert checks["token"]["client_id"] == BC["client_id"]
        assert checks["token"]["expires_at"] is None
        for name in ("company", "permissions", "subscriptions"):
            assert checks[name]["skipped"] is True, name
            assert checks[name]["ok"] is False
            assert "no token" in checks[name]["detail"]
        assert "wrong-secret-value-1" not in json.dumps(report, default=str)
        assert_no_secret(report, gateway.deps)

    def test_a_refused_entity_set_is_named_with_bcs_answer(
        self, serve: Callable[..., Any], admin: Any, company: Any
    ) -> None:
        gateway = serve()
        gateway.subscribe()
        admin.fault(
            status=403,
            code="Authorization_InsufficientPermissions",
            message="You do not have the following permissions on TableData G/L Entry.",
            pathContains="generalLedgerEntries",
            count=1,
        )

        report = gateway.adapter().connection()

        permissions = report["checks"]["permissions"]
        assert permissions["ok"] is False
        assert "generalLedgerEntries (403)" in permissions["detail"]
        refused = [r for r in permissions["entities"] if not r["ok"]]
        assert [(r["entity"], r["status"]) for r in refused] == [("generalLedgerEntries", 403)]
        assert "Authorization_InsufficientPermissions" in refused[0]["detail"]
        assert report["checks"]["subscriptions"]["ok"] is True  # the others still ran
        assert_no_secret(report, gateway.deps)

    def test_an_unknown_company_lists_those_there_are(
        self, serve: Callable[..., Any], admin: Any, company: Any
    ) -> None:
        other = "0badc0de-0000-4000-8000-000000000001"
        gateway = serve({"MLC_BC_COMPANY_ID": other})

        checks = gateway.adapter().connection()["checks"]

        assert checks["token"]["ok"] is True
        assert checks["company"]["ok"] is False
        assert checks["company"]["reachable"] is False
        assert company.id in checks["company"]["detail"]
        assert checks["permissions"]["skipped"] is True

    def test_bc_answering_late_is_reported_within_the_time_asked(
        self, serve: Callable[..., Any], admin: Any, company: Any
    ) -> None:
        gateway = serve()
        admin.fault(status=503, delaySeconds=3, pathContains=f"companies({company.id})", count=1)

        started = time.monotonic()
        report = gateway.adapter().connection(timeout_s=1)
        elapsed = time.monotonic() - started

        assert elapsed < 2.5
        checks = report["checks"]
        assert checks["token"]["ok"] is True
        assert checks["company"] == {
            "id": company.id,
            "environment": "production",
            "name": None,
            "reachable": False,
            "ok": False,
            "detail": "BC did not answer within 1 s",
            "skipped": False,
        }
        assert checks["permissions"]["skipped"] is True
        assert "did not answer within 1 s" in checks["subscriptions"]["detail"]

    def test_a_timeout_out_of_range_is_refused(
        self, serve: Callable[..., Any], admin: Any, company: Any
    ) -> None:
        gateway = serve()
        for timeout in (0.5, 31):
            with pytest.raises(GatewayRejected) as refused:
                gateway.adapter().connection(timeout_s=timeout)
            assert refused.value.code == "validation_failed"
