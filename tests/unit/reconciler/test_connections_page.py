"""The console's Connections page: both gateways' reports, a silent gateway, the Admin role.

The page is rendered by its blueprint inside a small console (the real templates, filters and
assets; a signed-in person set per test instead of the Entra sign-in, which is not the subject).
The gateways are doubles of the adapter ports answering with reports shaped as the gateways'
integration tests show them, or failing as the HTTP adapter fails. A browser test runs axe-core
on the rendered page and walks it with the keyboard.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint
from flask import Flask
from flask import g
from werkzeug.serving import make_server

from mlconnector.config import EnvReader
from mlconnector.logging import correlation_scope
from mlconnector.logging import get_correlation_id
from reconciler.adapters.gateways import BcGateway
from reconciler.adapters.gateways import StripeGateway
from reconciler.adapters.http import GatewayRejected
from reconciler.adapters.http import GatewayUnavailable
from reconciler.console import assets
from reconciler.console import connections
from reconciler.console.connections_data import ask_gateways
from reconciler.console.connections_data import parse_time
from reconciler.console.connections_data import subscriptions_of
from reconciler.console.formatting import install_filters
from reconciler.console.roles import Person
from reconciler.console.roles import Role
from reconciler.console.settings import ConsoleSettings

URL = "https://connector.example/webhooks/bc"
COMPANY = "45ba6007-dc14-4cbb-8f8b-0e2a0b498a2c"


def bc_report(**changes: Any) -> dict[str, Any]:
    """A bc-gateway report: token and company fine, one entity set refused, one subscription due."""
    checks: dict[str, Any] = {
        "token": {
            "ok": True,
            "detail": "Entra issued a token for app c0ffee00 at https://login.example/t1",
            "skipped": False,
            "authority_host": "https://login.example",
            "tenant_id": "t1",
            "client_id": "c0ffee00",
            "expires_at": "2026-12-07T05:43:16+00:00",
            "aadsts": None,
        },
        "company": {
            "ok": True,
            "detail": "CRONUS USA, Inc.",
            "skipped": False,
            "id": COMPANY,
            "environment": "production",
            "name": "CRONUS USA, Inc.",
            "reachable": True,
        },
        "permissions": {
            "ok": False,
            "detail": "cannot read generalLedgerEntries (403): assign permission sets",
            "skipped": False,
            "entities": [
                {"entity": "salesInvoices", "ok": True, "status": 200, "detail": "read"},
                {
                    "entity": "generalLedgerEntries",
                    "ok": False,
                    "status": 403,
                    "detail": "403 Authorization_InsufficientPermissions: <b>G/L Entry</b>",
                },
            ],
        },
        "subscriptions": {
            "ok": True,
            "detail": "2 subscription(s); customers due for renewal",
            "skipped": False,
            "notification_url": URL,
            "renew_margin_hours": 24.0,
            "missing": [],
            "subscriptions": [
                {
                    "id": "s2",
                    "entity": "customers",
                    "resource": f"/api/v2.0/companies({COMPANY})/customers",
                    "notification_url": URL,
                    "expires_at": "2026-12-08T04:00:00+00:00",
                    "ours": True,
                    "expired": False,
                    "expiring_soon": True,
                },
                {
                    "id": "s1",
                    "entity": "salesInvoices",
                    "resource": f"/api/v2.0/companies({COMPANY})/salesInvoices",
                    "notification_url": URL,
                    "expires_at": "2026-12-10T04:43:17.983000+00:00",
                    "ours": True,
                    "expired": False,
                    "expiring_soon": False,
                },
                {
                    "id": "s3",
                    "entity": "customers",
                    "resource": "/api/v2.0/companies(other)/customers",
                    "notification_url": "https://crm.example/hook",
                    "expires_at": "2026-12-07T06:00:00+00:00",
                    "ours": False,
                    "expired": False,
                    "expiring_soon": True,
                },
            ],
        },
    }
    checks.update(changes)
    return {"ok": False, "checked_at": "2026-12-07T04:43:18+00:00", "checks": checks}


def stripe_report() -> dict[str, Any]:
    return {
        "ok": False,
        "checked_at": "2026-12-07T04:46:17+00:00",
        "checks": {
            "key": {
                "ok": True,
                "detail": "Stripe accepts this test-mode restricted key",
                "skipped": False,
                "mode": "test",
                "type": "restricted",
                "masked": "rk_test_…port",
            },
            "account": {
                "ok": False,
                "detail": "this key may not read the account details",
                "skipped": False,
            },
            "webhooks": {
                "ok": False,
                "detail": "no endpoint of ours sends charge.refunded",
                "skipped": False,
                "handled_events": ["invoice.paid", "charge.refunded"],
                "missing": ["charge.refunded"],
                "endpoints": [
                    {
                        "id": "we_1",
                        "url": "https://connector.example/webhooks/stripe",
                        "status": "enabled",
                        "api_version": None,
                        "enabled_events": ["invoice.paid"],
                        "missing_events": ["charge.refunded"],
                        "ours": True,
                    }
                ],
            },
            "permissions": {
                "ok": False,
                "detail": "cannot read charges (403)",
                "skipped": False,
                "writes_needed": "customers, invoices",
                "resources": [
                    {"resource": "customers", "ok": True, "status": 200, "detail": "read"},
                    {"resource": "charges", "ok": False, "status": 403, "detail": "may not"},
                ],
            },
        },
    }


class ReportingBc(BcGateway):
    """The bc-gateway port answering its connection report (or failing as HTTP would)."""

    def __init__(self, answer: dict[str, Any] | Exception, delay_s: float = 0) -> None:
        self.answer, self.delay_s = answer, delay_s
        self.asked_with: list[float] = []

    def connection(self, timeout_s: float = 8.0) -> dict[str, Any]:
        self.asked_with.append(timeout_s)
        time.sleep(self.delay_s)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class ReportingStripe(StripeGateway):
    def __init__(self, answer: dict[str, Any] | Exception) -> None:
        self.answer = answer

    def connection(self, timeout_s: float = 8.0) -> dict[str, Any]:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def console_app(bc: BcGateway, stripe: StripeGateway, role: str | None = "Admin") -> Flask:
    """The Connections blueprint in a console of its own, signed in as a person with ``role``."""
    app = Flask(__name__)
    settings = ConsoleSettings.from_reader(EnvReader({"MLC_CONSOLE_TIMEZONE": "Europe/Paris"}))
    app.extensions["console"] = settings
    app.extensions["reconciler"] = types.SimpleNamespace(
        handler_deps=types.SimpleNamespace(bc=bc, stripe=stripe)
    )
    install_filters(app, settings)
    console = Blueprint(
        "console", "reconciler.console", url_prefix="/console", template_folder="templates"
    )
    others = Blueprint("today", __name__)
    others.add_url_rule("/today", "page", lambda: "today")
    queue = Blueprint("queue", __name__)
    queue.add_url_rule("/queue", "page", lambda: "queue")
    identity = Blueprint("identity", __name__)
    identity.add_url_rule("/sign-out", "sign_out", lambda: "bye", methods=["POST"])
    for bp in (assets.bp, connections.bp, others, queue, identity):
        console.register_blueprint(bp)

    @console.before_request
    def _signed_in() -> None:
        g.person = Person(
            "Ada Lovelace", "ada@firm.example", "oid-1", "t1", (role,) if role else ()
        )

    app.register_blueprint(console)
    app.jinja_env.globals.update(
        roles=Role,
        url_endpoints={rule.endpoint for rule in app.url_map.iter_rules()},
        csrf_token=lambda: "csrf-token-for-tests",
    )
    return app


def page(app: Flask) -> tuple[int, str]:
    response = app.test_client().get("/console/connections")
    return response.status_code, response.get_data(as_text=True)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


class TestPage:
    def test_both_reports_with_their_checks_and_facts(self) -> None:
        bc = ReportingBc(bc_report())
        status, html = page(console_app(bc, ReportingStripe(stripe_report())))

        assert status == 200
        text = text_of(html)
        assert bc.asked_with == [8.0]
        assert "Sign-in (Microsoft Entra ID) OK" in text
        assert "Permissions Failed cannot read generalLedgerEntries (403)" in text
        assert "Refused (403)" in text
        assert "c0ffee00" in text
        assert "CRONUS USA, Inc." in text
        # Times in the firm's zone, as everywhere in the console.
        assert "2026-12-07 06:43" in text
        assert "rk_test_…port" in text
        assert "Account Failed this key may not read the account details" in text
        assert "charge.refunded" in text
        assert "Charges" in text
        assert "customers, invoices" in text
        # BC's text is shown as text, never as markup.
        assert "&lt;b&gt;G/L Entry&lt;/b&gt;" in html

    def test_the_subscriptions_with_their_expiry_ours_first(self) -> None:
        status, html = page(console_app(ReportingBc(bc_report()), ReportingStripe(stripe_report())))
        assert status == 200
        table = html[html.index("subscriptions-caption") :]
        table = text_of(table[: table.index("</table>")])
        assert table.index("Customers") < table.index("Sales invoices") < table.index("crm")
        assert "Due for renewal" in table
        assert "Active" in table
        assert "Not the connector's" in table
        rows = subscriptions_of(bc_report())
        assert [(s.label, s.ours) for s in rows] == [
            ("Customers", True),
            ("Sales invoices", True),
            ("Customers", False),
        ]

    def test_a_gateway_that_does_not_answer_is_said_so_and_the_other_still_shows(self) -> None:
        silent = ReportingBc(GatewayUnavailable("bc-gateway unreachable: ConnectionError"))
        status, html = page(console_app(silent, ReportingStripe(stripe_report())))

        assert status == 200
        text = text_of(html)
        assert "bc-gateway did not answer." in text
        assert "ConnectionError" in text
        assert "Stripe accepts this test-mode restricted key" in text

    def test_a_gateway_too_slow_for_the_page_does_not_hold_it(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(connections, "GRACE_S", 0.0)
        monkeypatch.setattr(connections, "CONNECTION_TIMEOUT_S", 0.2)
        slow = ReportingBc(bc_report(), delay_s=3)

        started = time.monotonic()
        status, html = page(console_app(slow, ReportingStripe(stripe_report())))

        assert time.monotonic() - started < 2
        assert status == 200
        assert "bc-gateway did not answer." in text_of(html)
        assert "No answer within 0.2 seconds." in text_of(html)

    @pytest.mark.parametrize(
        ("failure", "shown"),
        [
            (
                GatewayRejected("forbidden", "caller 'reconciler' may not use this command"),
                "MLC_COMMAND_CALLERS",
            ),
            (RuntimeError("a bug"), "The question failed: RuntimeError."),
        ],
    )
    def test_any_other_failure_is_shown_never_a_500(self, failure: Exception, shown: str) -> None:
        status, html = page(console_app(ReportingBc(bc_report()), ReportingStripe(failure)))
        assert status == 200
        assert shown in text_of(html)

    def test_an_answer_without_checks_is_not_read(self) -> None:
        status, html = page(
            console_app(ReportingBc({"hello": 1}), ReportingStripe(stripe_report()))
        )
        assert status == 200
        assert "bc-gateway sent an answer the console cannot read" in text_of(html)

    @pytest.mark.parametrize("role", ["Clerk", "Viewer", None])
    def test_only_an_admin_may_see_it_and_no_gateway_is_asked_otherwise(
        self, role: str | None
    ) -> None:
        bc = ReportingBc(bc_report())
        status, _ = page(console_app(bc, ReportingStripe(stripe_report()), role))
        assert status == 403
        assert bc.asked_with == []

    def test_no_inline_script_or_style(self) -> None:
        _, html = page(console_app(ReportingBc(bc_report()), ReportingStripe(stripe_report())))
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html)


class TestAskGateways:
    def test_both_are_asked_at_once_with_the_requests_correlation_id(self) -> None:
        barrier = threading.Barrier(2, timeout=2)  # each call waits for the other: concurrent

        def ask() -> dict[str, Any]:
            barrier.wait()
            return {"checks": {}, "correlation_id": get_correlation_id()}

        with correlation_scope("cid-connections-1"):
            answers = ask_gateways({"bc-gateway": ask, "stripe-gateway": ask}, wait_s=3)

        assert [a.report and a.report["correlation_id"] for a in answers.values()] == [
            "cid-connections-1",
            "cid-connections-1",
        ]


class TestTimes:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("2026-12-07T04:43:18+00:00", "2026-12-07T04:43:18+00:00"),
            ("2026-12-07T04:43:18Z", "2026-12-07T04:43:18+00:00"),
            ("2026-12-07T04:43:18", "2026-12-07T04:43:18+00:00"),
            ("soon", None),
            ("", None),
            (None, None),
        ],
    )
    def test_report_times_become_aware_datetimes(self, raw: Any, expected: str | None) -> None:
        parsed = parse_time(raw)
        assert (parsed.isoformat() if parsed else None) == expected


AXE = Path(assets.DEFAULT_NODE_MODULES) / "axe-core" / "axe.min.js"


@pytest.fixture(params=["both answer", "stripe-gateway silent"])
def served(request: pytest.FixtureRequest) -> Iterator[str]:
    """The page's console served on 127.0.0.1 for a real browser."""
    stripe: dict[str, Any] | Exception = stripe_report()
    if request.param == "stripe-gateway silent":
        stripe = GatewayUnavailable("stripe-gateway unreachable: ConnectTimeout")
    app = console_app(ReportingBc(bc_report()), ReportingStripe(stripe))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/console/connections"
    server.shutdown()
    server.server_close()
    thread.join(5)


class TestInABrowser:
    def test_axe_finds_nothing_serious_and_the_keyboard_reaches_everything(
        self, served: str
    ) -> None:
        from playwright.sync_api import sync_playwright

        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if chromium is None:
            pytest.fail(
                "the console's browser tests need Debian's chromium: apt-get install chromium"
            )
        if not AXE.is_file():
            pytest.fail(f"axe-core is not installed at {AXE}: npm ci in services/reconciler/assets")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            try:
                tab = browser.new_page()
                tab.goto(served)
                tab.add_script_tag(path=str(AXE))
                result = tab.evaluate("async () => await axe.run(document)")
                bad = [
                    (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
                    for v in result["violations"]
                    if v["impact"] in ("serious", "critical")
                ]
                assert bad == []
                reached = []
                for _ in range(40):
                    tab.keyboard.press("Tab")
                    reached.append(
                        tab.evaluate(
                            "() => { const e = document.activeElement;"
                            " return e.getAttribute('aria-labelledby') || e.textContent.trim()"
                            ".slice(0, 40); }"
                        )
                    )
                assert "Skip to content" in reached
                assert "Check again" in reached
                assert "subscriptions-caption" in reached  # the scrollable table, by keyboard
            finally:
                browser.close()
