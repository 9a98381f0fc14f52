"""Shared pieces of the admin API (``/_emulator/...``): the optional admin token and scopes.

When ``admin_token`` is configured every admin call needs ``X-Emulator-Admin-Token: <token>``
(or ``Authorization: Bearer <token>``); otherwise the admin API is open, which is fine because the
emulator listens on loopback. Service code never calls these endpoints.
"""

from __future__ import annotations

import secrets

from flask import request

from bc_emulator.config import DEFAULT_TENANT
from bc_emulator.entity_sets import Scope
from bc_emulator.errors import BCError
from bc_emulator.state import Emulator
from bc_emulator.state import current_emulator

PREFIX = "/_emulator"


def check_admin() -> None:
    """Enforce the admin token if one is configured."""
    expected = current_emulator().config.admin_token
    if not expected:
        return
    given = request.headers.get("X-Emulator-Admin-Token", "")
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        given = given or auth[7:].strip()
    if not given or not secrets.compare_digest(given, expected):
        raise BCError(
            401, "Authentication_InvalidCredentials", "The admin token is missing or wrong."
        )


def default_tenant(emu: Emulator) -> str:
    """The tenant used when an admin call names none: the first configured app's tenant."""
    clients = emu.knobs.all_clients()
    return clients[0].tenant if clients else DEFAULT_TENANT


def company_scope(emu: Emulator, company_id: str) -> Scope:
    """A scope for seeding into a company (caller holds the store lock)."""
    found = emu.store.find_company(company_id)
    if found is None:
        raise BCError(
            404, "Internal_CompanyNotFound", f"The company '{company_id}' does not exist."
        )
    env, company = found
    return Scope(emu.store, env, emu.config, company=company)
