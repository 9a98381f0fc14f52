"""The review console's app registration and demo people, and :func:`seed_signin` to add them.

The console's app roles are Viewer, Clerk and Admin (ARCHITECTURE.md §9), declared on its app
registration and assigned to users, so the ID token's ``roles`` claim says what a person may do
(https://learn.microsoft.com/entra/identity-platform/howto-add-app-roles-in-apps). The demo has
one person per role, with passwords the demo prints (they only exist in this emulator). The user
names use the reserved ``.example`` top-level domain (RFC 2606) so they can never be real
accounts.

From Python (the local stack runs the emulator in-process)::

    seed = seed_signin(server.emulator, ["http://127.0.0.1:8080/auth/callback",
                                         "http://127.0.0.1:8080/"])
    seed.client_id, seed.client_secret, seed.users  # for the console's settings and the demo

Over HTTP: ``POST /_emulator/signin/seed`` with ``{"redirectUris": [...]}`` (see admin_signin.py).
Seeding again replaces the registration and the users (same tenant + client id / UPN).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bc_emulator.admin_common import default_tenant
from bc_emulator.people import DirectoryUser
from bc_emulator.people import WebApp
from bc_emulator.people import check_redirect_uri
from bc_emulator.state import Emulator

DEMO_DOMAIN = "mlconnector.example"
CONSOLE_CLIENT_ID = "00000000-0000-0000-0000-0000000000c2"
CONSOLE_APP_NAME = "ml-connector review console"
CONSOLE_ROLES = ("Viewer", "Clerk", "Admin")


@dataclass(frozen=True)
class DemoUser:
    """A person to seed: UPN, display name, password and the console role (None: no role)."""

    user_principal_name: str
    display_name: str
    password: str
    role: str | None


DEMO_USERS = (
    DemoUser(f"viewer@{DEMO_DOMAIN}", "Vera Viewer", "Viewer-demo-1", "Viewer"),
    DemoUser(f"clerk@{DEMO_DOMAIN}", "Chris Clerk", "Clerk-demo-1", "Clerk"),
    DemoUser(f"admin@{DEMO_DOMAIN}", "Ada Admin", "Admin-demo-1", "Admin"),
)


@dataclass(frozen=True)
class SigninSeed:
    """What :func:`seed_signin` registered (secret and passwords included: the demo prints them)."""

    tenant: str
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    users: tuple[DemoUser, ...]
    object_ids: tuple[str, ...]

    def describe(self) -> dict[str, Any]:
        """JSON view for the admin API."""
        return {
            "tenant": self.tenant,
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            "redirectUris": list(self.redirect_uris),
            "appRoles": list(CONSOLE_ROLES),
            "users": [
                {
                    "userPrincipalName": u.user_principal_name,
                    "displayName": u.display_name,
                    "password": u.password,
                    "roles": [u.role] if u.role else [],
                    "objectId": oid,
                }
                for u, oid in zip(self.users, self.object_ids, strict=True)
            ],
        }


def seed_signin(
    emulator: Emulator,
    redirect_uris: Sequence[str],
    *,
    tenant: str | None = None,
    client_id: str = CONSOLE_CLIENT_ID,
    client_secret: str | None = None,
    users: Sequence[DemoUser] = DEMO_USERS,
    app_name: str = CONSOLE_APP_NAME,
    require_pkce: bool = True,
) -> SigninSeed:
    """Register the console (roles Viewer, Clerk, Admin) and its people; return what was added.

    ``tenant`` defaults to the first client-credentials app's tenant (the one BC data lives in);
    ``client_secret`` defaults to a fresh random secret. PKCE is required by default (Entra only
    recommends it for web apps; MSAL always sends it), so a console that drops it fails here.
    Raises ValueError for a redirect URI Entra would refuse.
    """
    tenant = tenant or default_tenant(emulator)
    secret = client_secret or secrets.token_urlsafe(32)
    uris = tuple(check_redirect_uri(u) for u in redirect_uris)
    if not uris:
        raise ValueError("the console needs at least one redirect URI")
    emulator.directory.add_web_app(
        WebApp(tenant, client_id, secret, uris, CONSOLE_ROLES, app_name, require_pkce)
    )
    added = [
        emulator.directory.add_user(
            DirectoryUser(
                tenant,
                u.user_principal_name,
                u.display_name,
                u.password,
                app_roles=((client_id, u.role),) if u.role else (),
            )
        )
        for u in users
    ]
    return SigninSeed(
        tenant, client_id, secret, uris, tuple(users), tuple(a.object_id for a in added)
    )
