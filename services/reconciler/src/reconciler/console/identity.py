"""Sign-in with Microsoft Entra ID: the OpenID Connect authorization-code flow with PKCE, by MSAL.

As Microsoft's own web-app sample does it (Azure-Samples/ms-identity-python-webapp): MSAL's
``initiate_auth_code_flow`` builds the authorize URL with ``state``, ``nonce`` and a PKCE
``code_challenge`` (S256) and returns the flow, which waits in the server-side session;
``acquire_token_by_auth_code_flow`` checks the returned ``state``, redeems the code with the
``code_verifier`` and the app's secret, and checks the ID token's audience, expiry and ``nonce``
(msal/oauth2cli/oidc.py). The ID token comes straight from the token endpoint over TLS, which is
why its signature needs no separate check (OpenID Connect Core 1.0 §3.1.3.7). What the console
keeps is the person: ``name``, ``preferred_username``, ``oid``, ``tid`` and ``roles``
(learn.microsoft.com/entra/identity-platform/id-token-claims-reference). A token of another
tenant than the configured one is refused.

Sign-out ends the server-side session first, then sends the browser to the identity provider's
``end_session_endpoint`` with a post-logout address, so the Entra session ends too.
"""

from __future__ import annotations

import threading
import time
import warnings
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit

import msal
import requests
from flask import Blueprint
from flask import abort
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from reconciler.bootstrap import Dependencies
from reconciler.console.audit import record_person_event
from reconciler.console.roles import Person
from reconciler.console.roles import current_person
from reconciler.console.settings import ConsoleSettings

ENDED = {
    "idle": "You were signed out after a while without activity. Sign in again to go on.",
    "expired": "Your session has ended. Sign in again to go on.",
}


class _NothingKept(msal.TokenCache):  # type: ignore[misc]  # msal ships no type hints
    """A token cache that keeps nothing: the console uses the ID token's claims once, at
    sign-in, and never calls an API for the person, so no one's tokens are left in memory
    for the next sign-in to find (MSAL stores every token it obtains through ``add``)."""

    def add(self, event: dict[str, Any], now: float | None = None) -> None:
        del event, now


class SignIn:
    """The console's app registration, talking to Entra ID through MSAL.

    One MSAL application per process, built at the first sign-in: building one reads the
    authority's discovery document, so a sign-in costs one round trip to Entra for the code
    and no more. A build that fails (Entra unreachable) is not kept; the next sign-in tries
    again.
    """

    def __init__(
        self,
        settings: ConsoleSettings,
        client_secret: str,
        http: requests.Session | None = None,
    ) -> None:
        self._settings = settings
        self._secret = client_secret
        self._http = http or requests.Session()
        if settings.ca_bundle and http is None:
            # A configured CA must win over REQUESTS_CA_BUNDLE, which requests would prefer.
            self._http.trust_env = False
            self._http.verify = str(settings.ca_bundle)
        self._built: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    @property
    def app(self) -> msal.ConfidentialClientApplication:
        """The process's MSAL application (built now if this is the first sign-in)."""
        with self._lock:
            if self._built is None:
                self._built = msal.ConfidentialClientApplication(
                    self._settings.client_id,
                    client_credential=self._secret,
                    authority=self._settings.authority,
                    instance_discovery=False,
                    http_client=self._http,
                    token_cache=_NothingKept(),
                )
            return self._built

    def begin(self, redirect_uri: str) -> dict[str, Any]:
        # The code comes back in the query string. MSAL 1.39 recommends form_post and warns
        # otherwise; but Entra's form_post is a cross-site POST, which a SameSite=Lax session
        # cookie does not accompany, so the flow waiting in the session would be lost. With
        # PKCE a code seen in a URL is useless to anyone without the verifier.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="msal")
            flow: dict[str, Any] = self.app.initiate_auth_code_flow(
                scopes=[], redirect_uri=redirect_uri, response_mode="query"
            )
        return flow

    def finish(self, flow: dict[str, Any], answer: dict[str, str]) -> dict[str, Any]:
        result: dict[str, Any] = self.app.acquire_token_by_auth_code_flow(flow, answer)
        return result

    def sign_out_url(self, after: str) -> str:
        authority = (self._settings.authority or "").rstrip("/")
        query = urlencode({"post_logout_redirect_uri": after})
        return f"{authority}/oauth2/v2.0/logout?{query}"


def _external(endpoint: str, settings: ConsoleSettings) -> str:
    """An absolute console address: from MLC_CONSOLE_PUBLIC_URL, else from the request."""
    path = url_for(endpoint)
    if settings.public_url:
        return settings.public_url + path
    return request.host_url.rstrip("/") + path


def _safe_next(target: str | None) -> str | None:
    """Only a path inside the console: never an open redirect to another site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/"):
        return None
    return target


def build_blueprint(settings: ConsoleSettings, deps: Dependencies) -> Blueprint:
    bp = Blueprint("identity", __name__)
    signin = SignIn(settings, deps.secrets["console_client_secret"])

    @bp.get("/sign-in")
    def sign_in() -> str:
        return render_template(
            "console/sign_in.html",
            notice=ENDED.get(request.args.get("ended") or ""),
            next=_safe_next(request.args.get("next")),
        )

    @bp.get("/sign-in/microsoft")
    def start() -> WerkzeugResponse:
        try:
            flow = signin.begin(_external("console.identity.redirected", settings))
        except (requests.RequestException, ValueError) as exc:
            current_app.logger.warning("console: the identity provider is unreachable: %s", exc)
            abort(503, description="Microsoft sign-in cannot be reached right now. Try again.")
        session["auth_flow"] = flow
        session["after_sign_in"] = _safe_next(request.args.get("next"))
        return redirect(str(flow["auth_uri"]))

    @bp.get("/signed-in")
    def redirected() -> WerkzeugResponse | tuple[str, int]:
        flow = session.pop("auth_flow", None)
        after = session.pop("after_sign_in", None)
        if not flow:
            return _failed("This sign-in was not started here, or it was already used.")
        try:
            result = signin.finish(flow, request.args.to_dict())
        except ValueError:
            # MSAL raises ValueError when the state does not match the flow it started.
            return _failed("The answer from Microsoft did not belong to this sign-in.")
        except requests.RequestException:
            return _failed("Microsoft sign-in could not be reached to finish. Try again.")
        if "error" in result:
            current_app.logger.warning("console: sign-in refused: %s", result.get("error"))
            return _failed(str(result.get("error_description") or result["error"]))
        claims = result.get("id_token_claims") or {}
        if str(claims.get("tid", "")).lower() != settings.tenant_id.lower():
            return _failed("This account belongs to another organisation.")
        person = Person(
            name=str(claims.get("name") or claims.get("preferred_username") or "unknown"),
            username=str(claims.get("preferred_username") or ""),
            oid=str(claims.get("oid") or claims.get("sub") or ""),
            tid=str(claims.get("tid") or ""),
            roles=tuple(str(r) for r in claims.get("roles") or ()),
        )
        # A fresh session id at sign-in: an id planted before it is worth nothing after.
        session.clear()
        current_app.session_interface.regenerate(session)  # type: ignore[attr-defined]
        now = time.time()
        session.update(person=person.to_session(), signed_in_at=now, seen_at=now)
        session.permanent = True
        record_person_event(
            deps.session_factory,
            person,
            "signed_in",
            f"{person.name} signed in to the console as "
            + (person.role.title if person.role else "no role"),
        )
        if person.role is None:
            return _failed(
                "Your account has no role in ml-connector. Ask your administrator to assign you "
                "Viewer, Clerk or Admin in Microsoft Entra ID.",
                403,
            )
        return redirect(after or url_for("console.today.page"))

    @bp.post("/sign-out")
    def sign_out() -> WerkzeugResponse:
        person = current_person()
        record_person_event(deps.session_factory, person, "signed_out", f"{person.name} signed out")
        session.clear()
        return redirect(signin.sign_out_url(_external("console.identity.signed_out", settings)))

    @bp.get("/signed-out")
    def signed_out() -> str:
        return render_template("console/signed_out.html")

    return bp


def _failed(message: str, status: int = 400) -> tuple[str, int]:
    return render_template(
        "console/error.html", title="Sign-in failed", message=message, sign_in_again=True
    ), status
