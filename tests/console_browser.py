"""Driving the review console in a real browser: Debian's chromium through Playwright.

One browser per test module (``launch``); a person signs in through the BC emulator's Entra
sign-in form as they would (``sign_in``), and a test reuses the signed-in ``storage_state``.
Also here: axe-core checks (``axe_violations``), the CSRF token a page carries, reading the
queue's rows and a story's trail, keyboard walking (``tab_to``), and the console's server-side
session store (``SessionStore``), which a test ages to see an idle session end without waiting
half an hour.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

from cachelib.file import FileSystemCache
from playwright.sync_api import Browser
from playwright.sync_api import BrowserContext
from playwright.sync_api import ConsoleMessage
from playwright.sync_api import Page
from playwright.sync_api import StorageState
from playwright.sync_api import ViewportSize
from playwright.sync_api import sync_playwright

from bc_emulator.signin_seed import DemoUser
from mlc_local.stack import LocalStack

CHROMIUM = Path("/usr/bin/chromium")
AXE = (
    Path(__file__).resolve().parents[1]
    / "services/reconciler/assets/node_modules/axe-core/axe.min.js"
)
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
# The console's cookie on plain-http loopback (security.install_sessions).
COOKIE = "mlc-console"
# What axe-core calls a blocking problem; "moderate" and "minor" ones are reported, not failed.
BLOCKING = frozenset({"serious", "critical"})
CSP_MESSAGE = "Content Security Policy"


@contextmanager
def launch() -> Iterator[Browser]:
    """Debian's chromium, headless; never a Playwright browser download."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run `source scripts/lib.sh && ensure_chromium`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


def new_context(
    browser: Browser,
    state: StorageState | None = None,
    *,
    bypass_csp: bool = False,
) -> BrowserContext:
    """A fresh browser profile. The BC emulator's sign-in pages are served over HTTPS with a
    CA made for the test run, which the browser does not know: its errors are ignored
    (loopback only). ``bypass_csp`` only for injecting axe-core, which the CSP would block."""
    context = browser.new_context(
        storage_state=state,
        viewport=VIEWPORT,
        ignore_https_errors=True,
        bypass_csp=bypass_csp,
        locale="en-GB",
    )
    context.set_default_timeout(15_000)
    return context


def sign_in(page: Page, console_url: str, user: DemoUser, password: str | None = None) -> None:
    """Through the console's sign-in page and the emulator's Entra form, as a person does."""
    page.goto(console_url + "sign-in")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in with Microsoft").click()
    page.locator("#login").fill(user.user_principal_name)
    page.locator("#passwd").fill(user.password if password is None else password)
    # The form posts to the emulator, which answers with the form again (wrong password) or a
    # redirect to the console's /signed-in and on to Today: one navigation either way.
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def signed_in_state(browser: Browser, console_url: str, user: DemoUser) -> StorageState:
    """The cookies of a person signed in once, for every later page of the module."""
    context = new_context(browser)
    try:
        page = context.new_page()
        sign_in(page, console_url, user)
        if "/console/today" not in page.url:
            raise AssertionError(f"{user.user_principal_name} did not reach Today: {page.url}")
        return context.storage_state()
    finally:
        context.close()


def session_id(context: BrowserContext) -> str:
    """The console's session cookie value (the server-side session's id)."""
    for cookie in context.cookies():
        if cookie.get("name") == COOKIE:
            return str(cookie.get("value"))
    raise AssertionError(f"no {COOKIE} cookie in {context.cookies()}")


def replace_session_cookie(context: BrowserContext, console_url: str, value: str) -> None:
    context.clear_cookies()
    context.add_cookies([{"name": COOKIE, "value": value, "url": console_url}])


def csrf_token(page: Page) -> str:
    """The CSRF token the page carries (the sign-out form every signed-in page has)."""
    token = page.locator("form[action$='/sign-out'] input[name=csrf_token]").get_attribute("value")
    assert token, "the page carries no CSRF token"
    return token


def watch_csp(page: Page) -> list[str]:
    """The page's console messages that report a Content-Security-Policy violation."""
    seen: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if CSP_MESSAGE in message.text:
            seen.append(f"{page.url}: {message.text}")

    page.on("console", note)
    return seen


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as loaded (WCAG 2.x A/AA and best practices).

    The page's context must bypass the CSP: axe is injected as a script the page did not ask
    for, which the console's ``script-src 'self'`` rightly refuses.
    """
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation: impact, rule, help, and the first few offending elements."""
    lines = []
    for v in violations:
        targets = [" ".join(map(str, n["target"])) for n in v["nodes"][:3]]
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({len(v['nodes'])}x: {targets})")
    return "\n".join(lines) or "none"


def rows(page: Page) -> dict[int, str]:
    """The queue's rows on screen: record id -> the row's text."""
    found: dict[int, str] = {}
    for row in page.locator("#results tbody tr").all():
        found[int(row.locator("td").first.inner_text())] = row.inner_text()
    return found


def filters(page: Page) -> dict[str, str]:
    """The page's path and the filters its address carries (htmx pushes the empty ones too)."""
    parts = urlsplit(page.url)
    return {"path": parts.path} | {k: v for k, v in parse_qsl(parts.query) if v}


def trail(page: Page) -> list[str]:
    """The story page's "What happened" steps, as shown."""
    return [" ".join(t.split()) for t in page.locator("ol.timeline li").all_inner_texts()]


def focused(page: Page) -> dict[str, Any]:
    """What has keyboard focus: tag, id, text, name and whether it is inside the main nav."""
    info: dict[str, Any] = page.evaluate(
        """() => {
            const el = document.activeElement;
            return {
                tag: el.tagName.toLowerCase(),
                id: el.id,
                text: (el.innerText || el.value || '').trim(),
                label: el.getAttribute('aria-label') || '',
                href: el.getAttribute('href') || '',
                inMainNav: !!el.closest('nav[aria-label="Main"]'),
            };
        }"""
    )
    return info


def tab_to(page: Page, wanted: Callable[[dict[str, Any]], bool], limit: int = 60) -> list[str]:
    """Press Tab until ``wanted(focused(page))``; the stops on the way. Fails after ``limit``."""
    stops: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        stops.append(f"{now['tag']}#{now['id']}:{now['text'][:30] or now['label']}")
        if wanted(now):
            return stops
    raise AssertionError(f"never reached the element by Tab; stops: {stops}")


class SessionStore:
    """The console's file session store (``MLC_CONSOLE_SESSION_STORE=file://...``), read and
    written as the reconciler does (cachelib, key prefix ``mlc-console:``)."""

    PREFIX = "mlc-console:"

    def __init__(self, directory: Path) -> None:
        self._cache = FileSystemCache(str(directory), threshold=5000, mode=0o600)

    @classmethod
    def of(cls, stack: LocalStack) -> SessionStore:
        return cls(Path(urlsplit(stack.env["MLC_CONSOLE_SESSION_STORE"]).path))

    def get(self, sid: str) -> dict[str, Any] | None:
        data: dict[str, Any] | None = self._cache.get(self.PREFIX + sid)
        return data

    def backdate(self, sid: str, field: str, seconds: float) -> None:
        """Move the session's ``field`` (``seen_at``, ``signed_in_at``) ``seconds`` into the
        past: as if the person had been away, or signed in long ago."""
        data = self.get(sid)
        assert data is not None, f"no session {sid[:6]}... in the store"
        data[field] = time.time() - seconds
        self._cache.set(self.PREFIX + sid, data, timeout=3600)
