"""Token endpoint (driven through msal) and bearer checks on the API (bc-api.md §2.2-2.3)."""

from __future__ import annotations

from typing import Any

import requests

from bc_emulator.config import BC_SCOPE
from bc_emulator.server import EmulatorServer


class TestDiscovery:
    def test_openid_configuration_has_what_msal_reads(
        self, bc: EmulatorServer, http: requests.Session, kit: Any
    ) -> None:
        response = http.get(f"{bc.authority(kit.tenant)}/v2.0/.well-known/openid-configuration")
        assert response.status_code == 200
        document = response.json()
        assert document["token_endpoint"] == f"{bc.authority(kit.tenant)}/oauth2/v2.0/token"
        assert document["authorization_endpoint"].startswith(bc.authority(kit.tenant))
        assert document["issuer"].startswith(bc.base_url)

    def test_unknown_tenant_discovery_is_an_entra_error(
        self, bc: EmulatorServer, http: requests.Session
    ) -> None:
        response = http.get(f"{bc.base_url}/no-such-tenant/v2.0/.well-known/openid-configuration")
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_tenant"
        assert response.json()["error_description"].startswith("AADSTS90002:")


class TestToken:
    def test_msal_acquires_token_and_serves_second_call_from_cache(
        self, bc: EmulatorServer, http: requests.Session, kit: Any
    ) -> None:
        app = kit.msal_app(bc, http)
        first = app.acquire_token_for_client(scopes=[BC_SCOPE])
        assert first["token_type"] == "Bearer"
        assert first["expires_in"] == 3599
        assert first["token_source"] == "identity_provider"
        second = app.acquire_token_for_client(scopes=[BC_SCOPE])
        assert second["token_source"] == "cache"
        assert second["access_token"] == first["access_token"]

    def test_wrong_secret_returns_invalid_client_with_aadsts_code(
        self, bc: EmulatorServer, http: requests.Session, kit: Any
    ) -> None:
        result = kit.msal_app(bc, http, secret="not-the-secret").acquire_token_for_client(
            scopes=[BC_SCOPE]
        )
        assert "access_token" not in result
        assert result["error"] == "invalid_client"
        assert 7000215 in result["error_codes"]
        assert result["error_description"].startswith("AADSTS7000215:")
        assert "not-the-secret" not in str(result)

    def test_unknown_client_is_rejected_with_aadsts700016(
        self, bc: EmulatorServer, http: requests.Session, kit: Any
    ) -> None:
        response = http.post(
            f"{bc.authority(kit.tenant)}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "00000000-0000-0000-0000-00000000dead",
                "client_secret": kit.secret,
                "scope": BC_SCOPE,
            },
        )
        assert response.status_code == 400
        body = response.json()
        assert body["error"] == "unauthorized_client"
        assert body["error_codes"] == [700016]
        assert {"trace_id", "correlation_id", "timestamp"} <= set(body)

    def test_wrong_scope_is_invalid_scope(
        self, bc: EmulatorServer, http: requests.Session, kit: Any
    ) -> None:
        result = kit.msal_app(bc, http).acquire_token_for_client(
            scopes=["https://graph.microsoft.com/.default"]
        )
        assert result["error"] == "invalid_scope"
        assert result["error_codes"] == [70011]


class TestBearer:
    def test_request_without_token_gets_401_in_bc_shape(
        self, bc: EmulatorServer, http: requests.Session, kit: Any
    ) -> None:
        response = http.get(f"{bc.api_base(kit.tenant)}/companies")
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["code"] == "Authentication_InvalidCredentials"
        assert "  CorrelationId:  " in error["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer ")

    def test_token_works_until_the_emulated_clock_passes_its_expiry(
        self, bc: EmulatorServer, http: requests.Session, token: str, kit: Any
    ) -> None:
        url = f"{bc.api_base(kit.tenant)}/companies"
        headers = {"Authorization": f"Bearer {token}"}
        assert http.get(url, headers=headers).status_code == 200
        http.post(f"{bc.admin}/clock/advance", json={"seconds": 3600})
        expired = http.get(url, headers=headers)
        assert expired.status_code == 401
        assert "expired" in expired.headers["WWW-Authenticate"]
        fresh = kit.msal_app(bc, http).acquire_token_for_client(scopes=[BC_SCOPE])
        renewed = {"Authorization": f"Bearer {fresh['access_token']}"}
        assert http.get(url, headers=renewed).status_code == 200

    def test_configurable_token_lifetime(
        self, bc: EmulatorServer, http: requests.Session, kit: Any
    ) -> None:
        http.patch(f"{bc.admin}/config", json={"token_lifetime_seconds": 600})
        result = kit.msal_app(bc, http).acquire_token_for_client(scopes=[BC_SCOPE])
        assert result["expires_in"] == 600

    def test_token_of_another_tenant_is_refused(
        self, bc: EmulatorServer, http: requests.Session, token: str
    ) -> None:
        http.post(
            f"{bc.admin}/companies", json={"tenant": "other-tenant", "environment": "production"}
        )
        response = http.get(
            f"{bc.api_base('other-tenant')}/companies",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401

    def test_tenantless_url_takes_the_tenant_from_the_token(
        self, bc: EmulatorServer, http: requests.Session, token: str, kit: Any
    ) -> None:
        http.post(f"{bc.admin}/companies", json={"tenant": kit.tenant})
        response = http.get(
            f"{bc.base_url}/v2.0/{kit.env}/api/v2.0/companies",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200
        assert len(response.json()["value"]) == 1
