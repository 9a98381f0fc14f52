"""The Today page's BC webhook subscriptions: bc-gateway's light list, cached, never waited on long.

The page asks ``BcGateway.subscriptions()`` (``GET /commands/subscriptions``, one BC call) rather
than the connection report. The gateway here is a double of the adapter port answering as the
gateway's integration test (tests/integration/bc_gateway/test_subscriptions_command.py) shows
it, or failing as the HTTP adapter fails; the rows are rendered by the real subscription
partial the Today and Connections pages share.
"""

from __future__ import annotations

import re
import time
import types
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask import render_template

from mlconnector.config import EnvReader
from reconciler.adapters.gateways import BcGateway
from reconciler.adapters.http import GatewayRejected
from reconciler.adapters.http import GatewayUnavailable
from reconciler.console import today
from reconciler.console.connections_data import listed_subscriptions
from reconciler.console.formatting import install_filters
from reconciler.console.settings import ConsoleSettings

URL = "https://connector.example/webhooks/bc"
COMPANY = "45ba6007-dc14-4cbb-8f8b-0e2a0b498a2c"


def row(sub_id: str, entity: str, expires_at: str, **changes: Any) -> dict[str, Any]:
    return {
        "id": sub_id,
        "entity": entity,
        "resource": f"/api/v2.0/companies({COMPANY})/{entity}",
        "notification_url": URL,
        "expires_at": expires_at,
        "ours": True,
        "expired": False,
        "expiring_soon": False,
        **changes,
    }


def listing() -> dict[str, Any]:
    """bc-gateway's answer: two of ours (one due for renewal) and another subscriber's."""
    value = [
        row("s1", "salesInvoices", "2026-12-10T04:43:17.983000+00:00"),
        row(
            "s3",
            "customers",
            "2026-12-07T06:00:00+00:00",
            resource="/api/v2.0/companies(other)/customers",
            notification_url="https://crm.example/hook",
            ours=False,
            expiring_soon=True,
        ),
        row("s2", "customers", "2026-12-08T04:00:00+00:00", expiring_soon=True),
    ]
    return {
        "value": value,
        "count": len(value),
        "notification_url": URL,
        "renew_margin_hours": 24.0,
        "checked_at": "2026-12-07T04:43:18+00:00",
    }


class ListingBc(BcGateway):
    """The bc-gateway port answering its subscription list (or failing as HTTP would)."""

    def __init__(self, answer: dict[str, Any] | Exception, delay_s: float = 0) -> None:
        self.answer, self.delay_s = answer, delay_s
        self.asked_with: list[float] = []

    def subscriptions(self, timeout_s: float = 6.0) -> dict[str, Any]:
        self.asked_with.append(timeout_s)
        time.sleep(self.delay_s)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def connection(self, timeout_s: float = 8.0) -> dict[str, Any]:
        raise AssertionError("the Today page must not ask for the connection report")


def deps_with(bc: BcGateway) -> Any:
    return types.SimpleNamespace(handler_deps=types.SimpleNamespace(bc=bc))


@pytest.fixture(autouse=True)
def empty_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with this process's cache empty (it is module state)."""
    monkeypatch.setattr(today, "_cache", {})


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


class TestSource:
    def test_the_rows_of_the_list_ours_first_soonest_to_expire_first(self) -> None:
        bc = ListingBc(listing())

        found, problem = today._subscriptions(deps_with(bc))

        assert problem is None
        assert found is not None
        assert [(s.label, s.ours, s.status) for s in found] == [
            ("Customers", True, "Due for renewal"),
            ("Sales invoices", True, "Active"),
            ("Customers", False, "Due for renewal"),
        ]
        assert found[0].expires_at is not None
        assert found[0].expires_at.isoformat() == "2026-12-08T04:00:00+00:00"
        # The request gives up a little after the page stops waiting, never long after.
        page_wait = today.SUBSCRIPTIONS_WAIT_S + today.SUBSCRIPTIONS_GRACE_S
        assert bc.asked_with == [page_wait + 1]

    def test_no_subscription_at_all_is_an_empty_list_not_a_problem(self) -> None:
        found, problem = today._subscriptions(deps_with(ListingBc({"value": [], "count": 0})))
        assert (found, problem) == ([], None)

    def test_asked_at_most_once_a_minute_per_process(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert today.SUBSCRIPTIONS_TTL_S == 60.0
        clock = [1000.0]
        monkeypatch.setattr(today.time, "monotonic", lambda: clock[0])
        bc = ListingBc(listing())

        first = today._subscriptions(deps_with(bc))
        clock[0] += 59
        assert today._subscriptions(deps_with(bc)) == first
        assert len(bc.asked_with) == 1
        clock[0] += 2  # past the minute: asked again
        today._subscriptions(deps_with(bc))
        assert len(bc.asked_with) == 2

    def test_a_failure_is_kept_for_the_minute_too(self, monkeypatch: pytest.MonkeyPatch) -> None:
        clock = [1000.0]
        monkeypatch.setattr(today.time, "monotonic", lambda: clock[0])
        bc = ListingBc(GatewayUnavailable("bc-gateway GET /commands/subscriptions answered 503"))

        _, problem = today._subscriptions(deps_with(bc))
        clock[0] += 30
        assert today._subscriptions(deps_with(bc))[1] == problem
        assert len(bc.asked_with) == 1  # a BC outage is not asked about on every view


class TestWhyUnknown:
    def test_a_slow_gateway_does_not_hold_the_page(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(today, "SUBSCRIPTIONS_WAIT_S", 0.2)
        monkeypatch.setattr(today, "SUBSCRIPTIONS_GRACE_S", 0.0)
        slow = ListingBc(listing(), delay_s=3)

        started = time.monotonic()
        found, problem = today._subscriptions(deps_with(slow))

        assert time.monotonic() - started < 2
        assert found is None
        assert problem == "bc-gateway did not answer No answer within 0.2 seconds."

    @pytest.mark.parametrize(
        ("failure", "shown"),
        [
            (
                GatewayUnavailable(
                    "bc-gateway GET /commands/subscriptions answered 503 bc_unavailable: "
                    "BC is unavailable"
                ),
                "bc-gateway did not answer bc-gateway GET /commands/subscriptions answered 503 "
                "bc_unavailable: BC is unavailable",
            ),
            (
                GatewayRejected("forbidden", "caller 'reconciler' may not use this command"),
                "bc-gateway refused the question",
            ),
            (RuntimeError("a bug"), "The question failed: RuntimeError."),
        ],
        ids=["unavailable", "refused", "a bug"],
    )
    def test_each_failure_says_why(self, failure: Exception, shown: str) -> None:
        found, problem = today._subscriptions(deps_with(ListingBc(failure)))
        assert found is None
        assert problem is not None
        assert shown in problem

    def test_a_gateway_older_than_the_console_is_named_as_a_possible_cause(self) -> None:
        older = GatewayRejected("not_found", "bc-gateway GET /commands/subscriptions: no route")
        _, problem = today._subscriptions(deps_with(ListingBc(older)))
        assert problem is not None
        assert "the gateway may be older than the console" in problem

    @pytest.mark.parametrize("answer", [{"hello": 1}, {"checks": {}}, {"value": "none"}])
    def test_an_answer_that_is_not_a_list_is_not_read(self, answer: dict[str, Any]) -> None:
        found, problem = today._subscriptions(deps_with(ListingBc(answer)))
        assert found is None
        assert problem == "bc-gateway sent an answer the console cannot read"


class TestShown:
    def test_entity_expiry_ours_and_due_as_the_shared_partial_shows_them(self) -> None:
        app = Flask(__name__, template_folder=str(Path(today.__file__).parent / "templates"))
        settings = ConsoleSettings.from_reader(EnvReader({"MLC_CONSOLE_TIMEZONE": "Europe/Paris"}))
        app.extensions["console"] = settings
        install_filters(app, settings)

        with app.test_request_context():
            html = render_template(
                "console/_subscriptions.html", subscriptions=listed_subscriptions(listing())
            )

        text = text_of(html)
        assert text.index("Customers") < text.index("Sales invoices") < text.index("crm")
        assert "Due for renewal" in text
        assert "Active" in text
        assert "Not the connector's" in text
        # Times in the firm's zone, as everywhere in the console.
        assert "2026-12-08 05:00" in text
        assert 'datetime="2026-12-08T05:00:00+01:00"' in html
