"""``bc-gateway ping``: "can we reach your real BC?", one check at a time, each with a clear answer.

1. **token** -- Entra issues a token for our app (wrong tenant, wrong or expired secret and an app
   unknown to the tenant are told apart by their AADSTS codes);
2. **company** -- BC accepts the token and knows the configured company (a 401 with a fresh token
   means the app is not registered or not enabled on BC's "Microsoft Entra Applications" page;
   a 403 means it lacks permission sets; an unknown company is answered with the list of the
   companies the environment does have, an unknown environment as such);
3. **permissions** -- the entity sets the connector reads and writes answer a one-row read.

Each failure stops the checks that depend on it.
"""

from __future__ import annotations

import dataclasses

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.adapters.bc_errors import BCAuthError
from bc_gateway.adapters.bc_errors import BCError
from bc_gateway.adapters.bc_errors import BCNotFound
from bc_gateway.adapters.token import MsalTokenProvider
from bc_gateway.adapters.token import TokenError
from bc_gateway.settings import BCSettings

READS = ("salesInvoices", "customers", "customerPaymentJournals", "journals", "accounts")


@dataclasses.dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.name:<12} {'ok' if self.ok else 'FAILED'}: {self.detail}"


def auth_advice(exc: BCAuthError, client_id: str) -> str:
    """What to do about BC refusing the app (the ping's and the connection report's words)."""
    if exc.status == 403:
        return (
            f"BC refused access (403 {exc.code}): assign permission sets to app {client_id} "
            "on BC's 'Microsoft Entra Applications' page (SUPER is not allowed for apps)"
        )
    return (
        f"BC rejected a fresh token ({exc.status} {exc.code}): register app {client_id} on BC's "
        "'Microsoft Entra Applications' page with State = Enabled, grant admin consent to "
        "API.ReadWrite.All, and check MLC_BC_ENVIRONMENT"
    )


def missing_company_advice(bc: BCClient, settings: BCSettings) -> str:
    """The configured company is not there: which companies are (shared with the report)."""
    try:
        companies = bc.get("companies").get("value") or []
    except BCNotFound:
        return (
            f"environment {settings.environment!r} not found for tenant {settings.tenant_id}: "
            "check MLC_BC_ENVIRONMENT"
        )
    available = ", ".join(f"{c.get('id')} ({c.get('name')})" for c in companies) or "none"
    return (
        f"company {settings.company_id} not found in environment {settings.environment!r}; "
        f"it has: {available}. Check MLC_BC_COMPANY_ID"
    )


def ping(settings: BCSettings, tokens: MsalTokenProvider, bc: BCClient) -> list[Check]:
    """Run the checks in order; stop at the first one the rest depend on."""
    checks: list[Check] = []
    try:
        tokens.token()
    except TokenError as exc:
        return [Check("token", False, str(exc))]
    issued = f"Entra issued a token for app {tokens.client_id} at {settings.authority}"
    checks.append(Check("token", True, issued))
    try:
        company = bc.get(f"companies({settings.company_id})")
    except BCAuthError as exc:
        return [*checks, Check("company", False, auth_advice(exc, tokens.client_id))]
    except BCNotFound:
        return [*checks, Check("company", False, missing_company_advice(bc, settings))]
    except BCError as exc:
        return [*checks, Check("company", False, f"BC did not answer as expected: {exc}")]
    name = company.get("displayName") or company.get("name")
    checks.append(Check("company", True, f"{name} ({settings.company_id})"))
    denied: list[str] = []
    names = (*READS, "subscriptions")
    for entity in names:
        path = "subscriptions" if entity == "subscriptions" else bc.company_path(entity)
        try:
            bc.get(path, {"$top": "1"} if entity != "subscriptions" else None)
        except BCAuthError as exc:
            denied.append(f"{entity} ({exc.status} {exc.code})")
        except BCError as exc:
            denied.append(f"{entity} ({exc})")
    if denied:
        checks.append(Check("permissions", False, "cannot read " + ", ".join(denied)))
    else:
        checks.append(Check("permissions", True, "read access to " + ", ".join(names)))
    return checks
