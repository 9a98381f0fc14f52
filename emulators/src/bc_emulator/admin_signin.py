"""Admin API for interactive sign-in: ``/_emulator/signin...``.

Tests and the local stack register people and web apps here, next to the other set-up routes
(``/_emulator/clients`` for client-credentials apps). Bodies are JSON, an object or an array of
objects, camelCase or snake_case:

* ``GET /_emulator/signin`` -- users (no passwords), web apps (no secrets), live sessions.
* ``POST /_emulator/signin/users`` -- ``{"tenant"?, "userPrincipalName", "displayName"?,
  "password", "objectId"?, "appRoles"?: {"<client id>": ["Clerk"]}}``; roles must be declared by
  the app if it is registered already.
* ``POST /_emulator/signin/apps`` -- ``{"tenant"?, "clientId", "clientSecret", "redirectUris",
  "appRoles"?: ["Viewer", ...], "displayName"?, "requirePkce"?}``.
* ``POST /_emulator/signin/seed`` -- the console and the demo people (signin_seed.py):
  ``{"redirectUris": [...], "tenant"?, "clientId"?, "clientSecret"?, "requirePkce"?}``; the answer
  includes the secret and the passwords (the demo prints them).

``tenant`` defaults to the first client-credentials app's tenant. Adding an existing user or app
(same tenant and UPN / client id) replaces it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import request

from bc_emulator.admin_common import PREFIX
from bc_emulator.admin_common import check_admin
from bc_emulator.admin_common import default_tenant
from bc_emulator.errors import bad_request
from bc_emulator.http_utils import json_body
from bc_emulator.http_utils import json_response
from bc_emulator.jsonio import loads
from bc_emulator.people import user_from_json
from bc_emulator.people import web_app_from_json
from bc_emulator.signin_seed import CONSOLE_CLIENT_ID
from bc_emulator.signin_seed import seed_signin
from bc_emulator.state import current_emulator

bp = Blueprint("admin_signin", __name__, url_prefix=f"{PREFIX}/signin")
bp.before_request(check_admin)


def _items() -> list[dict[str, Any]]:
    raw = request.get_data()
    try:
        body = loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise bad_request(f"Invalid Request Body: {exc}") from exc
    raw_items = body if isinstance(body, list) else [body]
    items = [i for i in raw_items if isinstance(i, dict)]
    if not items or len(items) != len(raw_items):
        raise bad_request("Expected a JSON object or an array of objects.")
    return items


def _reply(results: list[dict[str, Any]], many: bool) -> Response:
    return json_response({"value": results} if many else results[0], 201)


@bp.get("")
def overview() -> Response:
    """Registered users and web apps (without passwords or secrets) and live browser sessions."""
    emu = current_emulator()
    with emu.signin.lock:
        sessions = len(emu.signin.sessions)
    return json_response(
        {
            "users": [u.describe() for u in emu.directory.users()],
            "apps": [a.describe() for a in emu.directory.web_apps()],
            "sessions": sessions,
        }
    )


@bp.post("/users")
def add_users() -> Response:
    """Add or replace users."""
    emu = current_emulator()
    items = _items()
    try:
        users = [emu.directory.add_user(user_from_json(i, default_tenant(emu))) for i in items]
    except (KeyError, TypeError, ValueError) as exc:
        raise bad_request(str(exc)) from exc
    return _reply([u.describe() for u in users], len(items) > 1)


@bp.post("/apps")
def add_apps() -> Response:
    """Add or replace web app registrations."""
    emu = current_emulator()
    items = _items()
    try:
        apps = [emu.directory.add_web_app(web_app_from_json(i, default_tenant(emu))) for i in items]
    except (KeyError, TypeError, ValueError) as exc:
        raise bad_request(str(exc)) from exc
    return _reply([a.describe() for a in apps], len(items) > 1)


@bp.post("/seed")
def seed() -> Response:
    """Register the review console and the demo people (Viewer, Clerk, Admin)."""
    emu = current_emulator()
    body = json_body()
    uris = body.get("redirectUris") or body.get("redirect_uris")
    if not isinstance(uris, list) or not uris:
        raise bad_request('"redirectUris" must be a non-empty array of URIs.')
    try:
        result = seed_signin(
            emu,
            [str(u) for u in uris],
            tenant=body.get("tenant"),
            client_id=str(body.get("clientId") or CONSOLE_CLIENT_ID),
            client_secret=body.get("clientSecret"),
            require_pkce=bool(body.get("requirePkce", True)),
        )
    except ValueError as exc:
        raise bad_request(str(exc)) from exc
    return json_response(result.describe(), 201)
