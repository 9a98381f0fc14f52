"""Validating a ``/{tenant}/oauth2/v2.0/authorize`` request the way Entra ID does.

Entra distinguishes two kinds of failure
(https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow):

* Until it trusts the ``redirect_uri`` it cannot send anything back, so an unknown tenant
  (AADSTS90002), a missing or unknown ``client_id`` (AADSTS900144, AADSTS700016) and a redirect
  URI that is missing or not registered (AADSTS50011: "The redirect URI '...' specified in the
  request does not match the redirect URIs configured for the application '...'") are shown as an
  error *page* -- never a redirect to an unregistered URI. ``redirect_uri`` "must exactly match
  one of the redirect URIs you registered" (case-sensitive, https://learn.microsoft.com/entra/
  identity-platform/reply-url). Entra ignores the port of ``http://localhost`` redirect URIs; the
  emulator does not (stricter: it registers the exact console URL).
* After that, errors go back to the app on its redirect URI as ``error``, ``error_description``
  (``AADSTSnnn: ...``), ``error_uri`` and ``state``, using the requested ``response_mode``
  (``query`` default, ``fragment``, ``form_post``): ``invalid_request`` (missing parameter),
  ``unsupported_response_type``, ``invalid_scope``, ``login_required`` (``prompt=none`` without a
  session, AADSTS50058).

Parameters (same page): ``response_type`` must be ``code``; ``scope`` is space-separated; the
emulator requires ``openid`` (it only does OpenID Connect sign-in; MSAL always sends ``openid
profile offline_access``) and knows the OIDC scopes plus Graph ``User.Read``. PKCE: the
``code_challenge`` is "recommended / required" (required for single-page apps); "If excluded,
``code_challenge`` is assumed to be plaintext"; "The Microsoft identity platform supports both
``plain`` and ``S256``" (RFC 7636: an S256 challenge is 43 base64url characters, a verifier 43-128
unreserved characters; AADSTS50149 for an unknown method, AADSTS501491 for a bad size). ``state``
and ``nonce`` are optional for ``response_type=code`` and echoed back (``nonce`` into the ID
token). ``prompt`` is ``login``, ``none``, ``consent``, ``select_account`` or ``create``;
``login_hint`` pre-fills the user name; ``max_age`` forces a fresh sign-in after that many seconds.
MSAL adds ``client_info=1`` (msal/application.py) and then expects ``client_info`` in the
response.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bc_emulator.directory import Directory
from bc_emulator.people import WebApp

OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
GRAPH_USER_READ = frozenset({"User.Read", "https://graph.microsoft.com/User.Read"})
RESPONSE_MODES = frozenset({"query", "fragment", "form_post"})
PROMPTS = frozenset({"login", "none", "consent", "select_account", "create"})
_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_PLAIN_CHALLENGE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


@dataclass(frozen=True)
class ResponseTarget:
    """Where and how a response goes back to the app (known good once validated)."""

    redirect_uri: str
    response_mode: str
    state: str | None


class SigninPageError(Exception):
    """A failure shown on the emulator's own error page (nothing is sent to the app)."""

    def __init__(self, status: int, aadsts: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.aadsts = aadsts
        self.message = message


class RedirectError(Exception):
    """A failure reported to the app on its (registered) redirect URI."""

    def __init__(self, target: ResponseTarget, error: str, aadsts: int, description: str) -> None:
        super().__init__(description)
        self.target = target
        self.error = error
        self.aadsts = aadsts
        self.description = description


@dataclass(frozen=True)
class AuthorizeRequest:
    """A validated authorize request."""

    app: WebApp
    target: ResponseTarget
    scopes: tuple[str, ...]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    prompt: str | None
    login_hint: str | None
    max_age: int | None
    client_info: bool


def missing_parameter(name: str) -> str:
    """Entra's AADSTS900144 text."""
    return f"The request body must contain the following parameter: '{name}'."


def unknown_app_message(client_id: str, tenant: str) -> str:
    """Entra's AADSTS700016 text."""
    return (
        f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. "
        "This can happen if the application has not been installed by the administrator of the "
        "tenant or consented to by any user in the tenant. You may have sent your authentication "
        "request to the wrong tenant."
    )


def unknown_tenant_message(tenant: str) -> str:
    """Entra's AADSTS90002 text."""
    return (
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud."
    )


def _trusted_target(
    url_tenant: str, args: Mapping[str, str], directory: Directory, tenant_known: bool
) -> tuple[WebApp, ResponseTarget]:
    """Tenant, app and redirect URI: failures here are pages, never redirects."""
    if not tenant_known:
        raise SigninPageError(400, 90002, unknown_tenant_message(url_tenant))
    client_id = args.get("client_id", "").strip()
    if not client_id:
        raise SigninPageError(400, 900144, missing_parameter("client_id"))
    app = directory.find_web_app(url_tenant, client_id)
    if app is None:
        raise SigninPageError(400, 700016, unknown_app_message(client_id, url_tenant))
    redirect_uri = args.get("redirect_uri", "")
    if not redirect_uri:
        raise SigninPageError(400, 900144, missing_parameter("redirect_uri"))
    if redirect_uri not in app.redirect_uris:
        raise SigninPageError(
            400,
            50011,
            f"The redirect URI '{redirect_uri}' specified in the request does not match the "
            f"redirect URIs configured for the application '{app.client_id}'. Make sure the "
            "redirect URI sent in the request matches one added to your application in the "
            "Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more "
            "about how to fix this.",
        )
    mode = args.get("response_mode") or "query"
    target = ResponseTarget(
        redirect_uri, mode if mode in RESPONSE_MODES else "query", args.get("state")
    )
    if mode not in RESPONSE_MODES:
        raise RedirectError(
            target,
            "invalid_request",
            70007,
            f"The value '{mode}' of the 'response_mode' parameter is not supported.",
        )
    return app, target


def _scopes(target: ResponseTarget, raw: str | None) -> tuple[str, ...]:
    if not raw or not raw.split():
        raise RedirectError(target, "invalid_request", 900144, missing_parameter("scope"))
    scopes = tuple(dict.fromkeys(raw.split()))
    unknown = [s for s in scopes if s not in OIDC_SCOPES and s not in GRAPH_USER_READ]
    if unknown or "openid" not in scopes:
        reason = (
            f"The scope '{' '.join(unknown)}' is not valid."
            if unknown
            else "The 'openid' scope is required (this emulator only does OpenID Connect sign-in)."
        )
        raise RedirectError(
            target,
            "invalid_scope",
            70011,
            f"The provided value for the input parameter 'scope' is not valid. {reason}",
        )
    return scopes


def _pkce(
    app: WebApp, target: ResponseTarget, challenge: str | None, method: str | None
) -> tuple[str | None, str | None]:
    if not challenge:
        if method:
            raise RedirectError(
                target,
                "invalid_request",
                50147,
                "MissingCodeChallenge - The size of the code challenge parameter isn't valid.",
            )
        if app.require_pkce:
            raise RedirectError(
                target, "invalid_request", 900144, missing_parameter("code_challenge")
            )
        return None, None
    method = method or "plain"
    if method not in ("S256", "plain"):
        raise RedirectError(
            target, "invalid_request", 50149, "Invalid Code_Challenge_method parameter."
        )
    pattern = _S256_CHALLENGE if method == "S256" else _PLAIN_CHALLENGE
    if not pattern.match(challenge):
        raise RedirectError(
            target,
            "invalid_request",
            501491,
            "InvalidCodeChallengeMethodInvalidSize - Invalid size of Code_Challenge parameter.",
        )
    return challenge, method


def _max_age(target: ResponseTarget, raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise RedirectError(
            target,
            "invalid_request",
            90100,
            "InvalidRequestParameter - The parameter 'max_age' is empty or not valid.",
        )
    return int(raw)


def parse_authorize(
    url_tenant: str, args: Mapping[str, str], directory: Directory, tenant_known: bool
) -> AuthorizeRequest:
    """Validate an authorize request; raise :class:`SigninPageError` or :class:`RedirectError`."""
    app, target = _trusted_target(url_tenant, args, directory, tenant_known)
    response_type = args.get("response_type")
    if not response_type:
        raise RedirectError(target, "invalid_request", 900144, missing_parameter("response_type"))
    if response_type.split() != ["code"]:
        raise RedirectError(
            target,
            "unsupported_response_type",
            70005,
            f"The provided value for the input parameter 'response_type' is not allowed for "
            f"this client. Expected value is 'code'. Received '{response_type}'.",
        )
    scopes = _scopes(target, args.get("scope"))
    challenge, method = _pkce(
        app, target, args.get("code_challenge"), args.get("code_challenge_method")
    )
    prompt = args.get("prompt")
    return AuthorizeRequest(
        app=app,
        target=target,
        scopes=scopes,
        nonce=args.get("nonce") or None,
        code_challenge=challenge,
        code_challenge_method=method,
        prompt=prompt if prompt in PROMPTS else None,
        login_hint=(args.get("login_hint") or "").strip() or None,
        max_age=_max_age(target, args.get("max_age")),
        client_info=args.get("client_info") == "1",
    )
