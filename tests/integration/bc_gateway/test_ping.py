"""``bc-gateway ping``: one clear answer per way a BC connection can be wrong."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from factories import bin_path

from bc_gateway.bootstrap import build_bc
from bc_gateway.ping import Check
from bc_gateway.ping import ping

pytestmark = pytest.mark.rabbitmq

OTHER_GUID = "0badc0de-0000-4000-8000-000000000001"


def checks_of(deps: Any) -> dict[str, Check]:
    assert deps.settings.bc is not None
    return {c.name: c for c in ping(deps.settings.bc, deps.tokens, deps.bc)}


def test_a_healthy_connection_passes_every_check(deps: Any, admin: Any, company: Any) -> None:
    checks = checks_of(deps)
    assert [c.name for c in checks.values()] == ["token", "company", "permissions"]
    assert all(c.ok for c in checks.values())
    assert "CRONUS" in checks["company"].detail


def test_wrong_tenant(make_deps: Any, admin: Any, company: Any) -> None:
    checks = checks_of(make_deps(MLC_BC_TENANT_ID=OTHER_GUID))
    assert list(checks) == ["token"]
    assert not checks["token"].ok
    assert "AADSTS90002" in checks["token"].detail
    assert "MLC_BC_TENANT_ID" in checks["token"].detail


def test_wrong_secret(deps: Any, admin: Any, company: Any) -> None:
    tokens, client = build_bc(deps.settings.bc, deps.secrets["client_id"], "wrong-secret-value-1")
    [check] = ping(deps.settings.bc, tokens, client)
    assert not check.ok
    assert "AADSTS7000215" in check.detail
    assert "client_secret" in check.detail
    assert "wrong-secret-value-1" not in check.detail


def test_app_not_registered_in_bc(deps: Any, admin: Any, company: Any) -> None:
    # BC's answer to a valid Entra token for an app missing from its Entra Applications page.
    admin.fault(
        status=401,
        code="Authentication_InvalidCredentials",
        message="The server has rejected the client credentials.",
        count=2,
    )
    checks = checks_of(deps)
    assert checks["token"].ok
    assert not checks["company"].ok
    assert "Microsoft Entra Applications" in checks["company"].detail


def test_missing_permissions(deps: Any, admin: Any, company: Any) -> None:
    admin.fault(
        status=403,
        code="Authorization_InsufficientPermissions",
        message="You do not have the following permissions on TableData Gen. Journal Batch.",
        pathContains="customerPaymentJournals",
        count=1,
    )
    checks = checks_of(deps)
    assert checks["company"].ok
    assert not checks["permissions"].ok
    assert "customerPaymentJournals (403 Authorization_InsufficientPermissions)" in (
        checks["permissions"].detail
    )


def test_company_not_found_lists_the_companies_there_are(
    make_deps: Any, admin: Any, company: Any
) -> None:
    checks = checks_of(make_deps(MLC_BC_COMPANY_ID=OTHER_GUID))
    assert not checks["company"].ok
    assert f"company {OTHER_GUID} not found" in checks["company"].detail
    assert company.id in checks["company"].detail
    assert "MLC_BC_COMPANY_ID" in checks["company"].detail


def test_environment_not_found(make_deps: Any, admin: Any, company: Any) -> None:
    checks = checks_of(make_deps(MLC_BC_ENVIRONMENT="staging"))
    assert not checks["company"].ok
    assert "environment 'staging' not found" in checks["company"].detail


def test_the_command_exits_non_zero_on_failure(
    env: dict[str, str], admin: Any, company: Any
) -> None:
    command = [bin_path("bc-gateway"), "ping"]
    good = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    bad = subprocess.run(
        command,
        env={**env, "MLC_BC_COMPANY_ID": OTHER_GUID},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.count(" ok: ") == 3
    assert bad.returncode == 1
    assert "company      FAILED" in bad.stdout
