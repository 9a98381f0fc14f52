"""bc-gateway settings from MLC_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from bc_gateway.settings import Settings
from mlconnector.config import ConfigError

TENANT = "5f1d2c3b-0a9e-4d8c-b7a6-112233445566"
COMPANY = "B18AED47-C385-49D2-B954-DBDF8AD71780"
BASE = {"MLC_SECRETS_BACKEND": "file", "MLC_MASTER_KEY": "unit-test-master-key"}


def test_bc_is_optional_and_required_only_where_used() -> None:
    settings = Settings.from_env(BASE)
    assert settings.bc is None
    with pytest.raises(ConfigError) as info:
        settings.require_bc()
    assert "MLC_BC_TENANT_ID" in str(info.value)
    with pytest.raises(ConfigError, match="MLC_BC_NOTIFICATION_URL"):
        settings.require_notification_url()


def test_defaults_for_real_business_central() -> None:
    settings = Settings.from_env({**BASE, "MLC_BC_TENANT_ID": TENANT, "MLC_BC_COMPANY_ID": COMPANY})
    bc = settings.require_bc()
    assert bc.company_id == COMPANY.lower()
    assert bc.api_root == (
        f"https://api.businesscentral.dynamics.com/v2.0/{TENANT}/production/api/v2.0"
    )
    assert bc.authority == f"https://login.microsoftonline.com/{TENANT}"
    assert bc.instance_discovery is True
    assert bc.trust_env is True
    assert bc.max_rps is None
    assert (settings.payment_journal, settings.refund_journal) == ("STRIPE", "STRIPEREF")
    assert settings.renew_margin_s == 24 * 3600


def test_an_emulator_setup(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    settings = Settings.from_env(
        {
            **BASE,
            "MLC_BC_TENANT_ID": TENANT,
            "MLC_BC_COMPANY_ID": COMPANY,
            "MLC_BC_API_BASE": "https://127.0.0.1:8443/",
            "MLC_BC_AUTHORITY_HOST": "https://127.0.0.1:8443",
            "MLC_BC_CA_BUNDLE": str(ca),
            "MLC_BC_MAX_RPS": "20",
            "MLC_BC_PAYMENT_JOURNAL": "stripe2",
        }
    )
    bc = settings.require_bc()
    assert bc.api_root.startswith("https://127.0.0.1:8443/v2.0/")
    # Not Entra: no instance discovery; a CA bundle must win over REQUESTS_CA_BUNDLE.
    assert (bc.instance_discovery, bc.trust_env, bc.max_rps) == (False, False, 20.0)
    assert settings.payment_journal == "STRIPE2"


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(
            {
                **BASE,
                "MLC_BC_TENANT_ID": TENANT,
                "MLC_BC_API_BASE": "http://insecure.example",
                "MLC_BC_MAX_RPS": "-1",
                "MLC_BC_PAYMENT_JOURNAL": "MUCH-TOO-LONG-NAME",
                "MLC_BC_CA_BUNDLE": "/no/such/ca.pem",
            }
        )
    problems = "\n".join(info.value.problems)
    for name in (
        "MLC_BC_COMPANY_ID",
        "MLC_BC_API_BASE",
        "MLC_BC_MAX_RPS",
        "MLC_BC_PAYMENT_JOURNAL",
        "MLC_BC_CA_BUNDLE",
    ):
        assert name in problems
