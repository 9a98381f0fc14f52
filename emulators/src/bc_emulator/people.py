"""People and web app registrations of the emulated Entra ID tenant, and how they are parsed.

The reconciler's review console signs people in with Entra ID (OIDC authorization-code flow with
PKCE through MSAL) and authorises them by the app roles in their ID token (ARCHITECTURE.md §9), so
the emulator needs a small directory: users who can type a password, and web app registrations
that say where a sign-in may return to and which roles exist. Facts this module follows:

* A user is identified by an immutable object id (``oid``, a GUID, the same for every app) and
  shown by the mutable ``name`` and ``preferred_username`` (the user principal name). --
  https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference
* App roles are declared on the app registration; a role's *value* "can't contain spaces" and is
  what appears in the ``roles`` claim; users are assigned roles per application. --
  https://learn.microsoft.com/entra/identity-platform/howto-add-app-roles-in-apps
* Redirect URIs must use ``https``, except loopback/localhost URIs which may use ``http``; they
  are case-sensitive, at most 256 characters, and must not contain ``! $ ' ( ) , ;``. --
  https://learn.microsoft.com/entra/identity-platform/reply-url

The dataclasses are frozen so they can live in :class:`~bc_emulator.config.EmulatorConfig`; role
assignments are therefore ``(client_id, role)`` pairs rather than a dict.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_FORBIDDEN_URI_CHARS = re.compile(r"[!$'(),;]")
_MAX_REDIRECT_URI = 256


def stable_object_id(tenant: str, user_principal_name: str) -> str:
    """A user's object id when none is given: the same GUID for the same tenant and UPN."""
    key = f"bc-emulator-user:{tenant.lower()}:{user_principal_name.lower()}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


@dataclass(frozen=True)
class DirectoryUser:
    """A person who can sign in: UPN, display name, password, object id, app roles per app."""

    tenant: str
    user_principal_name: str
    display_name: str
    password: str
    object_id: str = ""
    app_roles: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.object_id:
            oid = stable_object_id(self.tenant, self.user_principal_name)
            object.__setattr__(self, "object_id", oid)

    def roles_for(self, client_id: str) -> tuple[str, ...]:
        """The role values assigned to this user for the app ``client_id`` (in assignment order)."""
        wanted = client_id.lower()
        return tuple(role for app, role in self.app_roles if app.lower() == wanted)

    def roles_by_app(self) -> dict[str, list[str]]:
        """Role assignments as ``{client_id: [role, ...]}`` (for admin views)."""
        out: dict[str, list[str]] = {}
        for app, role in self.app_roles:
            out.setdefault(app, []).append(role)
        return out

    def describe(self) -> dict[str, Any]:
        """The user without the password (admin views never echo secrets)."""
        return {
            "tenant": self.tenant,
            "userPrincipalName": self.user_principal_name,
            "displayName": self.display_name,
            "objectId": self.object_id,
            "appRoles": self.roles_by_app(),
        }


@dataclass(frozen=True)
class WebApp:
    """A confidential web app registration that signs users in (the review console).

    ``require_pkce`` is stricter than Entra, which only *recommends* PKCE for web apps (it is
    required for single-page apps); turning it on makes a client that forgets PKCE fail here.
    """

    tenant: str
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    app_roles: tuple[str, ...] = ()
    display_name: str = "Web app"
    require_pkce: bool = False

    def describe(self) -> dict[str, Any]:
        """The registration without its secret."""
        return {
            "tenant": self.tenant,
            "clientId": self.client_id,
            "displayName": self.display_name,
            "redirectUris": list(self.redirect_uris),
            "appRoles": list(self.app_roles),
            "requirePkce": self.require_pkce,
        }


def check_redirect_uri(uri: str) -> str:
    """Return ``uri`` if Entra would accept it as a redirect URI, else raise ValueError."""
    if len(uri) > _MAX_REDIRECT_URI:
        raise ValueError(f"redirect URI longer than {_MAX_REDIRECT_URI} characters: {uri!r}")
    if _FORBIDDEN_URI_CHARS.search(uri):
        raise ValueError(f"redirect URI contains one of ! $ ' ( ) , ; : {uri!r}")
    parts = urlsplit(uri)
    if parts.fragment or not parts.netloc:
        raise ValueError(f"redirect URI must be absolute and without a fragment: {uri!r}")
    if parts.scheme == "https" or (
        parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK_HOSTS
    ):
        return uri
    raise ValueError(f"redirect URI must use https (http only for localhost): {uri!r}")


def check_role_value(role: str) -> str:
    """A role value as Entra stores it: non-empty, no spaces."""
    if not role or any(ch.isspace() for ch in role):
        raise ValueError(f"app role value must be non-empty and without spaces: {role!r}")
    return role


def _get(raw: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    for name in names:
        if name in raw and raw[name] is not None:
            return raw[name]
    return default


def _required(raw: Mapping[str, Any], *names: str) -> str:
    value = _get(raw, *names)
    if value is None or str(value) == "":
        raise ValueError(f"missing {names[-1]!r}")
    return str(value)


def _role_pairs(value: Any) -> tuple[tuple[str, str], ...]:
    """``{"<client id>": ["Clerk"]}`` or ``[["<client id>", "Clerk"], ...]`` -> pairs."""
    if value is None:
        return ()
    pairs: Iterable[Any]
    if isinstance(value, Mapping):
        pairs = [(app, role) for app, roles in value.items() for role in _as_list(roles)]
    else:
        pairs = value
    out = []
    for pair in pairs:
        app, role = pair
        out.append((str(app), check_role_value(str(role))))
    return tuple(out)


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [value]
    return list(value)


def user_from_json(raw: Mapping[str, Any] | DirectoryUser, default_tenant: str) -> DirectoryUser:
    """Build a user from snake_case or camelCase fields (``appRoles`` maps client id -> roles)."""
    if isinstance(raw, DirectoryUser):
        return raw
    upn = _required(raw, "user_principal_name", "userPrincipalName")
    if "@" not in upn:
        raise ValueError(f"userPrincipalName must look like name@domain: {upn!r}")
    return DirectoryUser(
        tenant=str(_get(raw, "tenant", default=default_tenant)),
        user_principal_name=upn,
        display_name=str(_get(raw, "display_name", "displayName", default=upn.split("@")[0])),
        password=_required(raw, "password"),
        object_id=str(_get(raw, "object_id", "objectId", default="")),
        app_roles=_role_pairs(_get(raw, "app_roles", "appRoles")),
    )


def web_app_from_json(raw: Mapping[str, Any] | WebApp, default_tenant: str) -> WebApp:
    """Build a web app registration from snake_case or camelCase fields."""
    if isinstance(raw, WebApp):
        return raw
    uris = tuple(
        check_redirect_uri(str(u))
        for u in _as_list(_get(raw, "redirect_uris", "redirectUris", default=[]))
    )
    if not uris:
        raise ValueError("a web app needs at least one redirect URI ('redirectUris')")
    declared = _as_list(_get(raw, "app_roles", "appRoles", default=[]))
    roles = tuple(check_role_value(str(r)) for r in declared)
    return WebApp(
        tenant=str(_get(raw, "tenant", default=default_tenant)),
        client_id=_required(raw, "client_id", "clientId"),
        client_secret=_required(raw, "client_secret", "clientSecret"),
        redirect_uris=uris,
        app_roles=roles,
        display_name=str(_get(raw, "display_name", "displayName", default="Web app")),
        require_pkce=bool(_get(raw, "require_pkce", "requirePkce", default=False)),
    )
