"""The review console in a real browser: sign-in, the queue, the actions, roles, sessions, a11y.

Debian's chromium driven by Playwright against the whole local stack (both emulators, the three
services), one stack and one browser for the module. People sign in through the BC emulator's
Entra sign-in form once per role; the tests reuse those cookies. A small business day made in
BC and Stripe (``console_day``) fills the queue. Pages run under the console's own
Content-Security-Policy, except where axe-core has to be injected (``bypass_csp``).
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import secrets
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import Protocol
from urllib.parse import urlsplit

import pytest
from console_browser import BLOCKING
from console_browser import SessionStore
from console_browser import axe_violations
from console_browser import csrf_token
from console_browser import describe
from console_browser import filters
from console_browser import focused
from console_browser import launch
from console_browser import new_context
from console_browser import replace_session_cookie
from console_browser import rows
from console_browser import session_id
from console_browser import sign_in
from console_browser import signed_in_state
from console_browser import tab_to
from console_browser import trail
from console_browser import watch_csp
from console_day import Day
from console_day import make_day
from e2e_helpers import bc_invoice
from e2e_helpers import bc_lines
from e2e_helpers import stripe_object
from e2e_helpers import wait_posted
from factories import wait_until
from playwright.sync_api import Browser
from playwright.sync_api import BrowserContext
from playwright.sync_api import Page
from playwright.sync_api import StorageState
from playwright.sync_api import expect

from bc_emulator.signin_seed import DemoUser
from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]
logger = logging.getLogger(__name__)

ROLES = ("Viewer", "Clerk", "Admin")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


class Open(Protocol):
    """Opens a page in a new browser context, signed in as ``role`` (None: nobody)."""

    def __call__(self, role: str | None, *, bypass_csp: bool = False) -> Page: ...


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as running:
        yield running


@pytest.fixture(scope="module")
def day(stack: LocalStack, connector: Connector) -> Day:
    return make_day(stack, connector)


@pytest.fixture(scope="module")
def people(stack: LocalStack) -> dict[str, DemoUser]:
    assert stack.signin is not None
    return {str(user.role): user for user in stack.signin.users}


@pytest.fixture(scope="module")
def url(stack: LocalStack) -> str:
    return stack.console_url()


@pytest.fixture(scope="module")
def states(browser: Browser, url: str, people: dict[str, DemoUser]) -> dict[str, StorageState]:
    """Each role signed in once through the real sign-in page; every test reuses the cookies."""
    return {role: signed_in_state(browser, url, people[role]) for role in ROLES}


@pytest.fixture
def open_as(browser: Browser, states: dict[str, StorageState]) -> Iterator[Open]:
    """``open_as("Clerk")``: a page in a new context signed in as the role (None: nobody)."""
    contexts: list[BrowserContext] = []

    def opener(role: str | None, *, bypass_csp: bool = False) -> Page:
        context = new_context(browser, states[role] if role else None, bypass_csp=bypass_csp)
        contexts.append(context)
        return context.new_page()

    yield opener
    for context in contexts:
        context.close()


def wait_state(connector: Connector, record_id: int, state: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def reached() -> bool:
        found.update(connector.record(record_id))
        return bool(found["record"]["state"] == state)

    assert wait_until(reached, timeout_s=30), found.get("record")
    return found


class TestSignIn:
    @pytest.mark.parametrize("role", ROLES)
    def test_each_role_signs_in_on_the_entra_page_and_lands_on_today_named(
        self, open_as: Open, url: str, people: dict[str, DemoUser], role: str
    ) -> None:
        page = open_as(None)
        sign_in(page, url, people[role])

        assert page.url == url + "today"
        expect(page.locator("main h1")).to_have_text("Today")
        expect(page.locator(".who")).to_have_text(f"{people[role].display_name} ({role})")

    def test_a_wrong_password_shows_the_emulators_error_and_opens_no_session(
        self, open_as: Open, url: str, stack: LocalStack, people: dict[str, DemoUser]
    ) -> None:
        page = open_as(None)
        sign_in(page, url, people["Clerk"], password="not-" + people["Clerk"].password)

        assert page.url.startswith(stack.bc.base_url)
        expect(page.locator("#signin-error")).to_have_text("Your account or password is incorrect.")
        page.goto(url + "today")
        assert urlsplit(page.url).path == "/console/sign-in"
        expect(page.locator("main h1")).to_have_text("Sign in to ml-connector")
        expect(page.locator(".who")).to_have_count(0)


class TestQueue:
    def test_the_queue_shows_each_exception_with_its_reason_and_cause(
        self, open_as: Open, url: str, day: Day
    ) -> None:
        page = open_as("Clerk")
        page.goto(url + "queue")
        shown = rows(page)

        foreign = shown[day.foreign["id"]]
        assert "Payment not matched to an invoice" in foreign
        assert day.foreign["stripe_ref"] in foreign
        assert day.foreign["last_error"] in foreign
        assert "Stripe invoice" in day.foreign["last_error"]
        refund = shown[day.refund_records[0]["id"]]
        assert "Refund to finish in BC" in refund
        assert f"BC {day.paid_invoice['number']}" in refund
        assert "10.00 USD" in refund
        assert day.invoice_record["id"] not in shown  # a settled invoice needs nobody

    def test_the_reason_filter_and_the_search_narrow_the_rows(
        self, open_as: Open, url: str, day: Day
    ) -> None:
        page = open_as("Clerk")
        page.goto(url + "queue")
        everything = rows(page)

        page.locator("#kind").select_option("refund_customer_side")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("#results-status")).to_have_text(re.compile("item"))
        assert filters(page) == {"path": "/console/queue", "kind": "refund_customer_side"}
        refunds = rows(page)
        assert day.refund_records[0]["id"] in refunds
        assert set(refunds) < set(everything)
        assert all("Refund to finish in BC" in text for text in refunds.values())

        page.goto(url + "queue")
        page.locator("#q").fill(day.foreign["stripe_ref"])
        page.locator("#q").press("Enter")
        expect(page.locator("#results tbody tr")).to_have_count(1)
        assert list(rows(page)) == [day.foreign["id"]]

        page.locator("#q").fill(day.paid_invoice["number"])
        page.locator("#q").press("Enter")
        expect(page.locator("#results")).not_to_contain_text(day.foreign["stripe_ref"])
        assert filters(page) == {"path": "/console/queue", "q": day.paid_invoice["number"]}
        by_number = rows(page)
        assert day.refund_records[0]["id"] in by_number
        assert set(by_number) <= {r["id"] for r in day.refund_records}

        page.locator("#q").fill("adatum corp")  # part of the customer's name, any case
        page.locator("#q").press("Enter")
        expect(page.locator("#results")).not_to_contain_text(day.foreign["stripe_ref"])
        by_name = rows(page)
        assert {r["id"] for r in day.refund_records} <= set(by_name)
        assert day.foreign["id"] not in by_name

        page.locator("#q").fill("Walk-In@Customers.example")  # the payer of a payment
        page.locator("#q").press("Enter")
        expect(page.locator("#results tbody tr")).to_have_count(1)
        assert list(rows(page)) == [day.foreign["id"]]
        assert "Paid by walk-in@customers.example" in rows(page)[day.foreign["id"]]

        page.locator("#q").fill("ch_nothing_like_it")
        page.locator("#q").press("Enter")
        expect(page.locator("#results")).to_contain_text(
            "Nothing needs a person with these filters."
        )

    def test_the_csv_download_holds_the_rows_on_screen(
        self, open_as: Open, url: str, day: Day
    ) -> None:
        page = open_as("Clerk")
        page.goto(url + "queue")
        shown = rows(page)
        with page.expect_download() as download:
            page.get_by_role("link", name="Download as CSV").click()
        assert download.value.suggested_filename == "needs-a-person.csv"
        text = Path(download.value.path()).read_text(encoding="utf-8")
        table = {int(row["record"]): row for row in csv.DictReader(io.StringIO(text))}

        assert set(table) == set(shown)
        foreign = table[day.foreign["id"]]
        assert foreign["reason"] == "Payment not matched to an invoice"
        assert foreign["stripe_id"] == day.foreign["stripe_ref"]
        assert foreign["detail"] == day.foreign["last_error"]
        assert (foreign["amount"], foreign["currency"], foreign["state"]) == (
            "75.00",
            "USD",
            "unmatched",
        )
        refund = table[day.refund_records[0]["id"]]
        assert refund["reason"] == "Refund to finish in BC"
        assert refund["bc_number"] == day.paid_invoice["number"]


class TestStory:
    def test_an_invoices_story_runs_from_bc_through_stripe_to_its_payment_and_refunds(
        self, open_as: Open, url: str, day: Day
    ) -> None:
        number = day.paid_invoice["number"]
        page = open_as("Viewer")
        page.goto(url + f"records/{day.invoice_record['id']}")

        expect(page.locator("main h1")).to_have_text(f"Invoice {number}")
        chain = page.locator("section[aria-labelledby=chain-h] tbody tr")
        steps = [" ".join(t.split()) for t in chain.all_inner_texts()]
        assert [s.split(" ")[0] for s in steps] == [
            "BC",
            "Stripe",
            "Payment",
            "Refund",
            "Refund",
            "Paid",
        ]
        assert steps[0].startswith(f"BC sales invoice {number} 120.00 USD succeeded")
        assert steps[1].startswith(f"Stripe invoice {day.invoice_record['stripe_ref']} 120.00")
        assert day.payment_record["stripe_ref"] in steps[2]
        assert "BC line" in steps[2]
        refunds = {r["stripe_ref"]: r["amount"] for r in day.refund_records}
        paid_out = steps[5]
        assert paid_out.startswith(f"Paid out {day.payout_id}")
        for source in [day.payment_record["stripe_ref"], *refunds]:
            assert source in paid_out
        for step in steps[3:5]:
            [refund] = [r for r in refunds if r in step]
            assert f"{refunds.pop(refund)} USD succeeded Refund to finish in BC" in step
        assert any(f"push BC invoice {number} to Stripe" in s for s in trail(page))

        page.goto(url + f"records/{day.refund_records[0]['id']}")  # the same story from a refund
        expect(page.locator("main h1")).to_have_text(f"Invoice {number}")
        expect(page.locator("#attention-h")).to_have_text("Needs a person: Refund to finish in BC")


class TestPayout:
    def test_each_balance_transaction_names_what_booked_it(
        self, open_as: Open, url: str, day: Day
    ) -> None:
        charge = day.payment_record["stripe_ref"]
        page = open_as("Viewer")
        page.goto(url + f"payouts/{day.payout_id}")

        rows = page.locator("section[aria-labelledby=recon-h] tbody tr")
        texts = [" ".join(t.split()) for t in rows.all_inner_texts()]
        [payment] = [t for t in texts if f"charge of {charge}" in t]
        assert "120.00" in payment
        assert f"Booked Payment {charge}, BC line" in payment
        [own] = [t for t in texts if t.split(" ")[1] == "payout"]
        assert "Booked with this payout: the payout's transfer to the bank" in own
        refunds = [t for t in texts if " refund of re" in t or "payment refund" in t]
        assert len(refunds) == 2, texts

        row = rows.filter(has_text=f"charge of {charge}")
        row.get_by_role("link", name="Story").click()
        expect(page.locator("main h1")).to_have_text(f"Invoice {day.paid_invoice['number']}")


class TestClearing:
    def test_a_clerk_checks_the_clearing_account_and_sees_what_bc_lacks_yet(
        self, open_as: Open, url: str, day: Day
    ) -> None:
        page = open_as("Clerk")
        page.goto(url + "today")
        page.get_by_role("button", name="Check the clearing account now").click()

        expect(page.locator(".notice.success")).to_have_text(
            "The clearing account check ran; its figures are below."
        )
        usd = page.locator("section[aria-labelledby=clearing-h] tbody tr").filter(has_text="USD")
        cells = [" ".join(t.split()) for t in usd.locator("td").all_inner_texts()]
        assert all(c == "—" or c.endswith(" USD") or "USD" in c for c in cells[:4]), cells
        # The day's card payments that name no invoice are in Stripe's balance, not in BC.
        assert "moved in Stripe, not booked in BC (see Needs a person)" in cells[3], cells
        assert cells[4] == "0 (agrees)", cells


class TestScreenshots:
    def test_screenshots_of_the_main_pages(
        self, open_as: Open, url: str, day: Day, tmp_path: Path
    ) -> None:
        """Always taken (and checked); copied to docs/screenshots/ only with MLC_SCREENSHOTS=1,
        so a CI run never rewrites the README's pictures. Taken before anything is resolved,
        so that the queue is full and the resolve page has more than one suggestion."""
        page = open_as("Clerk")
        shots = {
            "today.png": "today",
            "needs-a-person.png": "queue",
            "invoice-story.png": f"records/{day.invoice_record['id']}",
            "resolve.png": f"records/{day.waiting['id']}/resolve",
            "payouts.png": "payouts",
            "payout.png": f"payouts/{day.payout_id}#recon-h",
        }
        for name, path in shots.items():
            answer = page.goto(url + path)
            assert answer is not None
            assert answer.status == 200
            if "#" in path:  # the part of the page the picture is for, at the top
                page.locator("#" + path.split("#")[1]).evaluate("h => h.scrollIntoView()")
            page.screenshot(path=str(tmp_path / name))
            data = (tmp_path / name).read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
            assert struct.unpack(">II", data[16:24]) == (1280, 800)
        if os.environ.get("MLC_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            for name in shots:
                shutil.copyfile(tmp_path / name, SCREENSHOTS / name)


class TestResolve:
    def test_a_clerk_applies_an_unmatched_payment_to_the_suggested_invoice_once(
        self,
        open_as: Open,
        url: str,
        day: Day,
        stack: LocalStack,
        connector: Connector,
        people: dict[str, DemoUser],
    ) -> None:
        record_id, charge = day.unmatched["id"], day.unmatched["stripe_ref"]
        invoice, number = day.named, day.named["number"]
        clerk = people["Clerk"]
        page = open_as("Clerk")
        page.goto(url + f"queue?q={charge}")
        page.locator("#results").get_by_role("link", name="Apply to invoice").click()

        expect(page.locator("main h1")).to_have_text("Apply payment 75.00 USD to an invoice")
        suggestions = page.locator("main table tbody tr")
        first, second = suggestions.nth(0), suggestions.nth(1)
        expect(first.locator("td").first).to_have_text(f"{number} strong")
        expect(first).to_contain_text("same amount")
        expect(second.locator("td").first).to_have_text(f"{day.same_amount['number']} possible")
        first.get_by_role("link", name=f"Choose invoice {number}").click()
        expect(page.locator("main h1")).to_have_text(f"Apply 75.00 USD to invoice {number}?")
        expect(page.locator("main")).to_contain_text("75.00 USD open of 75.00 USD")
        form = page.locator("main form[method=post]")
        action = str(form.get_attribute("action"))
        token = str(form.locator("input[name=csrf_token]").get_attribute("value"))
        page.get_by_role("button", name=f"Apply to invoice {number}").click()

        expect(page).to_have_url(url + f"records/{record_id}")
        expect(page.locator(".notice.success")).to_contain_text(f"Applied to invoice {number}")
        wait_state(connector, record_id, "succeeded")
        [line] = wait_posted(stack, charge)
        assert (line["amount"], line["appliesToInvoiceId"]) == (-75, invoice["id"])
        assert line["appliesToInvoiceNumber"] == number
        assert bc_invoice(stack, invoice["id"])["remainingAmount"] == 0
        metadata = stripe_object(stack, "charge", charge)["metadata"]
        assert metadata["bc_invoice_id"] == invoice["id"]
        assert metadata["bc_invoice_number"] == number
        assert metadata["bc_company_id"] == stack.company_id
        page.reload()
        [applied] = [s for s in trail(page) if f"applied the payment to BC invoice {number}" in s]
        assert f"by {clerk.display_name} <{clerk.user_principal_name}>" in applied

        again = page.request.post(
            url + action.removeprefix("/console/"), form={"csrf_token": token}, max_redirects=0
        )
        assert again.status == 409
        assert f"Record {record_id} is not an unmatched payment." in again.text()
        assert bc_lines(stack, charge) == [line]


class TestReplay:
    def test_replay_is_previewed_needs_a_reason_and_names_the_clerk_in_the_trail(
        self,
        open_as: Open,
        url: str,
        day: Day,
        stack: LocalStack,
        connector: Connector,
        people: dict[str, DemoUser],
    ) -> None:
        record_id, charge = day.payment_record["id"], day.payment_record["stripe_ref"]
        clerk = people["Clerk"]
        lines = wait_posted(stack, charge)
        steps_before = len(connector.record(record_id)["audit"])
        page = open_as("Clerk")
        page.goto(url + f"records/{record_id}/replay")

        expect(page.locator("main h1")).to_have_text(f"Replay record {record_id}?")
        preview = page.locator("main table")
        expect(preview.locator("tr", has_text="It can write")).to_contain_text(
            "one BC payment line at most"
        )
        expect(preview.locator("tr", has_text="Already there")).to_contain_text(
            "Payment 120.00 USD: posted"
        )
        page.get_by_role("button", name="Replay").click()
        assert page.url == url + f"records/{record_id}/replay"  # the browser held the form
        assert page.locator("#reason").evaluate("el => el.validity.valueMissing") is True
        assert len(connector.record(record_id)["audit"]) == steps_before

        reason = "checking the posting after the bank statement"
        page.locator("#reason").fill(reason)
        page.get_by_role("button", name="Replay").click()

        expect(page).to_have_url(url + f"records/{record_id}")
        expect(page.locator(".notice.success")).to_contain_text(f"Record {record_id} was replayed")
        [step] = [s for s in trail(page) if "replayed by" in s]
        assert f"replayed by {clerk.display_name} <{clerk.user_principal_name}>" in step
        assert f"): {reason}" in step
        after = wait_state(connector, record_id, "succeeded")["audit"][steps_before:]
        assert after[0]["summary"].startswith(f"replayed by {clerk.display_name}")
        summaries = [a["summary"] for a in after]
        # "already in BC as line …; nothing more to do" or "already written to BC as line …;
        # not writing it again", depending on whether the batch poster has posted it yet.
        assert any(re.match("already (in|written to) BC as line ", s) for s in summaries), summaries
        assert bc_lines(stack, charge) == lines  # a replay of a posted payment posts nothing


class TestMarkHandled:
    def test_mark_as_handled_needs_a_reason_and_takes_the_item_off_the_queue(
        self,
        open_as: Open,
        url: str,
        day: Day,
        connector: Connector,
        people: dict[str, DemoUser],
    ) -> None:
        refund = day.refund_records[1]
        clerk = people["Clerk"]
        page = open_as("Clerk")
        page.goto(url + f"queue?q={refund['stripe_ref']}")
        page.locator("#results").get_by_role("link", name="Mark as handled").click()

        expect(page.locator("main h1")).to_have_text(f"Mark record {refund['id']} as handled?")
        page.get_by_role("button", name="Mark as handled").click()
        assert page.locator("#reason").evaluate("el => el.validity.valueMissing") is True
        reason = "credit memo CM-1004 and the refund posted in BC"
        page.locator("#reason").fill(reason)
        page.get_by_role("button", name="Mark as handled").click()

        expect(page).to_have_url(url + "queue")
        expect(page.locator(".notice.success")).to_have_text(
            f"Record {refund['id']} is marked as handled."
        )
        assert refund["id"] not in rows(page)
        assert day.refund_records[0]["id"] in rows(page)
        page.goto(url + f"records/{refund['id']}")
        [step] = [s for s in trail(page) if "marked handled by" in s]
        assert f"marked handled by {clerk.display_name}: {reason}" in step
        assert f"by {clerk.display_name} <{clerk.user_principal_name}>" in step
        expect(page.locator("#attention-h")).to_have_count(0)
        handled = connector.record(refund["id"])["record"]["flags"]["handled"]
        assert (handled["by"], handled["reason"]) == (clerk.display_name, reason)


class TestRoles:
    def test_a_viewer_sees_the_queue_and_the_story_without_any_action(
        self, open_as: Open, url: str, day: Day
    ) -> None:
        page = open_as("Viewer")
        page.goto(url + "queue")
        assert day.foreign["id"] in rows(page)
        results = page.locator("#results")
        for action in ("Replay", "Mark as handled", "Apply to invoice"):
            expect(results.get_by_role("link", name=action)).to_have_count(0)
        expect(results.get_by_role("link", name="View").first).to_be_visible()

        page.goto(url + f"records/{day.foreign['id']}")
        expect(page.locator("#attention-h")).to_have_text(
            "Needs a person: Payment not matched to an invoice"
        )
        for action in ("Replay", "Mark as handled", "Apply to invoice"):
            expect(page.get_by_role("button", name=action)).to_have_count(0)
            expect(page.get_by_role("link", name=action)).to_have_count(0)

    def test_a_viewers_forged_posts_with_a_valid_token_are_refused_403_and_change_nothing(
        self, open_as: Open, url: str, day: Day, connector: Connector
    ) -> None:
        record_id = day.foreign["id"]
        page = open_as("Viewer")
        page.goto(url + "today")
        token = csrf_token(page)  # valid: the CSRF check runs first and would answer 400
        before = connector.record(record_id)

        for path in ("replay", "handled", f"resolve/{day.same_amount['id']}"):
            answer = page.request.post(
                url + f"records/{record_id}/{path}",
                form={"csrf_token": token, "reason": "a viewer trying"},
                max_redirects=0,
            )
            assert answer.status == 403, path
            assert "This needs the Clerk role." in answer.text()
        assert connector.record(record_id) == before

    def test_connections_is_for_admins_only(self, open_as: Open, url: str) -> None:
        for role, status in (("Viewer", 403), ("Clerk", 403), ("Admin", 200)):
            page = open_as(role)
            answer = page.goto(url + "connections")
            assert answer is not None
            assert answer.status == status, role
            nav = page.locator("nav[aria-label=Main]").get_by_role("link", name="Connections")
            expect(nav).to_have_count(1 if role == "Admin" else 0)
        expect(page.locator("main h1")).to_have_text("Connections")


class TestCsrf:
    def test_a_form_post_without_its_token_is_refused_400_and_changes_nothing(
        self, open_as: Open, url: str, day: Day, connector: Connector
    ) -> None:
        record_id = day.foreign["id"]
        page = open_as("Clerk")
        page.goto(url + f"records/{record_id}/handled")
        before = connector.record(record_id)

        forms: list[dict[str, str | float | bool]] = [
            {"reason": "no token"},
            {"reason": "a made-up token", "csrf_token": "x" * 40},
        ]
        for form in forms:
            answer = page.request.post(
                url + f"records/{record_id}/handled", form=form, max_redirects=0
            )
            assert answer.status == 400
            assert "This form has expired" in answer.text()
        assert connector.record(record_id) == before


class TestSessions:
    def test_sign_out_ends_the_session_and_its_cookie_opens_nothing_after(
        self, open_as: Open, url: str, stack: LocalStack, people: dict[str, DemoUser]
    ) -> None:
        page = open_as(None)
        sign_in(page, url, people["Viewer"])
        old = session_id(page.context)
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(url + "signed-out")
        expect(page.locator("main h1")).to_have_text("You have signed out")

        replace_session_cookie(page.context, url, old)
        page.goto(url + "today")
        assert urlsplit(page.url).path == "/console/sign-in"
        expect(page.locator(".who")).to_have_count(0)
        assert SessionStore.of(stack).get(old) is None

    def test_a_tampered_or_made_up_cookie_is_no_session(self, open_as: Open, url: str) -> None:
        page = open_as("Clerk")
        context = page.context
        sid = session_id(context)
        tampered = sid[:-1] + ("A" if sid[-1] != "A" else "B")

        for value in (tampered, secrets.token_urlsafe(32)):
            replace_session_cookie(context, url, value)
            page.goto(url + "queue")
            assert urlsplit(page.url).path == "/console/sign-in"
            expect(page.locator(".who")).to_have_count(0)
            expect(page.locator("table")).to_have_count(0)
        replace_session_cookie(context, url, sid)  # the real one still works: only it counts
        page.goto(url + "queue")
        expect(page.locator(".who")).to_contain_text("(Clerk)")

    @pytest.mark.parametrize(
        ("ended", "field", "seconds", "notice"),
        [
            ("idle", "seen_at", 31 * 60, "You were signed out after a while without activity."),
            ("expired", "signed_in_at", 11 * 3600, "Your session has ended."),
        ],
    )
    def test_a_session_idle_too_long_or_too_old_ends(
        self,
        open_as: Open,
        url: str,
        stack: LocalStack,
        people: dict[str, DemoUser],
        ended: str,
        field: str,
        seconds: int,
        notice: str,
    ) -> None:
        """Idle 30 minutes, or 10 hours old (the defaults): the store is aged, not waited for."""
        page = open_as(None)
        sign_in(page, url, people["Viewer"])
        sid = session_id(page.context)
        SessionStore.of(stack).backdate(sid, field, seconds)

        page.goto(url + "queue")
        assert urlsplit(page.url).path == "/console/sign-in"
        assert f"ended={ended}" in page.url
        expect(page.locator(".notice")).to_contain_text(notice)
        expect(page.locator(".who")).to_have_count(0)
        assert SessionStore.of(stack).get(sid) is None  # ended and gone from the store


def _pages(day: Day) -> list[tuple[str, str | None, str, int]]:
    """Every kind of console page: (name, role, path, status)."""
    return [
        ("sign-in", None, "sign-in", 200),
        ("today", "Admin", "today", 200),
        ("queue", "Admin", "queue", 200),
        ("invoice story", "Admin", f"records/{day.invoice_record['id']}", 200),
        ("replay preview", "Admin", f"records/{day.payment_record['id']}/replay", 200),
        ("handled preview", "Admin", f"records/{day.refund_records[0]['id']}/handled", 200),
        ("resolve", "Admin", f"records/{day.waiting['id']}/resolve", 200),
        (
            "resolve confirm",
            "Admin",
            f"records/{day.waiting['id']}/resolve/{day.same_amount['id']}",
            200,
        ),
        ("payouts", "Admin", "payouts", 200),
        ("payout", "Admin", f"payouts/{day.payout_id}", 200),
        ("connections", "Admin", "connections", 200),
        ("403", "Viewer", "connections", 403),
        ("404", "Admin", "records/999999999", 404),
    ]


class TestAccessibility:
    def test_no_console_page_has_a_serious_or_critical_axe_violation(
        self,
        open_as: Open,
        url: str,
        day: Day,
    ) -> None:
        found: dict[str, list[dict[str, Any]]] = {}
        pages: dict[str | None, Page] = {}
        for name, role, path, status in _pages(day):
            page = pages.get(role) or pages.setdefault(role, open_as(role, bypass_csp=True))
            answer = page.goto(url + path)
            assert answer is not None
            assert answer.status == status, name
            found[name] = axe_violations(page)
        page = pages[None]
        page.goto(url + "sign-in")
        page.get_by_role("button", name="Sign in with Microsoft").click()
        expect(page.locator("#login")).to_be_visible()
        found["Entra sign-in form (BC emulator)"] = axe_violations(page)

        report = "\n".join(f"{name}:\n{describe(v)}" for name, v in found.items() if v)
        # Lesser violations do not fail the test; the log says which (--log-cli-level=INFO).
        logger.info("axe-core violations per page:\n%s", report or "none")
        blocking = {
            name: [v["id"] for v in violations if v["impact"] in BLOCKING]
            for name, violations in found.items()
        }
        assert not any(blocking.values()), f"{blocking}\nall violations:\n{report}"

    @pytest.mark.parametrize("page_name", ["today", "queue", "invoice story", "payouts"])
    def test_tab_reaches_the_skip_link_first_then_the_main_navigation(
        self, open_as: Open, url: str, day: Day, page_name: str
    ) -> None:
        [path] = [p for name, _, p, _ in _pages(day) if name == page_name]
        page = open_as("Clerk")
        page.goto(url + path)

        page.keyboard.press("Tab")
        first = focused(page)
        assert (first["text"], first["href"]) == ("Skip to content", "#main")
        page.keyboard.press("Tab")
        second = focused(page)
        assert second["inMainNav"], second
        assert second["text"] == "Today"
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")
        assert focused(page)["id"] == "main"

    def test_the_queue_filters_work_from_the_keyboard_alone(
        self, open_as: Open, url: str, day: Day
    ) -> None:
        page = open_as("Clerk")
        page.goto(url + "queue")
        refund = day.refund_records[0]

        tab_to(page, lambda el: el["id"] == "q")
        page.keyboard.type(refund["stripe_ref"])
        page.keyboard.press("Enter")
        expect(page.locator("#results tbody tr")).to_have_count(1)
        assert filters(page) == {"path": "/console/queue", "q": refund["stripe_ref"]}
        assert list(rows(page)) == [refund["id"]]

        page.keyboard.press("Control+A")
        page.keyboard.press("Backspace")
        page.keyboard.press("Tab")
        assert focused(page)["id"] == "kind"
        page.keyboard.type("Refund")  # a closed select picks the option typed, as in BC
        tab_to(page, lambda el: el["tag"] == "button" and el["text"] == "Filter")
        page.keyboard.press("Space")
        expect(page).to_have_url(re.compile("kind=refund_customer_side"))
        assert filters(page) == {"path": "/console/queue", "kind": "refund_customer_side"}
        shown = rows(page)
        assert refund["id"] in shown
        assert all("Refund to finish in BC" in text for text in shown.values())

    def test_a_payment_can_be_applied_from_the_keyboard_alone(
        self, open_as: Open, url: str, day: Day, stack: LocalStack, connector: Connector
    ) -> None:
        record_id, charge = day.keyboard_unmatched["id"], day.keyboard_unmatched["stripe_ref"]
        number = day.keyboard_invoice["number"]
        page = open_as("Clerk")
        page.goto(url + "queue")

        tab_to(page, lambda el: el["href"] == f"/console/records/{record_id}/resolve", 200)
        page.keyboard.press("Enter")
        expect(page.locator("main h1")).to_have_text("Apply payment 64.00 USD to an invoice")
        expect(page.locator("main table tbody tr").first).to_contain_text(f"{number} strong")
        tab_to(page, lambda el: el["label"] == f"Choose invoice {number}")
        page.keyboard.press("Enter")
        expect(page.locator("main h1")).to_have_text(f"Apply 64.00 USD to invoice {number}?")
        tab_to(
            page, lambda el: el["tag"] == "button" and el["text"] == f"Apply to invoice {number}"
        )
        page.keyboard.press("Space")

        expect(page).to_have_url(url + f"records/{record_id}")
        expect(page.locator(".notice.success")).to_contain_text(f"Applied to invoice {number}")
        wait_state(connector, record_id, "succeeded")
        [line] = wait_posted(stack, charge)
        assert (line["amount"], line["appliesToInvoiceNumber"]) == (-64, number)


class TestHeaders:
    def test_every_page_sends_the_csp_and_none_violates_it(
        self, open_as: Open, url: str, day: Day
    ) -> None:
        """With the CSP enforced, including htmx's live search; and no page load spends the
        address's failed-authentication budget (a favicon request answered 401 did)."""
        violations: list[str] = []
        refused: list[str] = []
        pages: dict[str | None, Page] = {}
        for name, role, path, status in _pages(day):
            if role not in pages:
                pages[role] = open_as(role)
                violations += watch_csp(pages[role])
                pages[role].on("response", lambda r: refused.append(f"{r.status} {r.url}"))
            answer = pages[role].goto(url + path)
            assert answer is not None
            assert answer.status == status, name
            policy = answer.headers.get("content-security-policy", "")
            assert "script-src 'self'" in policy, name
            assert "unsafe-inline" not in policy, name
            assert answer.headers.get("x-frame-options") == "DENY", name
        page = pages["Admin"]
        page.goto(url + "queue")
        page.locator("#q").fill(day.foreign["stripe_ref"])  # htmx: live search as one types
        expect(page.locator("#results tbody tr")).to_have_count(1)
        expect(page.locator("#results-status")).to_have_text("1 item(s) shown")

        assert violations == []
        assert [r for r in refused if r.split()[0] in ("401", "429")] == []
