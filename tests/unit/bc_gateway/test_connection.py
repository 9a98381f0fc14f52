"""The BC connection report's pure parts: the token's expiry, and reading the subscriptions."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

from bc_gateway.connection import ENTITY_READS
from bc_gateway.connection import connection_report
from bc_gateway.connection import missing_entities
from bc_gateway.connection import subscriptions_verdict
from bc_gateway.connection import token_expiry
from bc_gateway.ping import READS
from bc_gateway.settings import Settings
from bc_gateway.subscriptions import ENTITIES
from bc_gateway.subscriptions import subscription_row

COMPANY = "5d115c9c-44e3-ea11-bb43-000d3a2feca1"
URL = "https://connector.example/webhooks/bc"
NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(hours=24)


def jwt_with(claims: Any) -> str:
    def part(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'typ': 'JWT', 'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


def sub(
    entity: str, *, url: str = URL, company: str = COMPANY, expires: Any = NOW + 2 * DAY
) -> dict[str, Any]:
    return {
        "subscriptionId": f"sub-{entity}",
        "notificationUrl": url,
        "resource": f"/api/v2.0/companies({company})/{entity}",
        "clientState": "never-shown",
        "expirationDateTime": expires.isoformat() if isinstance(expires, dt.datetime) else expires,
        "@odata.etag": 'W/"1"',
    }


def rows(*subs: dict[str, Any]) -> list[dict[str, Any]]:
    return [subscription_row(s, URL, COMPANY, NOW, DAY) for s in subs]


class TestTokenExpiry:
    def test_the_exp_claim_of_a_jwt(self) -> None:
        exp = int(NOW.timestamp()) + 3599
        assert token_expiry(jwt_with({"exp": exp, "aud": "bc"})) == NOW + dt.timedelta(seconds=3599)

    @pytest.mark.parametrize(
        "token",
        [
            "opaque-token",
            "a.b",
            "a.!!!.c",
            jwt_with(["not", "an", "object"]),
            jwt_with({"aud": "bc"}),
            jwt_with({"exp": "tomorrow"}),
            jwt_with({"exp": True}),
            jwt_with({"exp": 10**20}),
        ],
    )
    def test_anything_else_is_unknown(self, token: str) -> None:
        assert token_expiry(token) is None


class TestSubscriptionRow:
    def test_ours_with_its_entity_and_without_the_client_state(self) -> None:
        [row] = rows(sub("salesInvoices"))
        assert row == {
            "id": "sub-salesInvoices",
            "entity": "salesInvoices",
            "resource": f"/api/v2.0/companies({COMPANY})/salesInvoices",
            "notification_url": URL,
            "expires_at": NOW + 2 * DAY,
            "ours": True,
            "expired": False,
            "expiring_soon": False,
        }
        assert "never-shown" not in json.dumps(row, default=str)

    def test_another_url_or_company_is_not_ours(self) -> None:
        other_url, other_company = rows(
            sub("customers", url=URL + "?x=1"),
            sub("customers", company="0badc0de-0000-4000-8000-000000000001"),
        )
        assert (other_url["ours"], other_url["entity"]) == (False, "customers")
        assert other_company["ours"] is False

    def test_due_expired_and_unreadable_expiries(self) -> None:
        due, gone, unknown = rows(
            sub("customers", expires=NOW + dt.timedelta(hours=5)),
            sub("salesInvoices", expires=NOW - dt.timedelta(minutes=1)),
            sub("salesCreditMemos", expires="someday"),
        )
        assert (due["expiring_soon"], due["expired"]) == (True, False)
        assert (gone["expiring_soon"], gone["expired"]) == (True, True)
        assert (unknown["expires_at"], unknown["expiring_soon"]) == (None, True)

    def test_a_resource_that_cannot_be_read_is_listed_as_it_is(self) -> None:
        [row] = rows({"subscriptionId": "x", "notificationUrl": URL, "resource": ""})
        assert (row["entity"], row["ours"], row["resource"]) == (None, False, "")


class TestVerdict:
    def test_every_entity_subscribed(self) -> None:
        ok, detail = subscriptions_verdict(rows(*(sub(e) for e in ENTITIES)), URL, NOW, DAY)
        assert ok
        assert detail.startswith(f"3 subscription(s) to {URL}; the first expires")
        assert "(in 48.0 h)" in detail

    def test_due_for_renewal_is_still_fine(self) -> None:
        subs = [sub(e, expires=NOW + dt.timedelta(hours=3)) for e in ENTITIES]
        ok, detail = subscriptions_verdict(rows(*subs), URL, NOW, DAY)
        assert ok
        assert "customers, salesCreditMemos, salesInvoices due for renewal" in detail

    def test_missing_or_expired_entities_fail(self) -> None:
        found = rows(sub("customers"), sub("salesInvoices", expires=NOW - DAY))
        assert missing_entities(found) == ["salesInvoices", "salesCreditMemos"]
        ok, detail = subscriptions_verdict(found, URL, NOW, DAY)
        assert not ok
        assert "for salesInvoices, salesCreditMemos: run bc-gateway renew-subscriptions" in detail

    def test_without_a_notification_url_nothing_is_ours(self) -> None:
        ok, detail = subscriptions_verdict([], None, NOW, DAY)
        assert not ok
        assert "MLC_BC_NOTIFICATION_URL is not set" in detail


def test_the_reads_cover_pings_and_every_entity_set_the_connector_uses() -> None:
    assert ENTITY_READS[: len(READS)] == READS
    assert len(set(ENTITY_READS)) == len(ENTITY_READS)
    assert {"salesCreditMemos", "generalLedgerEntries", "currencyExchangeRates"} <= set(
        ENTITY_READS
    )


def test_without_a_bc_connection_the_report_says_what_to_set_and_asks_nobody() -> None:
    settings = Settings.from_env({"MLC_MASTER_KEY": "a-master-key-for-tests"})
    assert settings.bc is None

    report = connection_report(settings, "c0ffee00", None, None, timeout_s=2)

    checks = report["checks"]
    assert report["ok"] is False
    assert "MLC_BC_TENANT_ID and MLC_BC_COMPANY_ID" in checks["token"]["detail"]
    assert checks["token"]["client_id"] == "c0ffee00"
    assert [checks[n]["detail"] for n in ("company", "permissions", "subscriptions")] == [
        "not checked: BC is not configured"
    ] * 3
