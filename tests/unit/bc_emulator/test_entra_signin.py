"""Interactive Entra sign-in (OIDC authorization-code flow with PKCE), driven by the real msal.

The review console will use ``msal.ConfidentialClientApplication.initiate_auth_code_flow`` and
``acquire_token_by_auth_code_flow`` against the emulator; these tests do exactly that over HTTPS
with the emulator's test CA, playing the browser with a ``requests.Session`` that parses the
sign-in form, and check the ID token's signature independently with PyJWT against the JWKS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import jwt
import msal
import pytest
import requests

from bc_emulator import create_app
from bc_emulator.server import EmulatorServer
from mlconnector.config import EnvReader
from reconciler.console.identity import SignIn
from reconciler.console.settings import ConsoleSettings

CALLBACK = "https://127.0.0.1:9/auth/callback"
HOME = "https://127.0.0.1:9/"
CONSOLE_SECRET = "console-test-secret"
CLERK = ("clerk@mlconnector.example", "Clerk-demo-1")
ADMIN = ("admin@mlconnector.example", "Admin-demo-1")
NOROLE = ("norole@mlconnector.example", "Norole-test-1")


# -- the "browser": a tiny HTML reader -------------------------------------------------------


@dataclass
class Form:
    """One ``<form>``: where it posts and its inputs."""

    action: str
    method: str
    inputs: list[dict[str, str]] = field(default_factory=list)

    def values(self) -> dict[str, str]:
        """Name -> value of every named input."""
        return {i["name"]: i.get("value", "") for i in self.inputs if "name" in i}


class Page(HTMLParser):
    """Elements, forms, labels and scripts of an HTML page (enough to act and to check a11y)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.forms: list[Form] = []
        self.text: dict[str, str] = {}
        self._open: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append((tag, values))
        if tag == "form":
            self.forms.append(Form(values.get("action", ""), values.get("method", "get")))
        elif tag == "input" and self.forms:
            self.forms[-1].inputs.append(values)
        self._open = tag

    def handle_data(self, data: str) -> None:
        if self._open in ("title", "h1", "button") and data.strip():
            self.text[self._open] = self.text.get(self._open, "") + data.strip()

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        """Attributes of every ``tag`` element whose attributes include ``attrs``."""
        return [a for t, a in self.tags if t == tag and attrs.items() <= a.items()]


def form_of(response: requests.Response) -> Form:
    """The page's single form."""
    page = Page(response.text)
    assert len(page.forms) == 1, response.text
    return page.forms[0]


# -- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture
def console(bc: EmulatorServer, http: requests.Session, kit: Any) -> dict[str, Any]:
    """The console registration and the demo people, seeded through the admin API."""
    response = http.post(
        f"{bc.admin}/signin/seed",
        json={
            "tenant": kit.tenant,
            "redirectUris": [CALLBACK, HOME],
            "clientSecret": CONSOLE_SECRET,
        },
    )
    assert response.status_code == 201, response.text
    seeded: dict[str, Any] = response.json()
    extra = http.post(
        f"{bc.admin}/signin/users",
        json={
            "tenant": kit.tenant,
            "userPrincipalName": NOROLE[0],
            "displayName": "Nora Norole",
            "password": NOROLE[1],
        },
    )
    assert extra.status_code == 201, extra.text
    return seeded


@pytest.fixture
def browser(bc: EmulatorServer) -> Iterator[requests.Session]:
    """The person's browser: its own cookie jar, never follows redirects by itself."""
    session = requests.Session()
    session.verify = bc.ca_file
    session.trust_env = False
    yield session
    session.close()


@pytest.fixture
def app(bc: EmulatorServer, http: requests.Session, kit: Any, console: dict[str, Any]) -> Any:
    """The console's MSAL application."""
    return msal.ConfidentialClientApplication(
        console["clientId"],
        client_credential=CONSOLE_SECRET,
        authority=bc.authority(kit.tenant),
        instance_discovery=False,
        http_client=http,
    )


def start(app: Any, response_mode: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """``initiate_auth_code_flow`` as the console calls it (no response_mode: query)."""
    with warnings.catch_warnings():
        # msal 1.39 warns that form_post is recommended whenever another mode is used.
        warnings.filterwarnings("ignore", "response_mode='form_post' is recommended")
        flow: dict[str, Any] = app.initiate_auth_code_flow(
            scopes=[], response_mode=response_mode, **{"redirect_uri": CALLBACK, **kwargs}
        )
    return flow


def submit(
    bc: EmulatorServer, browser: requests.Session, form: Form, login: str, password: str
) -> requests.Response:
    """Fill in and post the sign-in form."""
    data = {**form.values(), "login": login, "passwd": password}
    return browser.post(bc.base_url + form.action, data=data, allow_redirects=False)


def sign_in(
    bc: EmulatorServer, browser: requests.Session, flow: dict[str, Any], who: tuple[str, str]
) -> requests.Response:
    """Open the authorize URL, sign in as ``who``; the response that goes back to the app."""
    page = browser.get(flow["auth_uri"], allow_redirects=False)
    assert page.status_code == 200, page.text
    return submit(bc, browser, form_of(page), *who)


def callback(response: requests.Response) -> dict[str, str]:
    """The parameters the app receives (query redirect or form_post page)."""
    if response.status_code == 302:
        location = response.headers["Location"]
        assert location.startswith(CALLBACK + "?"), location
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert response.status_code == 200, response.text
    form = form_of(response)
    assert form.action == CALLBACK
    return form.values()


def token_post(bc: EmulatorServer, http: requests.Session, kit: Any, **data: str) -> Any:
    """A raw token-endpoint POST with the console's credentials."""
    body = {"client_id": "00000000-0000-0000-0000-0000000000c2", "client_secret": CONSOLE_SECRET}
    return http.post(f"{bc.authority(kit.tenant)}/oauth2/v2.0/token", data={**body, **data})


def b64json(segment: str) -> Any:
    """Decode an unpadded base64url JSON segment."""
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def advance(bc: EmulatorServer, http: requests.Session, seconds: int) -> None:
    """Move the emulator's clock forward."""
    response = http.post(f"{bc.admin}/clock/advance", json={"seconds": seconds})
    assert response.status_code == 200


# -- tests -----------------------------------------------------------------------------------


class TestDiscovery:
    def test_discovery_advertises_the_signin_endpoints(
        self, bc: EmulatorServer, http: requests.Session, kit: Any
    ) -> None:
        root = bc.authority(kit.tenant)
        doc = http.get(f"{root}/v2.0/.well-known/openid-configuration").json()
        assert doc["issuer"] == f"{root}/v2.0"
        assert doc["authorization_endpoint"] == f"{root}/oauth2/v2.0/authorize"
        assert doc["jwks_uri"] == f"{root}/discovery/v2.0/keys"
        assert doc["end_session_endpoint"] == f"{root}/oauth2/v2.0/logout"
        assert doc["userinfo_endpoint"] == f"{bc.base_url}/oidc/userinfo"
        assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
        assert doc["response_modes_supported"] == ["query", "fragment", "form_post"]
        assert doc["scopes_supported"] == ["openid", "profile", "email", "offline_access"]
        assert {"roles", "oid", "tid", "nonce", "preferred_username"} <= set(
            doc["claims_supported"]
        )
        assert {"authorization_code", "refresh_token", "client_credentials"} == set(
            doc["grant_types_supported"]
        )

    def test_jwks_has_the_signing_key(
        self, bc: EmulatorServer, http: requests.Session, kit: Any
    ) -> None:
        keys = http.get(f"{bc.authority(kit.tenant)}/discovery/v2.0/keys").json()["keys"]
        assert len(keys) == 1
        key = keys[0]
        assert (key["kty"], key["use"], key["e"]) == ("RSA", "sig", "AQAB")
        assert key["kid"] == key["x5t"]
        assert key["issuer"] == f"{bc.authority(kit.tenant)}/v2.0"
        der = base64.b64decode(key["x5c"][0])
        thumb = base64.urlsafe_b64encode(hashlib.sha1(der, usedforsecurity=False).digest())
        assert thumb.rstrip(b"=").decode() == key["x5t"]


class TestSignIn:
    def test_msal_signs_a_clerk_in_and_the_id_token_verifies(
        self,
        bc: EmulatorServer,
        http: requests.Session,
        browser: requests.Session,
        app: Any,
        kit: Any,
        console: dict[str, Any],
    ) -> None:
        flow = start(app)
        response = sign_in(bc, browser, flow, CLERK)
        assert response.status_code == 302
        params = callback(response)
        assert set(params) == {"code", "client_info", "state", "session_state"}
        assert params["state"] == flow["state"]
        assert "ESTSAUTH" in response.headers["Set-Cookie"]

        result = app.acquire_token_by_auth_code_flow(flow, params)

        assert "error" not in result, result
        clerk = next(u for u in console["users"] if u["userPrincipalName"] == CLERK[0])
        claims = result["id_token_claims"]
        assert claims["roles"] == ["Clerk"]
        assert claims["name"] == "Chris Clerk"
        assert claims["preferred_username"] == CLERK[0]
        assert claims["oid"] == clerk["objectId"]
        assert claims["tid"] == kit.tenant
        assert claims["aud"] == console["clientId"]
        assert claims["ver"] == "2.0"
        assert claims["sid"] == params["session_state"]
        # msal sends sha256(nonce) and checks the ID token carries it back
        assert claims["nonce"] == hashlib.sha256(flow["nonce"].encode()).hexdigest()
        assert result["token_type"] == "Bearer"
        assert result["expires_in"] == 3599
        assert "refresh_token" in result  # msal always asks for offline_access
        assert b64json(result["client_info"]) == {"uid": clerk["objectId"], "utid": kit.tenant}
        [account] = app.get_accounts()
        assert account["username"] == CLERK[0]
        assert account["home_account_id"] == f"{clerk['objectId']}.{kit.tenant}"

        # The signature, checked without msal: PyJWT against the published JWKS.
        discovery = http.get(f"{bc.authority(kit.tenant)}/v2.0/.well-known/openid-configuration")
        jwks = http.get(discovery.json()["jwks_uri"]).json()
        header = jwt.get_unverified_header(result["id_token"])
        assert header["alg"] == "RS256"
        key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
        verified = jwt.decode(
            result["id_token"],
            key.key,
            algorithms=["RS256"],
            audience=console["clientId"],
            issuer=discovery.json()["issuer"],
        )
        assert verified == claims

    def test_the_consoles_signin_reads_discovery_once_and_keeps_no_token(
        self,
        bc: EmulatorServer,
        http: requests.Session,
        browser: requests.Session,
        kit: Any,
        console: dict[str, Any],
    ) -> None:
        env = {
            "MLC_CONSOLE_AUTHORITY": bc.authority(kit.tenant),
            "MLC_CONSOLE_CLIENT_ID": console["clientId"],
        }
        settings = ConsoleSettings.from_reader(EnvReader(env))
        asked: list[str] = []
        http.hooks["response"].append(lambda r, *_a, **_k: asked.append(urlsplit(r.url).path))
        signin = SignIn(settings, CONSOLE_SECRET, http)

        names = []
        for who in (CLERK, ADMIN):
            browser.cookies.clear()  # two people, two browsers: no single sign-on between them
            flow = signin.begin(CALLBACK)
            result = signin.finish(flow, callback(sign_in(bc, browser, flow, who)))
            assert "error" not in result, result
            names.append(result["id_token_claims"]["preferred_username"])

        assert names == [CLERK[0], ADMIN[0]]
        assert sum(path.endswith("/openid-configuration") for path in asked) == 1
        assert sum(path.endswith("/oauth2/v2.0/token") for path in asked) == 2
        assert signin.app.get_accounts() == []
        kept = signin.app.token_cache.search(msal.TokenCache.CredentialType.REFRESH_TOKEN)
        assert list(kept) == []

    def test_form_post_response_mode_posts_the_code_to_the_app(
        self, bc: EmulatorServer, browser: requests.Session, app: Any
    ) -> None:
        flow = start(app, response_mode="form_post")
        response = sign_in(bc, browser, flow, ADMIN)

        assert response.status_code == 200
        assert "form-action https://127.0.0.1:9" in response.headers["Content-Security-Policy"]
        [script] = Page(response.text).find("script")
        assert script["src"].endswith("/oauth2/v2.0/assets/form-post.js")  # auto-submit, not inline
        params = callback(response)
        result = app.acquire_token_by_auth_code_flow(flow, params)
        assert result["id_token_claims"]["roles"] == ["Admin"]

    def test_user_without_roles_gets_no_roles_claim(
        self, bc: EmulatorServer, browser: requests.Session, app: Any
    ) -> None:
        flow = start(app)
        result = app.acquire_token_by_auth_code_flow(
            flow, callback(sign_in(bc, browser, flow, NOROLE))
        )

        claims = result["id_token_claims"]
        assert "roles" not in claims
        assert claims["name"] == "Nora Norole"
        assert claims["preferred_username"] == NOROLE[0]

    def test_wrong_password_shows_the_form_again_with_an_error(
        self, bc: EmulatorServer, browser: requests.Session, app: Any
    ) -> None:
        flow = start(app)
        response = sign_in(bc, browser, flow, (CLERK[0], "not-the-password"))

        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
        page = Page(response.text)
        [alert] = page.find("p", role="alert")
        assert "Your account or password is incorrect." in response.text
        [login] = page.find("input", name="login")
        assert login["value"] == CLERK[0]
        assert login["aria-invalid"] == "true"
        assert login["aria-describedby"] == alert["id"]
        # the re-shown form works with the right password
        again = submit(bc, browser, form_of(response), *CLERK)
        assert again.status_code == 302
        assert app.acquire_token_by_auth_code_flow(flow, callback(again))["id_token_claims"][
            "roles"
        ] == ["Clerk"]

    def test_unknown_user_and_replayed_form_are_refused(
        self, bc: EmulatorServer, browser: requests.Session, app: Any
    ) -> None:
        page = browser.get(start(app)["auth_uri"], allow_redirects=False)
        form = form_of(page)
        unknown = submit(bc, browser, form, "nobody@mlconnector.example", "x")
        assert unknown.status_code == 200
        assert "This username may be incorrect." in unknown.text
        replayed = submit(bc, browser, form, *CLERK)  # the first form's flowToken is used up
        assert replayed.status_code == 200
        assert "This sign-in page has expired or was already used." in replayed.text

    def test_unregistered_redirect_uri_is_an_error_page_never_a_redirect(
        self, bc: EmulatorServer, browser: requests.Session, app: Any, console: dict[str, Any]
    ) -> None:
        flow = start(app, redirect_uri="https://evil.example/callback")
        response = browser.get(flow["auth_uri"], allow_redirects=False)

        assert response.status_code == 400
        assert "Location" not in response.headers
        assert (
            "AADSTS50011: The redirect URI &#39;https://evil.example/callback&#39;" in response.text
        )
        assert console["clientId"] in response.text
        posted = browser.post(flow["auth_uri"], data={"login": CLERK[0]}, allow_redirects=False)
        assert posted.status_code == 400
        assert "Location" not in posted.headers

    def test_protocol_errors_go_back_to_the_registered_redirect_uri(
        self, bc: EmulatorServer, browser: requests.Session, kit: Any, console: dict[str, Any]
    ) -> None:
        base = {
            "client_id": console["clientId"],
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "openid profile",
            "state": "s-123",
            "code_challenge": "a" * 43,
            "code_challenge_method": "S256",
        }
        url = f"{bc.authority(kit.tenant)}/oauth2/v2.0/authorize"
        cases: list[tuple[dict[str, str | None], str, int]] = [
            ({"response_type": "token"}, "unsupported_response_type", 70005),
            ({"scope": "profile"}, "invalid_scope", 70011),
            ({"code_challenge_method": "S512"}, "invalid_request", 50149),
            ({"code_challenge": "short"}, "invalid_request", 501491),
            ({"code_challenge": None, "code_challenge_method": None}, "invalid_request", 900144),
            ({"prompt": "none"}, "login_required", 50058),  # nobody is signed in
        ]
        for change, error, aadsts in cases:
            query = {k: v for k, v in {**base, **change}.items() if v is not None}
            response = browser.get(f"{url}?{urlencode(query)}", allow_redirects=False)
            assert response.status_code == 302, change
            params = callback(response)
            assert params["error"] == error, change
            assert params["error_description"].startswith(f"AADSTS{aadsts}:"), params
            assert params["state"] == "s-123"


class TestCodeRedemption:
    def test_a_code_is_single_use_and_reuse_revokes_its_refresh_token(
        self,
        bc: EmulatorServer,
        http: requests.Session,
        browser: requests.Session,
        app: Any,
        kit: Any,
    ) -> None:
        flow = start(app)
        params = callback(sign_in(bc, browser, flow, CLERK))
        first = app.acquire_token_by_auth_code_flow(flow, params)
        assert "id_token" in first

        second = app.acquire_token_by_auth_code_flow(flow, params)

        assert second["error"] == "invalid_grant"
        assert second["error_codes"] == [54005]
        assert second["error_description"].startswith("AADSTS54005:")
        refreshed = token_post(
            bc, http, kit, grant_type="refresh_token", refresh_token=first["refresh_token"]
        )
        assert refreshed.status_code == 400
        assert refreshed.json()["error_codes"] == [70000]

    def test_pkce_verifier_must_match_the_challenge(
        self,
        bc: EmulatorServer,
        http: requests.Session,
        browser: requests.Session,
        app: Any,
        kit: Any,
    ) -> None:
        flow = start(app)
        params = callback(sign_in(bc, browser, flow, CLERK))
        redeem = {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": CALLBACK,
        }

        wrong = token_post(bc, http, kit, **redeem, code_verifier="x" * 43)
        missing = token_post(bc, http, kit, **redeem)
        other_uri = token_post(
            bc, http, kit, **{**redeem, "redirect_uri": HOME}, code_verifier=flow["code_verifier"]
        )

        assert wrong.status_code == 400
        assert wrong.json()["error"] == "invalid_grant"
        assert wrong.json()["error_codes"] == [501481]
        assert missing.json()["error_codes"] == [50148]
        assert other_uri.json()["error_codes"] == [50011]
        # failed attempts do not use the code up: the right verifier still redeems it
        assert "id_token" in app.acquire_token_by_auth_code_flow(flow, params)

    def test_codes_expire_after_ten_minutes_of_emulated_time(
        self,
        bc: EmulatorServer,
        http: requests.Session,
        browser: requests.Session,
        app: Any,
    ) -> None:
        fresh = start(app)
        fresh_params = callback(sign_in(bc, browser, fresh, CLERK))
        advance(bc, http, 599)
        assert "id_token" in app.acquire_token_by_auth_code_flow(fresh, fresh_params)

        flow = start(app)
        params = callback(browser.get(flow["auth_uri"], allow_redirects=False))  # single sign-on
        advance(bc, http, 600)

        result = app.acquire_token_by_auth_code_flow(flow, params)

        assert result["error"] == "invalid_grant"
        assert result["error_codes"] == [70008]

    def test_client_must_authenticate(
        self,
        bc: EmulatorServer,
        http: requests.Session,
        browser: requests.Session,
        app: Any,
        kit: Any,
    ) -> None:
        flow = start(app)
        params = callback(sign_in(bc, browser, flow, CLERK))
        redeem = {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": CALLBACK,
            "code_verifier": flow["code_verifier"],
        }

        wrong = token_post(bc, http, kit, **redeem, client_secret="nope")
        unknown = token_post(
            bc, http, kit, **redeem, client_id="00000000-0000-0000-0000-00000000dead"
        )

        assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
        assert wrong.json()["error_codes"] == [7000215]
        assert (unknown.status_code, unknown.json()["error_codes"]) == (400, [700016])


class TestSessions:
    def test_single_sign_on_prompt_login_and_logout(
        self, bc: EmulatorServer, browser: requests.Session, app: Any, kit: Any
    ) -> None:
        flow = start(app)
        app.acquire_token_by_auth_code_flow(flow, callback(sign_in(bc, browser, flow, CLERK)))

        silent = browser.get(start(app)["auth_uri"], allow_redirects=False)
        assert silent.status_code == 302
        assert "code" in callback(silent)
        forced = browser.get(start(app, prompt="login")["auth_uri"], allow_redirects=False)
        assert forced.status_code == 200
        assert form_of(forced).method == "post"

        logout = f"{bc.authority(kit.tenant)}/oauth2/v2.0/logout"
        out = browser.get(logout, params={"post_logout_redirect_uri": HOME}, allow_redirects=False)

        assert out.status_code == 302
        assert out.headers["Location"] == HOME
        assert "ESTSAUTH=;" in out.headers["Set-Cookie"]
        after = browser.get(start(app)["auth_uri"], allow_redirects=False)
        assert after.status_code == 200  # signed out: the form again

    def test_an_unused_session_lapses_after_24_hours(
        self, bc: EmulatorServer, http: requests.Session, browser: requests.Session, app: Any
    ) -> None:
        flow = start(app)
        app.acquire_token_by_auth_code_flow(flow, callback(sign_in(bc, browser, flow, CLERK)))

        advance(bc, http, 24 * 3600 - 1)
        used = browser.get(start(app)["auth_uri"], allow_redirects=False)
        advance(bc, http, 24 * 3600 - 1)  # 48 hours after sign-in, but used in between
        still = browser.get(start(app)["auth_uri"], allow_redirects=False)
        advance(bc, http, 24 * 3600)
        lapsed = browser.get(start(app)["auth_uri"], allow_redirects=False)

        assert (used.status_code, still.status_code, lapsed.status_code) == (302, 302, 200)

    def test_logout_to_an_unregistered_uri_shows_the_signed_out_page(
        self, bc: EmulatorServer, browser: requests.Session, kit: Any, console: dict[str, Any]
    ) -> None:
        response = browser.get(
            f"{bc.authority(kit.tenant)}/oauth2/v2.0/logout",
            params={"post_logout_redirect_uri": "https://evil.example/"},
            allow_redirects=False,
        )

        assert response.status_code == 200
        assert "Location" not in response.headers
        assert Page(response.text).text["h1"] == "You signed out of your account"


class TestTokens:
    def test_refresh_token_and_userinfo(
        self,
        bc: EmulatorServer,
        http: requests.Session,
        browser: requests.Session,
        app: Any,
        kit: Any,
    ) -> None:
        flow = start(app)
        first = app.acquire_token_by_auth_code_flow(
            flow, callback(sign_in(bc, browser, flow, CLERK))
        )

        refreshed = token_post(
            bc, http, kit, grant_type="refresh_token", refresh_token=first["refresh_token"]
        )
        info = http.get(
            f"{bc.base_url}/oidc/userinfo",
            headers={"Authorization": f"Bearer {first['access_token']}"},
        )
        anonymous = http.get(f"{bc.base_url}/oidc/userinfo")

        assert refreshed.status_code == 200, refreshed.text
        claims = jwt.decode(refreshed.json()["id_token"], options={"verify_signature": False})
        assert claims["roles"] == ["Clerk"]
        assert "nonce" not in claims
        assert refreshed.json()["refresh_token"] != first["refresh_token"]
        assert info.status_code == 200
        assert info.json()["sub"] == first["id_token_claims"]["sub"]
        assert info.json()["name"] == "Chris Clerk"
        assert anonymous.status_code == 401
        assert "invalid_token" in anonymous.headers["WWW-Authenticate"]
        # the BC API does not take a user's token
        bc_api = http.get(
            f"{bc.api_base(kit.tenant)}/companies",
            headers={"Authorization": f"Bearer {first['access_token']}"},
        )
        assert bc_api.status_code == 401


class TestPagesAndAdmin:
    def test_sign_in_page_is_an_accessible_plain_form(
        self, bc: EmulatorServer, browser: requests.Session, app: Any
    ) -> None:
        response = browser.get(start(app, login_hint=CLERK[0])["auth_uri"], allow_redirects=False)
        page = Page(response.text)

        assert page.find("html", lang="en")
        assert page.text["title"] == "Sign in to your account"
        assert len(page.find("h1")) == 1
        assert page.find("main")
        form = page.forms[0]
        assert form.method == "post"
        login, passwd = page.find("input", id="login"), page.find("input", id="passwd")
        assert login[0]["autocomplete"] == "username"
        assert login[0]["value"] == CLERK[0]  # login_hint pre-fills the user name
        assert passwd[0]["type"] == "password"
        assert passwd[0]["autocomplete"] == "current-password"
        assert {a["for"] for a in page.find("label")} == {"login", "passwd"}
        assert page.find("button", type="submit")
        # no inline script or style: everything works under the page's CSP
        assert all("src" in a for a in page.find("script"))
        assert not [a for _, a in page.tags if "style" in a or any(k.startswith("on") for k in a)]
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        [sheet] = page.find("link", rel="stylesheet")
        css = browser.get(bc.base_url + sheet["href"])
        assert css.status_code == 200
        assert css.headers["Content-Type"].startswith("text/css")

    def test_admin_lists_people_without_secrets_and_validates_registrations(
        self, bc: EmulatorServer, http: requests.Session, console: dict[str, Any]
    ) -> None:
        overview = http.get(f"{bc.admin}/signin")
        bad_uri = http.post(
            f"{bc.admin}/signin/apps",
            json={"clientId": "x", "clientSecret": "y", "redirectUris": ["http://evil.example/"]},
        )
        bad_role = http.post(
            f"{bc.admin}/signin/users",
            json={
                "userPrincipalName": "someone@mlconnector.example",
                "password": "p",
                "appRoles": {console["clientId"]: ["Owner"]},
            },
        )
        config = http.get(f"{bc.admin}/config")

        assert overview.status_code == 200
        people = {u["userPrincipalName"]: u for u in overview.json()["users"]}
        assert people[CLERK[0]]["appRoles"] == {console["clientId"]: ["Clerk"]}
        assert {a["clientId"] for a in overview.json()["apps"]} >= {console["clientId"]}
        for text in (overview.text, config.text):
            assert CLERK[1] not in text
            assert CONSOLE_SECRET not in text
        assert bad_uri.status_code == 400
        assert "https" in bad_uri.json()["error"]["message"]
        assert bad_role.status_code == 400
        assert "'Owner' is not declared" in bad_role.json()["error"]["message"]

    def test_people_and_apps_can_come_from_the_configuration(self) -> None:
        emulator = create_app(
            {
                "clients": [{"tenant": "t1", "client_id": "c1", "client_secret": "s1"}],
                "web_apps": [
                    {"clientId": "web", "clientSecret": "s", "redirectUris": [CALLBACK]},
                ],
                "users": [
                    {
                        "userPrincipalName": "pat@example.com",
                        "password": "p",
                        "appRoles": {"web": ["Viewer"]},
                    },
                ],
            }
        )
        client = emulator.test_client()

        listed = client.get("/_emulator/signin").get_json()
        form = client.get(
            "/t1/oauth2/v2.0/authorize?"
            + urlencode(
                {
                    "client_id": "web",
                    "redirect_uri": CALLBACK,
                    "response_type": "code",
                    "scope": "openid",
                }
            )
        )

        [pat] = listed["users"]
        assert (pat["tenant"], pat["appRoles"]) == ("t1", {"web": ["Viewer"]})  # first app's tenant
        assert listed["apps"][0]["redirectUris"] == [CALLBACK]
        assert form.status_code == 200
        assert b'name="passwd"' in form.data
