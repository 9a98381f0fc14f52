"""The console's rules that need no browser: why a record is in the queue, how the queue reads
a clerk's filters, the roles, the links into BC and Stripe, money as BC shows it, the CSP, and
the settings an IT person sets."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.config import ConfigError
from mlconnector.config import EnvReader
from reconciler.attention import attention_of
from reconciler.attention import raw_attention
from reconciler.console.formatting import amount
from reconciler.console.formatting import money
from reconciler.console.formatting import nonzero
from reconciler.console.identity import _safe_next
from reconciler.console.links import Links
from reconciler.console.queue_data import FilterError
from reconciler.console.queue_data import QueueFilter
from reconciler.console.queue_data import _minor_candidates
from reconciler.console.queue_data import queue_counts
from reconciler.console.queue_data import queue_page
from reconciler.console.roles import Person
from reconciler.console.roles import Role
from reconciler.console.security import content_security_policy
from reconciler.console.settings import ConsoleSettings
from reconciler.migrate import downgrade
from reconciler.migrate import upgrade
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord


class TestAttention:
    def test_failed_and_unmatched_states_need_a_person(self) -> None:
        assert attention_of("failed", {}) == "failed"
        assert attention_of("unmatched", None) == "unmatched"
        assert attention_of("succeeded", {}) is None
        assert attention_of("pending", {"overpaid": True}) is None

    def test_a_handlers_flag_names_the_reason_even_on_a_succeeded_record(self) -> None:
        assert attention_of("succeeded", {"needs_person": "refund_customer_side"}) == (
            "refund_customer_side"
        )

    def test_marking_handled_clears_exactly_the_reason_that_was_handled(self) -> None:
        handled = {"handled": {"what": "unmatched", "by": "Chris"}}
        assert attention_of("unmatched", handled) is None
        assert raw_attention("unmatched", handled) == "unmatched"
        # Something new needs a person later: it is back in the queue.
        assert attention_of("failed", handled) == "failed"
        flagged = {**handled, "needs_person": "paid_twice"}
        assert attention_of("unmatched", flagged) == "paid_twice"


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade(url)
    return sessionmaker(sa.create_engine(url), expire_on_commit=False)


def _record(session: Session, n: int, **fields: object) -> SyncRecord:
    values: dict[str, object] = {"kind": RecordKind.PAYMENT, "business_key": f"stripe:ch_{n}"}
    values.update(fields)
    record = SyncRecord(**values)
    session.add(record)
    session.flush()
    return record


class TestTheOrmKeepsAttention:
    def test_every_write_recomputes_it(self, sessions: sessionmaker[Session]) -> None:
        with sessions.begin() as session:
            record = _record(session, 1, state=RecordState.UNMATCHED)
            assert record.attention == "unmatched"
            record.state = RecordState.SUCCEEDED
            session.flush()
            assert record.attention is None
            record.flags = {"needs_person": "dispute_lost", "todo": "decide"}
            session.flush()
            assert record.attention == "dispute_lost"
        with sessions() as session:
            stored = session.scalar(sa.text("SELECT attention FROM sync_records"))
        assert stored == "dispute_lost"

    def test_the_migration_fills_it_in_for_existing_rows(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'old.db'}"
        upgrade(url)
        downgrade(url, "0006")
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            for key, state, flags in (
                ("a", "failed", "{}"),
                ("b", "succeeded", '{"needs_person": "payout_unmatched"}'),
                ("c", "succeeded", "{}"),
            ):
                connection.execute(
                    sa.text(
                        "INSERT INTO sync_records (kind, business_key, state, attempts, flags, "
                        "created_at, updated_at) VALUES ('payment', :k, :s, 0, :f, "
                        "'2026-12-01 00:00:00', '2026-12-01 00:00:00')"
                    ),
                    {"k": key, "s": state, "f": flags},
                )
        upgrade(url)
        with engine.connect() as connection:
            rows = {
                str(key): kind
                for key, kind in connection.execute(
                    sa.text("SELECT business_key, attention FROM sync_records")
                )
            }
        assert rows == {"a": "failed", "b": "payout_unmatched", "c": None}


class TestQueue:
    def test_filters_a_clerk_types_are_checked_with_a_plain_message(self) -> None:
        for args, message in (
            ({"amount": "12,0x"}, "amount must be a number"),
            ({"amount": "-5"}, "positive"),
            ({"from": "31.12.2026"}, "from must be a date"),
            ({"q": "x" * 101}, "longer than 100"),
            ({"before": "abc"}, "record number"),
        ):
            with pytest.raises(FilterError, match=message):
                QueueFilter.parse(args)

    def test_a_filter_round_trips_through_its_link(self) -> None:
        flt = QueueFilter.parse(
            {"kind": "unmatched", "q": " PS-INV1 ", "amount": "1,200.50", "from": "2026-12-01"}
        )
        assert flt.q == "PS-INV1"
        assert flt.amount == Decimal("1200.50")
        assert QueueFilter.parse(flt.args()) == flt
        assert "before" not in flt.args()
        assert flt.args(before=7)["before"] == "7"

    def test_an_amount_is_sought_in_zero_two_and_three_decimal_currencies(self) -> None:
        assert _minor_candidates(Decimal("120.5")) == [12050, 120500]
        assert _minor_candidates(Decimal("12000")) == [12000, 1200000, 12000000]
        assert _minor_candidates(Decimal("0.0005")) == []

    def test_pages_are_keyset_pages_of_what_needs_a_person(
        self, sessions: sessionmaker[Session]
    ) -> None:
        with sessions.begin() as session:
            for n in range(1, 8):
                _record(
                    session,
                    n,
                    state=RecordState.UNMATCHED if n % 2 else RecordState.SUCCEEDED,
                    stripe_ref=f"ch_{n}",
                    amount_minor=64025 if n == 3 else 100,
                    currency="kwd" if n == 3 else "usd",
                )
        with sessions() as session:
            first = queue_page(session, QueueFilter(), size=2)
            assert [r.stripe_ref for r in first.rows] == ["ch_7", "ch_5"]
            second = queue_page(session, QueueFilter(before=first.next_before), size=2)
            assert [r.stripe_ref for r in second.rows] == ["ch_3", "ch_1"]
            assert second.next_before is None
            found = queue_page(session, QueueFilter(amount=Decimal("64.025")))
            assert [r.stripe_ref for r in found.rows] == ["ch_3"]
            # 64.025 is not 6402.5 of a two-decimal currency: no false match on 64025.
            assert queue_page(session, QueueFilter(amount=Decimal("640.25"))).rows == []
            assert [r.stripe_ref for r in queue_page(session, QueueFilter(q="ch_5")).rows] == [
                "ch_5"
            ]
            assert queue_counts(session) == {"unmatched": 4}


class TestRoles:
    def test_each_role_includes_the_ones_below_it(self) -> None:
        admin = Person("Ada", "ada@x", "oid-1", "tid", ("Admin",))
        clerk = Person("Chris", "chris@x", "oid-2", "tid", ("Clerk", "Viewer"))
        viewer = Person("Vera", "vera@x", "oid-3", "tid", ("Viewer",))
        nobody = Person("Nobody", "n@x", "oid-4", "tid", ("SomethingElse",))
        assert admin.can(Role.CLERK)
        assert admin.can(Role.VIEWER)
        assert clerk.role is Role.CLERK
        assert not clerk.can(Role.ADMIN)
        assert viewer.can(Role.VIEWER)
        assert not viewer.can(Role.CLERK)
        assert nobody.role is None
        assert not nobody.can(Role.VIEWER)

    def test_the_audit_trail_names_the_person_and_their_object_id(self) -> None:
        person = Person("Chris Clerk", "clerk@firm.example", "4a1", "tid", ("Clerk",))
        assert person.actor == "Chris Clerk <clerk@firm.example> (4a1)"
        assert Person.from_session(person.to_session()) == person


class TestLinksAndMoney:
    def test_links_are_built_from_configuration(self) -> None:
        links = Links("tenant-1", "production", "CRONUS USA, Inc.", "test")
        bc = links.bc("invoice", "PS-INV103001")
        assert bc is not None
        assert bc.startswith("https://businesscentral.dynamics.com/tenant-1/production/?")
        assert "page=132" in bc
        assert "CRONUS%20USA%2C%20Inc." in bc
        assert links.stripe("in_123") == "https://dashboard.stripe.com/test/invoices/in_123"
        assert links.stripe("ch_9") == "https://dashboard.stripe.com/test/payments/ch_9"
        assert Links("t", "e", "c", "live").stripe("po_1") == (
            "https://dashboard.stripe.com/payouts/po_1"
        )
        assert links.stripe("txn_1") is None
        assert Links(None, "production", None, "test").bc("invoice", "X") is None

    def test_amounts_show_their_currencys_decimals(self) -> None:
        assert money(123450, "usd") == "1,234.50 USD"
        assert money(12000, "jpy") == "12,000 JPY"
        assert money(640250, "kwd") == "640.250 KWD"
        assert money(None, "usd") == "—"
        assert amount(Decimal("640.25"), "KWD") == "640.250 KWD"
        assert amount("1200", "EUR") == "1,200.00 EUR"

    def test_a_drift_figure_is_nonzero_exactly_when_its_decimal_is(self) -> None:
        assert [nonzero(v) for v in ("0.000", "0", None, "")] == [False] * 4
        assert [nonzero(v) for v in ("-640.250", "0.001")] == [True, True]
        assert nonzero("n/a")  # shown rather than hidden


class TestSecurity:
    def test_the_csp_allows_no_inline_code_and_forms_only_to_the_idp(self) -> None:
        settings = _settings({"MLC_CONSOLE_AUTHORITY": "https://login.example.com/tenant"})
        policy = content_security_policy(settings)
        assert "unsafe-inline" not in policy
        assert "unsafe-eval" not in policy
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "form-action 'self' https://login.example.com" in policy

    def test_after_sign_in_only_a_console_path_is_followed(self) -> None:
        assert _safe_next("/console/queue?kind=failed") == "/console/queue?kind=failed"
        for target in ("https://evil.example/console/", "//evil.example/console/", "/records"):
            assert _safe_next(target) is None


def _settings(environ: dict[str, str]) -> ConsoleSettings:
    env = EnvReader(environ)
    settings = ConsoleSettings.from_reader(env)
    env.finish()
    return settings


class TestSettings:
    def test_the_console_is_off_until_an_app_registration_is_set(self) -> None:
        assert not _settings({}).enabled
        on = _settings(
            {
                "MLC_CONSOLE_AUTHORITY": "https://login.microsoftonline.com/t-1/",
                "MLC_CONSOLE_CLIENT_ID": "c-1",
            }
        )
        assert on.enabled
        assert on.tenant_id == "t-1"
        assert on.cookie_secure

    def test_wrong_values_are_named(self) -> None:
        with pytest.raises(ConfigError) as caught:
            _settings(
                {
                    "MLC_CONSOLE_AUTHORITY": "http://login.example/t",
                    "MLC_CONSOLE_SESSION_STORE": "memcached://x",
                    "MLC_CONSOLE_TIMEZONE": "Mars/Olympus",
                    "MLC_CONSOLE_IDLE_MINUTES": "1",
                }
            )
        text = str(caught.value)
        for name in ("AUTHORITY", "SESSION_STORE", "TIMEZONE", "IDLE_MINUTES"):
            assert f"MLC_CONSOLE_{name}" in text, text


def test_dates_are_shown_in_the_firms_time_zone() -> None:
    from flask import Flask

    from reconciler.console.formatting import install_filters

    app = Flask(__name__)
    install_filters(app, _settings({"MLC_CONSOLE_TIMEZONE": "Asia/Tokyo"}))
    when = app.jinja_env.filters["when"]
    assert when(dt.datetime(2026, 12, 7, 20, 30, tzinfo=dt.UTC)) == "2026-12-08 05:30"
