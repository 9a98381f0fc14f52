"""VaultSecrets against a real OpenBao dev server: KV v2, token and Kubernetes-style logins."""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import hvac
import pytest

from mlconnector.redaction import MASK
from mlconnector.redaction import forget_registered_secrets
from mlconnector.redaction import redact
from mlconnector.secrets import SecretAccessDenied
from mlconnector.secrets import SecretNotFound
from mlconnector.secrets import SecretsSettings
from mlconnector.secrets import SecretStoreError
from mlconnector.secrets import SecretStoreUnavailable
from mlconnector.secrets import build_secret_store
from mlconnector.secrets_cli import main
from mlconnector.secrets_vault import KubernetesAuth
from mlconnector.secrets_vault import TokenAuth
from mlconnector.secrets_vault import VaultSecrets

if TYPE_CHECKING:  # conftest is not importable at run time under --import-mode=importlib
    from .conftest import BaoServer
    from .conftest import K8sMount

pytestmark = pytest.mark.vault


def _everything_said(exc: BaseException) -> str:
    """The message, the chained causes and the traceback: all a log could ever show."""
    return "".join(traceback.format_exception(exc))


@pytest.fixture
def store(bao_server: BaoServer, app_token: str) -> Iterator[VaultSecrets]:
    vault = VaultSecrets(bao_server.addr, auth=TokenAuth(app_token), timeout=2)
    yield vault
    vault.close()


@pytest.fixture
def jwt_file(tmp_path: Path, k8s_standin: K8sMount) -> Path:
    path = tmp_path / "token"
    path.write_text(k8s_standin.issuer.mint() + "\n")
    return path


@pytest.fixture
def k8s_store(
    bao_server: BaoServer, k8s_standin: K8sMount, jwt_file: Path
) -> Iterator[VaultSecrets]:
    auth = KubernetesAuth(role=k8s_standin.role, jwt_path=jwt_file, mount=k8s_standin.mount)
    vault = VaultSecrets(bao_server.addr, auth=auth, timeout=2)
    yield vault
    vault.close()


class TestTokenAuth:
    def test_written_secret_is_read_back(self, store: VaultSecrets, secret_path: str) -> None:
        store.write(secret_path, {"api_key": "sk_test_abcdefghijklmnop", "account": "acct_1"})

        assert store.read(secret_path) == {
            "api_key": "sk_test_abcdefghijklmnop",
            "account": "acct_1",
        }

    def test_values_read_are_registered_for_redaction(
        self, store: VaultSecrets, root_client: hvac.Client, secret_path: str
    ) -> None:
        root_client.secrets.kv.v2.create_or_update_secret(
            path=secret_path, secret={"client_secret": "Bc~Client.Secret-77"}
        )
        forget_registered_secrets()

        store.read(secret_path)

        assert redact("sent Bc~Client.Secret-77") == f"sent {MASK}"

    def test_missing_path_is_not_found(self, store: VaultSecrets, secret_path: str) -> None:
        with pytest.raises(SecretNotFound, match=secret_path):
            store.read(secret_path)

    def test_write_merges_keys_and_replace_drops_the_rest(
        self, store: VaultSecrets, secret_path: str
    ) -> None:
        store.write(secret_path, {"client_id": "abc", "client_secret": "one"})
        store.write(secret_path, {"client_secret": "two", "tenant_id": "t-1"})
        assert store.read(secret_path) == {
            "client_id": "abc",
            "client_secret": "two",
            "tenant_id": "t-1",
        }

        store.write(secret_path, {"client_secret": "three"}, replace=True)
        assert store.read(secret_path) == {"client_secret": "three"}

    def test_deleted_latest_version_is_not_found_and_can_be_written_again(
        self, store: VaultSecrets, root_client: hvac.Client, secret_path: str
    ) -> None:
        store.write(secret_path, {"api_key": "old-value-1"})
        root_client.secrets.kv.v2.delete_latest_version_of_secret(path=secret_path)

        with pytest.raises(SecretNotFound):
            store.read(secret_path)
        store.write(secret_path, {"api_key": "new-value-2"})
        assert store.read(secret_path) == {"api_key": "new-value-2"}

    def test_list_paths_finds_nested_paths_under_the_prefix(
        self, store: VaultSecrets, secret_path: str
    ) -> None:
        store.write(secret_path, {"k": "v"})
        store.write(f"{secret_path}/nested/deeper", {"k": "v"})

        paths = store.list_paths()

        assert {secret_path, f"{secret_path}/nested/deeper"} <= set(paths)
        assert paths == sorted(paths)
        assert all(path.startswith("ml-connector/") for path in paths)

    def test_non_string_values_are_refused_naming_the_key_only(
        self, store: VaultSecrets, root_client: hvac.Client, secret_path: str
    ) -> None:
        root_client.secrets.kv.v2.create_or_update_secret(
            path=secret_path, secret={"port": 5432, "name": "x"}
        )

        with pytest.raises(SecretStoreError, match=r"\['port'\] hold non-string values"):
            store.read(secret_path)

    def test_check_passes_on_a_healthy_server(self, store: VaultSecrets) -> None:
        store.check()

    def test_path_outside_the_policy_is_access_denied(self, store: VaultSecrets) -> None:
        with pytest.raises(SecretAccessDenied, match="denied access"):
            store.read("other-app/credentials")

    def test_wrong_token_is_a_clear_error_that_does_not_contain_the_token(
        self, bao_server: BaoServer, secret_path: str
    ) -> None:
        wrong = f"not-a-token-{uuid.uuid4().hex}"
        vault = VaultSecrets(bao_server.addr, auth=TokenAuth(wrong), timeout=2)
        try:
            with pytest.raises(SecretAccessDenied) as caught:
                vault.read(secret_path)
            with pytest.raises(SecretAccessDenied):
                vault.check()
        finally:
            vault.close()

        assert "the token is invalid or expired" in str(caught.value)
        assert wrong not in _everything_said(caught.value)
        assert wrong not in repr(vault)

    def test_store_built_from_settings_reads_and_writes(
        self, bao_server: BaoServer, app_token: str, secret_path: str
    ) -> None:
        settings = SecretsSettings.from_env(
            {
                "MLC_SECRETS_BACKEND": "vault",
                "MLC_VAULT_ADDR": bao_server.addr,
                "MLC_VAULT_TOKEN": app_token,
            }
        )
        vault = build_secret_store(settings)
        try:
            vault.write(secret_path, {"api_key": "from-settings"})
            assert vault.read(secret_path) == {"api_key": "from-settings"}
        finally:
            vault.close()


class TestUnavailable:
    def test_unreachable_address_is_unavailable(
        self, closed_port: Callable[[], int], secret_path: str
    ) -> None:
        addr = f"http://127.0.0.1:{closed_port()}"
        vault = VaultSecrets(addr, auth=TokenAuth("hvs.any-token-at-all"), timeout=1)
        try:
            with pytest.raises(SecretStoreUnavailable, match=f"cannot reach Vault at {addr}"):
                vault.read(secret_path)
            with pytest.raises(SecretStoreUnavailable):
                vault.check()
        finally:
            vault.close()

    def test_sealed_server_is_unavailable_until_unsealed(
        self,
        store: VaultSecrets,
        root_client: hvac.Client,
        bao_server: BaoServer,
        secret_path: str,
    ) -> None:
        store.write(secret_path, {"api_key": "survives-sealing"})
        root_client.sys.seal()
        try:
            with pytest.raises(SecretStoreUnavailable, match="sealed"):
                store.check()
            with pytest.raises(SecretStoreUnavailable, match="sealed"):
                store.read(secret_path)
        finally:
            unsealed = root_client.sys.submit_unseal_key(bao_server.unseal_key)
            assert unsealed["sealed"] is False

        assert store.read(secret_path) == {"api_key": "survives-sealing"}


class TestKubernetesLogin:
    """``KubernetesAuth`` against the JWT stand-in mount (same login body as Kubernetes)."""

    def test_logs_in_lazily_and_reads(
        self, k8s_store: VaultSecrets, root_client: hvac.Client, secret_path: str
    ) -> None:
        root_client.secrets.kv.v2.create_or_update_secret(
            path=secret_path, secret={"api_key": "read-after-login"}
        )

        assert k8s_store.read(secret_path) == {"api_key": "read-after-login"}
        k8s_store.check()

    def test_revoked_token_leads_to_one_new_login(
        self,
        k8s_store: VaultSecrets,
        root_client: hvac.Client,
        k8s_standin: K8sMount,
        secret_path: str,
    ) -> None:
        k8s_store.write(secret_path, {"api_key": "before-revocation"})
        root_client.sys.revoke_prefix(f"auth/{k8s_standin.mount}/")

        assert k8s_store.read(secret_path) == {"api_key": "before-revocation"}

    def test_jwt_file_is_read_again_at_each_login(
        self,
        k8s_store: VaultSecrets,
        root_client: hvac.Client,
        k8s_standin: K8sMount,
        jwt_file: Path,
        untrusted_jwt: str,
        secret_path: str,
    ) -> None:
        k8s_store.write(secret_path, {"api_key": "v1"})
        # The kubelet rotates the file; here the new content is signed by an untrusted key, so
        # the next login can only fail if the file is really read again.
        jwt_file.write_text(untrusted_jwt)
        root_client.sys.revoke_prefix(f"auth/{k8s_standin.mount}/")

        with pytest.raises(SecretAccessDenied, match="rejected the Kubernetes login") as caught:
            k8s_store.read(secret_path)
        assert untrusted_jwt not in _everything_said(caught.value)

        jwt_file.write_text(k8s_standin.issuer.mint())
        assert k8s_store.read(secret_path) == {"api_key": "v1"}

    def test_token_is_replaced_before_its_ttl_runs_out(
        self,
        bao_server: BaoServer,
        root_client: hvac.Client,
        k8s_standin: K8sMount,
        jwt_file: Path,
        secret_path: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        root_client.write_data(
            f"auth/{k8s_standin.mount}/role/short-lived",
            data={
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_audiences": ["vault"],
                "token_policies": ["mlc-app"],
                "token_ttl": "1s",
            },
        )
        auth = KubernetesAuth(role="short-lived", jwt_path=jwt_file, mount=k8s_standin.mount)
        vault = VaultSecrets(bao_server.addr, auth=auth, timeout=2)
        try:
            vault.write(secret_path, {"api_key": "renewed"})
            time.sleep(1.1)  # past the token's TTL
            with caplog.at_level(logging.INFO, logger="mlconnector.secrets_vault"):
                assert vault.read(secret_path) == {"api_key": "renewed"}
        finally:
            vault.close()

        messages = [record.getMessage() for record in caplog.records]
        assert any(message.startswith("logged in to Vault") for message in messages)
        assert not any("refused our token" in message for message in messages)

    def test_missing_jwt_file_names_the_file(
        self, bao_server: BaoServer, k8s_standin: K8sMount, tmp_path: Path, secret_path: str
    ) -> None:
        missing = tmp_path / "no-such-token"
        auth = KubernetesAuth(role=k8s_standin.role, jwt_path=missing, mount=k8s_standin.mount)
        vault = VaultSecrets(bao_server.addr, auth=auth, timeout=2)
        try:
            with pytest.raises(SecretStoreError, match=f"service-account token {missing}"):
                vault.read(secret_path)
        finally:
            vault.close()


class TestRealKubernetesMethod:
    """The genuine Kubernetes method cannot reach a TokenReview API here: the failure is clear."""

    @pytest.mark.parametrize("role", ["stripe-gateway", "no-such-role"])
    def test_rejected_login_is_clear_and_does_not_leak_the_jwt(
        self,
        bao_server: BaoServer,
        fake_k8s: K8sMount,
        tmp_path: Path,
        secret_path: str,
        role: str,
    ) -> None:
        jwt = fake_k8s.issuer.mint()
        jwt_file = tmp_path / "token"
        jwt_file.write_text(jwt)
        auth = KubernetesAuth(role=role, jwt_path=jwt_file, mount=fake_k8s.mount)
        vault = VaultSecrets(bao_server.addr, auth=auth, timeout=2)
        try:
            with pytest.raises(SecretAccessDenied) as caught:
                vault.read(secret_path)
        finally:
            vault.close()

        message = str(caught.value)
        assert message.startswith(f"Vault at {bao_server.addr} rejected the Kubernetes login")
        assert f"role {role!r} at auth/kubernetes" in message
        assert jwt not in _everything_said(caught.value)
        assert jwt.split(".")[1] not in _everything_said(caught.value)


class TestCliWithVault:
    def test_set_show_list_through_vault(
        self,
        bao_server: BaoServer,
        app_token: str,
        secret_path: str,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        monkeypatch.setenv("MLC_SECRETS_BACKEND", "vault")
        monkeypatch.setenv("MLC_VAULT_ADDR", bao_server.addr)
        monkeypatch.setenv("MLC_VAULT_TOKEN", app_token)
        monkeypatch.delenv("MLC_VAULT_AUTH", raising=False)
        value = "sk_test_" + uuid.uuid4().hex

        assert main(["set", secret_path, f"api_key={value}"]) == 0
        assert main(["show", secret_path]) == 0
        assert main(["list"]) == 0

        out = capsys.readouterr().out
        assert f"  api_key  sk_t…({len(value)} chars)" in out
        assert f"\n{secret_path}\n" in out
        assert value not in out
        assert app_token not in out
