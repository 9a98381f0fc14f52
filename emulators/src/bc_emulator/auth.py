"""Entra ID-style token endpoint, OIDC discovery, and bearer-token checks for the API.

msal 1.39 with ``authority="https://host:port/<tenant>"`` and ``instance_discovery=False``
fetches ``/<tenant>/v2.0/.well-known/openid-configuration`` (``/<tenant>/.well-known/...`` with
``oidc_authority=``) and needs ``authorization_endpoint`` and ``token_endpoint`` in it; then it
POSTs the client-credentials form to ``/<tenant>/oauth2/v2.0/token`` (bc-api.md §2.3). Errors use
Entra's shape: ``invalid_client`` with AADSTS7000215 for a wrong secret, ``unauthorized_client``
with AADSTS700016 for an unknown app, ``invalid_scope`` (AADSTS70011), ``invalid_tenant``
(AADSTS90002). Tokens are JWT-shaped (unsigned) but only valid if this emulator issued them and
the emulated clock has not passed their ``exp``.

Interactive sign-in (authorization-code flow with PKCE, for the review console) lives in
``signin.py`` (browser side) and ``user_grants.py`` (the ``authorization_code`` and
``refresh_token`` grants, which :func:`token` hands over). The discovery document carries what
Entra's v2.0 document carries for them (``GET https://login.microsoftonline.com/<tenant>/v2.0/
.well-known/openid-configuration``; https://learn.microsoft.com/entra/identity-platform/
v2-protocols-oidc): ``jwks_uri`` (``/<tenant>/discovery/v2.0/keys``), ``end_session_endpoint``
(``/<tenant>/oauth2/v2.0/logout``), ``userinfo_endpoint`` (Entra points at Graph's
``/oidc/userinfo``; the emulator serves that path itself), ``response_modes_supported``
(``query``, ``fragment``, ``form_post``), ``subject_types_supported`` (``pairwise``),
``id_token_signing_alg_values_supported`` (``RS256``), ``scopes_supported`` (``openid``,
``profile``, ``email``, ``offline_access``), ``claims_supported`` and
``request_uri_parameter_supported: false``. Entra publishes neither
``code_challenge_methods_supported`` (the auth-code page documents ``plain`` and ``S256``) nor
``grant_types_supported``; the emulator keeps the latter, which it has always sent, listing what it
implements. ``response_types_supported`` lists only ``code``: no implicit or hybrid flow here.
"""

from __future__ import annotations

import secrets

from flask import Blueprint
from flask import Response
from flask import request

from bc_emulator import jsonio
from bc_emulator.authorize_request import unknown_tenant_message
from bc_emulator.config import BC_SCOPE
from bc_emulator.errors import BCError
from bc_emulator.errors import EntraError
from bc_emulator.state import current_emulator
from bc_emulator.tokens import TokenInfo
from bc_emulator.user_grants import USER_GRANTS
from bc_emulator.user_grants import user_token

bp = Blueprint("auth", __name__)


def known_tenant(tenant: str) -> bool:
    """Whether any app, user or BC environment belongs to ``tenant`` (case-insensitive)."""
    emu = current_emulator()
    tenants = {c.tenant.lower() for c in emu.knobs.all_clients()} | emu.store.tenants()
    return tenant.lower() in tenants | emu.directory.tenants()


def tenant_error(tenant: str) -> EntraError:
    """Entra's answer for an unknown tenant (AADSTS90002)."""
    return EntraError(400, "invalid_tenant", 90002, unknown_tenant_message(tenant))


_CLAIMS_SUPPORTED = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "auth_time",
    "nonce",
    "preferred_username",
    "name",
    "oid",
    "roles",
    "sid",
    "tid",
    "ver",
    "email",
]


@bp.get("/<tenant>/v2.0/.well-known/openid-configuration")
@bp.get("/<tenant>/.well-known/openid-configuration")
def discovery(tenant: str) -> Response:
    """OIDC discovery document with the endpoints msal reads."""
    if not known_tenant(tenant):
        raise tenant_error(tenant)
    host = request.host_url.rstrip("/")
    root = f"{host}/{tenant}"
    document = {
        "issuer": f"{root}/v2.0",
        "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
        "token_endpoint": f"{root}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "jwks_uri": f"{root}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{host}/oidc/userinfo",
        "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
        "claims_supported": _CLAIMS_SUPPORTED,
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "tenant_region_scope": "EU",
    }
    return Response(jsonio.dumps(document), mimetype="application/json")


def _client_credentials() -> tuple[str | None, str | None]:
    form = request.form
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        return auth.username, auth.password
    return form.get("client_id"), form.get("client_secret")


@bp.post("/<tenant>/oauth2/v2.0/token")
def token(tenant: str) -> Response:
    """Client-credentials grant here; the user grants in ``user_grants.py``."""
    emu = current_emulator()
    emu.faults.apply("token")
    if not known_tenant(tenant):
        raise tenant_error(tenant)
    grant = request.form.get("grant_type")
    if grant in USER_GRANTS:
        return user_token(tenant, grant, *_client_credentials())
    if grant != "client_credentials":
        raise EntraError(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant}'.",
        )
    client_id, secret = _client_credentials()
    if not client_id:
        raise EntraError(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    apps = [
        c
        for c in emu.knobs.all_clients()
        if c.tenant.lower() == tenant.lower() and c.client_id.lower() == client_id.lower()
    ]
    if not apps:
        raise EntraError(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{tenant}'. This can happen if the application has not been installed by the "
            "administrator of the tenant or consented to by any user in the tenant. You may have "
            "sent your authentication request to the wrong tenant.",
        )
    if not secret:
        raise EntraError(
            401,
            "invalid_client",
            7000216,
            "'client_assertion', 'client_secret' or 'request' is required for the "
            "'client_credentials' grant type.",
        )
    if not any(secrets.compare_digest(secret, app.client_secret) for app in apps):
        raise EntraError(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            f"client secret value, not the client secret ID, for a secret added to app "
            f"'{client_id}'.",
        )
    scopes = (request.form.get("scope") or "").split()
    if BC_SCOPE not in scopes:
        raise EntraError(
            400,
            "invalid_scope",
            70011,
            "The provided request must include a 'scope' input parameter. The provided value for "
            f"the input parameter 'scope' is not valid. The scope {' '.join(scopes)} is not valid.",
        )
    lifetime = emu.knobs.config.token_lifetime_seconds
    access = emu.tokens.issue(apps[0].tenant, apps[0].client_id, emu.clock.now(), lifetime)
    body = {
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access,
    }
    response = Response(jsonio.dumps(body), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store, no-cache"
    return response


def _unauthorized(reason: str) -> BCError:
    challenge = (
        'Bearer authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
        f'error="invalid_token", error_description="{reason}"'
    )
    return BCError(
        401,
        "Authentication_InvalidCredentials",
        "The server has rejected the client credentials.",
        {"WWW-Authenticate": challenge},
    )


def require_bearer(url_tenant: str | None) -> TokenInfo:
    """Validate the request's bearer token (401 in BC's shape otherwise)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise _unauthorized("The authentication failed because of missing 'Authorization' header.")
    emu = current_emulator()
    info = emu.tokens.lookup(value.strip())
    if info is None:
        raise _unauthorized("The access token is invalid.")
    if emu.clock.now() >= info.expires_at:
        raise _unauthorized("The access token has expired.")
    if url_tenant is not None and url_tenant.lower() != info.tenant.lower():
        raise _unauthorized("The access token was issued for another tenant.")
    return info
