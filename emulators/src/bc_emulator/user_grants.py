"""The token endpoint's user grants: ``authorization_code`` (with PKCE) and ``refresh_token``.

``auth.token`` hands these grants here; the client-credentials grant stays in ``auth.py``. What
MSAL sends (msal/oauth2cli/oauth2.py ``obtain_token_by_auth_code_flow``): ``grant_type=
authorization_code``, ``code``, ``redirect_uri`` (the one from the flow), ``scope`` (the decorated
``openid profile offline_access``), ``code_verifier``, ``client_info=1``, and ``client_id`` +
``client_secret`` in the form (HTTP Basic also works, as for client credentials).

Checks and errors follow https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-
flow ("invalid_grant: The authorization code or PKCE code verifier is invalid or has expired") and
https://learn.microsoft.com/entra/identity-platform/reference-error-codes, in Entra's JSON shape
(``errors.EntraError``):

* client: missing ``client_id`` 400 ``invalid_request`` AADSTS900144; not a web app of the tenant
  400 ``unauthorized_client`` AADSTS700016; no secret 401 ``invalid_client`` AADSTS7000218; wrong
  secret 401 ``invalid_client`` AADSTS7000215;
* code: missing AADSTS900144; unknown or issued to another app ``invalid_grant`` AADSTS70000 ("The
  provided value for the 'code' parameter is not valid."); already redeemed AADSTS54005 ("OAuth2
  Authorization code was already redeemed ..."; tokens issued from it are revoked, RFC 6749
  §4.1.2); older than ten minutes of emulated time AADSTS70008 ("The provided authorization code
  or refresh token has expired due to inactivity. ..."); another ``redirect_uri`` AADSTS50011
  ("The reply address '...' does not match the reply address '...' provided when requesting
  Authorization code."); PKCE: verifier missing AADSTS50148 ("The code_verifier does not match
  the code_challenge supplied in the authorization request for PKCE."), wrong AADSTS501481 ("The
  Code_Verifier doesn't match the code_challenge supplied in the authorization request."; S256 is
  ``BASE64URL(SHA256(verifier))``, RFC 7636 §4.6);
* refresh token: unknown, revoked or another app's AADSTS70000; unused for 90 days AADSTS700082.

A successful answer carries ``token_type``, ``scope``, ``expires_in``, ``ext_expires_in``,
``access_token``, ``refresh_token`` (only with ``offline_access``), ``id_token`` (only with
``openid``) and ``client_info`` (only when asked with ``client_info=1``). Only a failed check
leaves a code usable; a successful redemption uses it up.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from datetime import timedelta

from flask import Response
from flask import request

from bc_emulator import jsonio
from bc_emulator.authorize_request import missing_parameter
from bc_emulator.authorize_request import unknown_app_message
from bc_emulator.errors import EntraError
from bc_emulator.id_tokens import SignIn
from bc_emulator.id_tokens import access_token_claims
from bc_emulator.id_tokens import b64url
from bc_emulator.id_tokens import client_info
from bc_emulator.id_tokens import id_token_claims
from bc_emulator.people import DirectoryUser
from bc_emulator.people import WebApp
from bc_emulator.signin_store import IssuedCode
from bc_emulator.state import Emulator
from bc_emulator.state import current_emulator

USER_GRANTS = frozenset({"authorization_code", "refresh_token"})


def _invalid_grant(aadsts: int, description: str) -> EntraError:
    return EntraError(400, "invalid_grant", aadsts, description)


def _authenticate(
    emu: Emulator, url_tenant: str, client_id: str | None, secret: str | None
) -> WebApp:
    if not client_id:
        raise EntraError(400, "invalid_request", 900144, missing_parameter("client_id"))
    app = emu.directory.find_web_app(url_tenant, client_id)
    if app is None:
        raise EntraError(
            400, "unauthorized_client", 700016, unknown_app_message(client_id, url_tenant)
        )
    if not secret:
        raise EntraError(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
        )
    if not secrets.compare_digest(secret.encode(), app.client_secret.encode()):
        raise EntraError(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            f"client secret value, not the client secret ID, for a secret added to app "
            f"'{app.client_id}'.",
        )
    return app


def _check_pkce(issued: IssuedCode, verifier: str | None) -> None:
    if issued.code_challenge is None:
        return
    if not verifier:
        raise _invalid_grant(
            50148,
            "The code_verifier does not match the code_challenge supplied in the authorization "
            "request for PKCE.",
        )
    if issued.code_challenge_method == "S256":
        computed = b64url(hashlib.sha256(verifier.encode()).digest())
    else:
        computed = verifier
    if not secrets.compare_digest(computed.encode(), issued.code_challenge.encode()):
        raise _invalid_grant(
            501481,
            "The Code_Verifier doesn't match the code_challenge supplied in the authorization "
            "request.",
        )


def _redeem_code(emu: Emulator, app: WebApp, now: datetime) -> IssuedCode:
    form = request.form
    code = form.get("code")
    if not code:
        raise EntraError(400, "invalid_request", 900144, missing_parameter("code"))
    redirect_uri = form.get("redirect_uri")
    if not redirect_uri:
        raise EntraError(400, "invalid_request", 900144, missing_parameter("redirect_uri"))
    with emu.signin.lock:
        issued = emu.signin.codes.get(code)
        if issued is None or issued.sign_in.client_id.lower() != app.client_id.lower():
            raise _invalid_grant(70000, "The provided value for the 'code' parameter is not valid.")
        if issued.redeemed:
            grant = emu.signin.refresh_tokens.get(issued.refresh_token or "")
            if grant is not None:
                grant.revoked = True
            raise _invalid_grant(
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid "
                "code or use an existing refresh token.",
            )
        if issued.expired(now):
            raise _invalid_grant(
                70008,
                "The provided authorization code or refresh token has expired due to "
                "inactivity. Send a new interactive authorization request for this user and "
                "resource.",
            )
        if redirect_uri != issued.redirect_uri:
            raise _invalid_grant(
                50011,
                f"The reply address '{redirect_uri}' does not match the reply address "
                f"'{issued.redirect_uri}' provided when requesting Authorization code.",
            )
        _check_pkce(issued, form.get("code_verifier"))
        issued.redeemed = True
    return issued


def _use_refresh_token(emu: Emulator, app: WebApp, now: datetime) -> SignIn:
    token = request.form.get("refresh_token")
    if not token:
        raise EntraError(400, "invalid_request", 900144, missing_parameter("refresh_token"))
    with emu.signin.lock:
        grant = emu.signin.refresh_tokens.get(token)
        if (
            grant is None
            or grant.revoked
            or grant.sign_in.client_id.lower() != app.client_id.lower()
        ):
            raise _invalid_grant(
                70000,
                "The provided value for the input parameter 'refresh_token' or 'assertion' is "
                "not valid.",
            )
        if grant.expired(now):
            raise _invalid_grant(
                700082,
                "The refresh token has expired due to inactivity. The token was issued on "
                f"{grant.last_used.isoformat()} and was inactive for 90.00:00:00.",
            )
        grant.last_used = now
        return grant.sign_in


def _signed_in_user(emu: Emulator, sign_in: SignIn) -> DirectoryUser:
    user = emu.directory.user_by_object_id(sign_in.tenant, sign_in.object_id)
    if user is None:
        raise _invalid_grant(
            50034,
            "The user account does not exist in the directory. To sign into this application, "
            "the account must be added to the directory.",
        )
    return user


def user_token(url_tenant: str, grant: str, client_id: str | None, secret: str | None) -> Response:
    """Answer an ``authorization_code`` or ``refresh_token`` grant for a web app."""
    emu = current_emulator()
    app = _authenticate(emu, url_tenant, client_id, secret)
    now = emu.clock.now()
    issued: IssuedCode | None = None
    if grant == "authorization_code":
        issued = _redeem_code(emu, app, now)
        sign_in = issued.sign_in
    else:
        sign_in = _use_refresh_token(emu, app, now)
    user = _signed_in_user(emu, sign_in)
    lifetime = emu.config.token_lifetime_seconds
    access = emu.signing.sign(access_token_claims(sign_in, user, now, lifetime))
    emu.signin.remember_access_token(access, sign_in, now + timedelta(seconds=lifetime))
    body: dict[str, object] = {
        "token_type": "Bearer",
        "scope": " ".join(s for s in sign_in.scopes if s != "offline_access"),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access,
    }
    if "offline_access" in sign_in.scopes:
        refresh = emu.signin.issue_refresh_token(sign_in, now)
        body["refresh_token"] = refresh
        if issued is not None:
            with emu.signin.lock:
                issued.refresh_token = refresh
    if "openid" in sign_in.scopes:
        issuer = f"{request.host_url.rstrip('/')}/{url_tenant}/v2.0"
        claims = id_token_claims(issuer, sign_in, user, now, with_nonce=issued is not None)
        body["id_token"] = emu.signing.sign(claims)
    if request.form.get("client_info") == "1":
        body["client_info"] = client_info(user.object_id, sign_in.tenant)
    response = Response(jsonio.dumps(body), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store, no-cache"
    response.headers["Pragma"] = "no-cache"
    return response
