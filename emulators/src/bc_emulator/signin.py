"""Interactive sign-in: the authorize endpoint, sign-out, the signing keys and UserInfo.

The reconciler's review console signs people in with MSAL's ``initiate_auth_code_flow`` /
``acquire_token_by_auth_code_flow`` against ``https://127.0.0.1:<port>/<tenant>`` (ARCHITECTURE.md
§9); this blueprint is the browser half of that flow, ``user_grants.py`` the token half. Routes
(paths as Entra's, https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc):

* ``GET /{tenant}/oauth2/v2.0/authorize`` validates the request (``authorize_request.py``), then
  either signs the browser in silently from its session cookie or shows the sign-in form;
  ``POST`` to the same URL (the form) checks the user name and password. Success: a code goes to
  the redirect URI as ``code``, ``client_info`` (when asked), ``state``, ``session_state``.
  Entra's default behaviour "is to either sign in the sole current user, ... or show the login
  page if there are no users signed in"; ``prompt=login`` "forces the user to enter their
  credentials on that request, negating single-sign on"; ``prompt=none`` fails with
  ``login_required`` when that is impossible (https://learn.microsoft.com/entra/identity-platform/
  v2-oauth2-auth-code-flow). The emulator has no account picker or consent screen:
  ``select_account`` shows the form pre-filled, ``consent`` and ``create`` behave like no prompt.
* ``GET|POST /{tenant}/oauth2/v2.0/logout`` (the ``end_session_endpoint``, "supports both HTTP GET
  and POST") ends the browser session and redirects to ``post_logout_redirect_uri`` only if it
  "match[es] one of the redirect URIs registered for your application"; otherwise it shows the
  signed-out page.
* ``GET /{tenant}/discovery/v2.0/keys`` is the ``jwks_uri``; ``GET /oidc/userinfo`` mirrors
  ``https://graph.microsoft.com/oidc/userinfo`` for the access token the OIDC scopes yield
  (https://learn.microsoft.com/entra/identity-platform/userinfo: "supports both GET and POST";
  ``sub``, and with ``profile`` ``name``, ``given_name``, ``family_name``, with ``email``
  ``email``).

The session cookie (``ESTSAUTH``, like Entra's; the session lapses after 24 hours unused, see
``signin_store.py``) is ``Secure; HttpOnly; SameSite=Lax`` and scoped to
``/{tenant}/oauth2/v2.0`` so that an app on another port of 127.0.0.1 -- cookies ignore ports --
never receives it.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from urllib.parse import urlencode
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Response
from flask import request

from bc_emulator import jsonio
from bc_emulator import signin_pages as pages
from bc_emulator.auth import known_tenant
from bc_emulator.auth import tenant_error
from bc_emulator.authorize_request import AuthorizeRequest
from bc_emulator.authorize_request import RedirectError
from bc_emulator.authorize_request import ResponseTarget
from bc_emulator.authorize_request import SigninPageError
from bc_emulator.authorize_request import parse_authorize
from bc_emulator.authorize_request import unknown_tenant_message
from bc_emulator.errors import entra_trace
from bc_emulator.id_tokens import SignIn
from bc_emulator.id_tokens import client_info
from bc_emulator.id_tokens import pairwise_subject
from bc_emulator.people import DirectoryUser
from bc_emulator.state import Emulator
from bc_emulator.state import current_emulator

bp = Blueprint("signin", __name__)

SESSION_COOKIE = "ESTSAUTH"
# Entra adds "If you don't remember your password, reset it now." with a link; there is no reset.
WRONG_CREDENTIALS = "Your account or password is incorrect."
UNKNOWN_USER = (
    "This username may be incorrect. Make sure you typed it correctly. Otherwise, contact your "
    "admin."
)
NO_USER_NAME = "Enter a valid email address or user name."
EMPTY_CREDENTIAL = "Please enter your password."
STALE_FORM = "This sign-in page has expired or was already used. Enter your details again."
_ASSETS = {
    "signin.css": (pages.STYLESHEET, "text/css"),
    "form-post.js": (pages.FORM_POST_SCRIPT, "text/javascript"),
}


def _base(tenant: str) -> str:
    return f"/{tenant}/oauth2/v2.0"


def _assets(tenant: str) -> str:
    return f"{_base(tenant)}/assets"


def _error_page(tenant: str, exc: SigninPageError) -> Response:
    return pages.error_page(_assets(tenant), exc.status, exc.aadsts, exc.message, entra_trace())


def _redirect(location: str) -> Response:
    response = Response(status=302)
    response.headers["Location"] = location
    response.headers["Cache-Control"] = "no-store, no-cache"
    return response


def _with_path(uri: str) -> str:
    """Entra returns a redirect URI without a path with a trailing slash (query/fragment modes)."""
    return uri + "/" if not urlsplit(uri).path else uri


def _to_app(tenant: str, target: ResponseTarget, params: list[tuple[str, str]]) -> Response:
    """Send response parameters to the app's redirect URI in its ``response_mode``."""
    if target.response_mode == "form_post":
        return pages.form_post_page(_assets(tenant), target.redirect_uri, params)
    uri = _with_path(target.redirect_uri)
    if target.response_mode == "fragment":
        location = f"{uri}#{urlencode(params)}"
    else:
        location = f"{uri}{'&' if '?' in uri else '?'}{urlencode(params)}"
    return _redirect(location)


def _redirect_error(tenant: str, exc: RedirectError) -> Response:
    params = [
        ("error", exc.error),
        ("error_description", entra_trace().describe(exc.aadsts, exc.description)),
        ("error_uri", f"https://login.microsoftonline.com/error?code={exc.aadsts}"),
    ]
    if exc.target.state is not None:
        params.append(("state", exc.target.state))
    return _to_app(tenant, exc.target, params)


def _issue_code(
    emu: Emulator,
    tenant: str,
    req: AuthorizeRequest,
    user: DirectoryUser,
    session_id: str,
    auth_time: datetime,
) -> Response:
    sign_in = SignIn(
        tenant=req.app.tenant,
        client_id=req.app.client_id,
        object_id=user.object_id,
        scopes=req.scopes,
        session_id=session_id,
        auth_time=auth_time,
        nonce=req.nonce,
        include_auth_time=req.max_age is not None,
    )
    code = emu.signin.issue_code(
        sign_in,
        req.target.redirect_uri,
        req.code_challenge,
        req.code_challenge_method,
        emu.clock.now(),
    )
    params = [("code", code)]
    if req.client_info:
        params.append(("client_info", client_info(user.object_id, req.app.tenant)))
    if req.target.state is not None:
        params.append(("state", req.target.state))
    params.append(("session_state", session_id))
    return _to_app(tenant, req.target, params)


def _silent_user(
    emu: Emulator, req: AuthorizeRequest
) -> tuple[DirectoryUser, str, datetime] | None:
    """The signed-in user if this request may skip the password (single sign-on)."""
    session = emu.signin.session(request.cookies.get(SESSION_COOKIE), emu.clock.now())
    if session is None or session.tenant.lower() != req.app.tenant.lower():
        return None
    user = emu.directory.user_by_object_id(session.tenant, session.object_id)
    if user is None or req.prompt in ("login", "select_account"):
        return None
    if req.login_hint and req.login_hint.lower() != user.user_principal_name.lower():
        return None
    if req.max_age is not None:
        age = (emu.clock.now() - session.auth_time).total_seconds()
        if age > req.max_age:
            return None
    return user, session.session_id, session.auth_time


def _form(
    emu: Emulator, tenant: str, req: AuthorizeRequest, login: str, error: str | None = None
) -> Response:
    action = f"{request.path}?{request.query_string.decode('latin-1')}"
    target = urlsplit(req.target.redirect_uri)
    return pages.signin_page(
        _assets(tenant),
        action=action,
        app_name=req.app.display_name,
        flow_token=emu.signin.new_flow_token(emu.clock.now()),
        login=login,
        error=error,
        redirect_origin=f"{target.scheme}://{target.netloc}",
    )


def _prefill(emu: Emulator, req: AuthorizeRequest) -> str:
    if req.login_hint:
        return req.login_hint
    session = emu.signin.session(request.cookies.get(SESSION_COOKIE), emu.clock.now())
    if session is not None and req.prompt == "select_account":
        user = emu.directory.user_by_object_id(session.tenant, session.object_id)
        return user.user_principal_name if user else ""
    return ""


@bp.get("/<tenant>/oauth2/v2.0/authorize")
def authorize(tenant: str) -> Response:
    """Validate, then sign in silently from the session or show the sign-in form."""
    emu = current_emulator()
    try:
        req = parse_authorize(tenant, request.args, emu.directory, known_tenant(tenant))
        silent = _silent_user(emu, req)
        if silent is not None:
            return _issue_code(emu, tenant, req, *silent)
        if req.prompt == "none":
            raise RedirectError(
                req.target,
                "login_required",
                50058,
                "A silent sign-in request was sent but no user is signed in.",
            )
        return _form(emu, tenant, req, _prefill(emu, req))
    except SigninPageError as exc:
        return _error_page(tenant, exc)
    except RedirectError as exc:
        return _redirect_error(tenant, exc)


@bp.post("/<tenant>/oauth2/v2.0/authorize")
def authorize_credentials(tenant: str) -> Response:
    """The sign-in form: check the user name and password, then return a code to the app."""
    emu = current_emulator()
    try:
        req = parse_authorize(tenant, request.args, emu.directory, known_tenant(tenant))
    except SigninPageError as exc:
        return _error_page(tenant, exc)
    except RedirectError as exc:
        return _redirect_error(tenant, exc)
    login = request.form.get("login", "").strip()
    password = request.form.get("passwd", "")
    now = emu.clock.now()
    if not emu.signin.use_flow_token(request.form.get("flowToken", ""), now):
        return _form(emu, tenant, req, login, STALE_FORM)
    if not login:
        return _form(emu, tenant, req, login, NO_USER_NAME)
    if not password:
        return _form(emu, tenant, req, login, EMPTY_CREDENTIAL)
    user = emu.directory.find_user(req.app.tenant, login)
    if user is None:
        return _form(emu, tenant, req, login, UNKNOWN_USER)
    if not secrets.compare_digest(password.encode(), user.password.encode()):
        return _form(emu, tenant, req, login, WRONG_CREDENTIALS)
    emu.signin.end_session(request.cookies.get(SESSION_COOKIE))
    cookie, session_id = emu.signin.start_session(user.tenant, user.object_id, now)
    response = _issue_code(emu, tenant, req, user, session_id, now)
    response.set_cookie(
        SESSION_COOKIE, cookie, path=_base(tenant), secure=True, httponly=True, samesite="Lax"
    )
    return response


@bp.route("/<tenant>/oauth2/v2.0/logout", methods=["GET", "POST"])
def logout(tenant: str) -> Response:
    """End the browser session; go to a registered ``post_logout_redirect_uri`` if one is given."""
    emu = current_emulator()
    if not known_tenant(tenant):
        return _error_page(tenant, SigninPageError(400, 90002, unknown_tenant_message(tenant)))
    emu.signin.end_session(request.cookies.get(SESSION_COOKIE))
    target = request.values.get("post_logout_redirect_uri", "")
    if target and emu.directory.is_registered_redirect(tenant, target):
        response = _redirect(target)
    else:
        response = pages.signed_out_page(_assets(tenant))
    response.delete_cookie(SESSION_COOKIE, path=_base(tenant), secure=True, httponly=True)
    return response


@bp.get("/<tenant>/oauth2/v2.0/assets/<name>")
def asset(tenant: str, name: str) -> Response:
    """The sign-in pages' stylesheet and form_post script (no inline code, CSP-friendly)."""
    found = _ASSETS.get(name)
    if found is None:
        return Response("Not found", status=404, mimetype="text/plain")
    text, mimetype = found
    response = Response(text, mimetype=mimetype)
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/<tenant>/discovery/v2.0/keys")
def keys(tenant: str) -> Response:
    """The JWKS the ID tokens verify against (the discovery document's ``jwks_uri``)."""
    if not known_tenant(tenant):
        raise tenant_error(tenant)
    issuer = f"{request.host_url.rstrip('/')}/{tenant}/v2.0"
    body = {"keys": [current_emulator().signing.key.jwk(issuer)]}
    response = Response(jsonio.dumps(body), mimetype="application/json")
    response.headers["Cache-Control"] = "max-age=86400, private"
    return response


def _userinfo_error(description: str) -> Response:
    body = {"error": {"code": "InvalidAuthenticationToken", "message": description}}
    response = Response(jsonio.dumps(body), status=401, mimetype="application/json")
    response.headers["WWW-Authenticate"] = (
        f'Bearer error="invalid_token", error_description="{description}"'
    )
    return response


@bp.route("/oidc/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    """The signed-in user's claims for a user access token from this emulator."""
    emu = current_emulator()
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return _userinfo_error("Access token is empty.")
    record = emu.signin.access_token(value.strip())
    if record is None:
        return _userinfo_error("Invalid access token.")
    if emu.clock.now() >= record.expires_at:
        return _userinfo_error("Lifetime validation failed, the token is expired.")
    sign_in = record.sign_in
    user = emu.directory.user_by_object_id(sign_in.tenant, sign_in.object_id)
    if user is None:
        return _userinfo_error("The user no longer exists.")
    body: dict[str, str] = {
        "sub": pairwise_subject(sign_in.tenant, sign_in.client_id, user.object_id)
    }
    if "profile" in sign_in.scopes:  # "all names require the 'profile' scope"
        given, _, family = user.display_name.partition(" ")
        body |= {"name": user.display_name, "given_name": given, "family_name": family}
    if "email" in sign_in.scopes:  # "requires the 'email' scope"
        body["email"] = user.user_principal_name
    return Response(jsonio.dumps(body), mimetype="application/json")
