"""The emulated tenant's directory at run time: configured people and apps plus admin-added ones.

Like the client-credentials apps in :class:`~bc_emulator.config.RuntimeKnobs`, users and web app
registrations come from the configuration (``users``, ``web_apps``) and from the admin API; an
admin-added entry with the same key (tenant + UPN, tenant + client id) replaces the configured
one, and admin-added entries survive ``POST /_emulator/reset`` (they are set-up, not test data).
Lookups of UPNs and client ids are case-insensitive, as Entra's are; redirect URIs are compared
exactly (https://learn.microsoft.com/entra/identity-platform/reply-url: "case-sensitive").
"""

from __future__ import annotations

import threading

from bc_emulator.config import RuntimeKnobs
from bc_emulator.people import DirectoryUser
from bc_emulator.people import WebApp


def _user_key(tenant: str, upn: str) -> tuple[str, str]:
    return tenant.lower(), upn.lower()


def _app_key(tenant: str, client_id: str) -> tuple[str, str]:
    return tenant.lower(), client_id.lower()


class Directory:
    """Users and web apps of every emulated tenant (thread-safe)."""

    def __init__(self, knobs: RuntimeKnobs) -> None:
        self._knobs = knobs
        self._users: dict[tuple[str, str], DirectoryUser] = {}
        self._apps: dict[tuple[str, str], WebApp] = {}
        self._lock = threading.Lock()

    def users(self) -> list[DirectoryUser]:
        """Every user, configured first, admin-added ones replacing same-key configured ones."""
        merged = {_user_key(u.tenant, u.user_principal_name): u for u in self._knobs.config.users}
        with self._lock:
            merged.update(self._users)
        return list(merged.values())

    def web_apps(self) -> list[WebApp]:
        """Every web app registration (same merge rule as :meth:`users`)."""
        merged = {_app_key(a.tenant, a.client_id): a for a in self._knobs.config.web_apps}
        with self._lock:
            merged.update(self._apps)
        return list(merged.values())

    def add_user(self, user: DirectoryUser) -> DirectoryUser:
        """Add or replace a user; roles must be declared by the app when the app is known."""
        for client_id, role in user.app_roles:
            app = self.find_web_app(user.tenant, client_id)
            if app is not None and role not in app.app_roles:
                raise ValueError(
                    f"role {role!r} is not declared by app {client_id} "
                    f"(declared: {', '.join(app.app_roles) or 'none'})"
                )
        with self._lock:
            self._users[_user_key(user.tenant, user.user_principal_name)] = user
        return user

    def add_web_app(self, app: WebApp) -> WebApp:
        """Add or replace a web app registration."""
        with self._lock:
            self._apps[_app_key(app.tenant, app.client_id)] = app
        return app

    def find_user(self, tenant: str, upn: str) -> DirectoryUser | None:
        """The user with this UPN in ``tenant`` (case-insensitive), if any."""
        key = _user_key(tenant, upn.strip())
        return next(
            (u for u in self.users() if _user_key(u.tenant, u.user_principal_name) == key), None
        )

    def user_by_object_id(self, tenant: str, object_id: str) -> DirectoryUser | None:
        """The user with this object id in ``tenant``, if any."""
        return next(
            (
                u
                for u in self.users()
                if u.tenant.lower() == tenant.lower() and u.object_id == object_id
            ),
            None,
        )

    def find_web_app(self, tenant: str, client_id: str) -> WebApp | None:
        """The web app registration ``client_id`` in ``tenant``, if any."""
        key = _app_key(tenant, client_id)
        return next((a for a in self.web_apps() if _app_key(a.tenant, a.client_id) == key), None)

    def tenants(self) -> set[str]:
        """Lower-cased tenants that have users or web apps."""
        users = {u.tenant.lower() for u in self.users()}
        return users | {a.tenant.lower() for a in self.web_apps()}

    def is_registered_redirect(self, tenant: str, uri: str) -> bool:
        """Whether ``uri`` is exactly a redirect URI of some web app in ``tenant``."""
        return any(
            uri in app.redirect_uris
            for app in self.web_apps()
            if app.tenant.lower() == tenant.lower()
        )
