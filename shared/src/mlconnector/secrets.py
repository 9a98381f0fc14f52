"""The secret-store port: one interface, two backends, chosen by configuration.

Services read their credentials (``ml-connector/stripe``, ``ml-connector/bc``,
``ml-connector/reconciler``) through ``SecretStore`` in their bootstrap, never at import. Production
uses Vault KV v2 (``mlconnector.secrets_vault.VaultSecrets``); a single machine uses an encrypted
file (``mlconnector.secrets_file.EncryptedFileSecrets``). Both raise the same small family of
errors, so a service maps "store down" to 503 and "not found" to a start-up failure without knowing
which backend it talks to. Error messages never carry secret values, tokens or the master key, and
every value that passes through a store is registered with ``mlconnector.redaction``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Protocol
from typing import TypeVar

from mlconnector.config import EnvReader

DEFAULT_SECRETS_FILE = "var/secrets.enc"
DEFAULT_K8S_JWT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"
DEFAULT_VAULT_MOUNT = "secret"
DEFAULT_VAULT_TIMEOUT_SECONDS = 5
# A passphrase shorter than this is too easy to guess offline once the file is copied.
MIN_MASTER_KEY_LENGTH = 12

E = TypeVar("E", bound=enum.StrEnum)

_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
_PATH_RE = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
_KEY_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class SecretStoreError(RuntimeError):
    """Base of every secret-store failure; the message is safe to log and show."""


class SecretNotFound(SecretStoreError):
    """The path holds no secret (never written, or its latest version was deleted)."""


class SecretStoreUnavailable(SecretStoreError):
    """Transient: network failure, timeout, sealed or overloaded Vault. Services answer 503."""


class SecretAccessDenied(SecretStoreError):
    """The store refused our credentials: bad or expired token, rejected login, missing policy."""


class SecretDecryptionError(SecretStoreError):
    """The encrypted file cannot be opened: wrong master key, or the file was modified."""


class SecretStore(Protocol):
    """Where credentials live. Paths look like ``ml-connector/stripe``; values are strings."""

    def read(self, path: str) -> dict[str, str]:
        """Return every key at ``path``; raise ``SecretNotFound`` when there is none."""
        ...

    def write(self, path: str, values: Mapping[str, str], *, replace: bool = False) -> None:
        """Set ``values`` at ``path``, keeping other keys (or dropping them with ``replace``)."""
        ...

    def list_paths(self) -> list[str]:
        """Return the known secret paths, sorted (values are not read)."""
        ...

    def check(self) -> None:
        """Raise quickly if the store cannot serve reads now (for readiness probes)."""
        ...

    def close(self) -> None:
        """Release connections; safe to call more than once."""
        ...


def validate_path(path: str) -> str:
    """Return ``path`` if it is a relative slash-separated name such as ``ml-connector/bc``."""
    if not isinstance(path, str) or not _PATH_RE.fullmatch(path):
        raise ValueError(
            f"invalid secret path {path!r}: use slash-separated names of letters, digits, "
            "'_', '-', '.' (for example ml-connector/stripe)"
        )
    return path


def validate_values(values: Mapping[str, str]) -> dict[str, str]:
    """Return a plain copy of ``values`` after checking every key is a name and every value a str.

    The error names the offending key, never a value.
    """
    checked: dict[str, str] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
            raise ValueError(
                f"invalid secret key {key!r}: use letters, digits, '_', '-', '.' (for example "
                "api_key)"
            )
        if not isinstance(value, str):
            raise ValueError(f"value of secret key {key!r} must be a string")
        checked[key] = value
    return checked


class SecretsBackend(enum.StrEnum):
    """Which ``SecretStore`` implementation a process uses."""

    FILE = "file"
    VAULT = "vault"


class VaultAuthMethod(enum.StrEnum):
    """How ``VaultSecrets`` obtains its Vault token."""

    TOKEN = "token"  # noqa: S105 - the name of an auth method, not a credential
    KUBERNETES = "kubernetes"


def _choice(enum_type: type[E]) -> Callable[[str], E]:
    allowed = ", ".join(member.value for member in enum_type)

    def coerce(raw: str) -> E:
        try:
            return enum_type(raw.strip().lower())
        except ValueError:
            raise ValueError(f"expected one of: {allowed}") from None

    return coerce


@dataclass(frozen=True)
class SecretsSettings:
    """Where the secrets live, from ``MLC_SECRETS_*``, ``MLC_MASTER_KEY`` and ``MLC_VAULT_*``."""

    backend: SecretsBackend = SecretsBackend.FILE
    file_path: Path = Path(DEFAULT_SECRETS_FILE)
    master_key: str | None = field(default=None, repr=False)
    vault_addr: str | None = None
    vault_auth: VaultAuthMethod = VaultAuthMethod.TOKEN
    vault_token: str | None = field(default=None, repr=False)
    vault_role: str | None = None
    vault_mount: str = DEFAULT_VAULT_MOUNT
    vault_k8s_jwt_path: Path = Path(DEFAULT_K8S_JWT_PATH)
    vault_cacert: Path | None = None
    vault_timeout: int = DEFAULT_VAULT_TIMEOUT_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SecretsSettings:
        """Read the settings; raise one ``ConfigError`` listing every problem."""
        env = EnvReader(environ)
        settings = cls.from_reader(env)
        env.finish()
        return settings

    @classmethod
    def from_reader(cls, env: EnvReader) -> SecretsSettings:
        """Read the settings into ``env``'s problem list, so a service reports them with its own."""
        backend = env("SECRETS_BACKEND", _choice(SecretsBackend), SecretsBackend.FILE)
        vault_auth = env("VAULT_AUTH", _choice(VaultAuthMethod), VaultAuthMethod.TOKEN)
        settings = cls(
            backend=backend,
            file_path=env("SECRETS_FILE", Path, Path(DEFAULT_SECRETS_FILE)),
            master_key=env.optional("MASTER_KEY", str),
            vault_addr=env.optional("VAULT_ADDR", _vault_addr),
            vault_auth=vault_auth,
            vault_token=env.optional("VAULT_TOKEN", str),
            vault_role=env.optional("VAULT_ROLE", str),
            vault_mount=env("VAULT_MOUNT", default=DEFAULT_VAULT_MOUNT),
            vault_k8s_jwt_path=env("VAULT_K8S_JWT_PATH", Path, Path(DEFAULT_K8S_JWT_PATH)),
            vault_cacert=env.optional("VAULT_CACERT", Path),
            vault_timeout=env("VAULT_TIMEOUT", _positive_int, DEFAULT_VAULT_TIMEOUT_SECONDS),
        )
        # A variable already reported as invalid is not reported again as missing, and an
        # invalid backend or auth choice hides requirements that only its default would have.
        reported = {problem.split("=")[0].split()[0] for problem in env.problems}
        env.problems.extend(
            problem
            for problem in settings._backend_problems(reported)
            if problem.split("=")[0].split()[0] not in reported
        )
        return settings

    def _backend_problems(self, reported: set[str]) -> list[str]:
        problems: list[str] = []
        if "MLC_SECRETS_BACKEND" in reported:
            return problems
        if self.backend is SecretsBackend.FILE:
            if not self.master_key:
                problems.append("MLC_MASTER_KEY is required when MLC_SECRETS_BACKEND=file")
            elif len(self.master_key) < MIN_MASTER_KEY_LENGTH:
                problems.append(
                    f"MLC_MASTER_KEY=(value hidden) is invalid: use at least "
                    f"{MIN_MASTER_KEY_LENGTH} characters"
                )
            return problems
        if not self.vault_addr:
            problems.append("MLC_VAULT_ADDR is required when MLC_SECRETS_BACKEND=vault")
        if "MLC_VAULT_AUTH" in reported:
            return problems
        if self.vault_auth is VaultAuthMethod.TOKEN and not self.vault_token:
            problems.append("MLC_VAULT_TOKEN is required when MLC_VAULT_AUTH=token")
        if self.vault_auth is VaultAuthMethod.KUBERNETES and not self.vault_role:
            problems.append("MLC_VAULT_ROLE is required when MLC_VAULT_AUTH=kubernetes")
        return problems


def _vault_addr(raw: str) -> str:
    addr = raw.strip().rstrip("/")
    if not addr.startswith(("http://", "https://")) or "@" in addr:
        # No credentials in the URL: they would end up in every log line naming the address.
        raise ValueError("expected http(s)://host:port without credentials")
    return addr


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("expected a positive number of seconds")
    return value


def build_secret_store(settings: SecretsSettings) -> SecretStore:
    """Build the configured backend. Nothing touches the network or the file until first use."""
    # Imported here: a file-backed process never imports hvac, and the backends import this module.
    if settings.backend is SecretsBackend.FILE:
        from mlconnector.secrets_file import EncryptedFileSecrets

        if not settings.master_key:
            raise ValueError("the file backend needs a master key (MLC_MASTER_KEY)")
        return EncryptedFileSecrets(settings.file_path, settings.master_key)

    from mlconnector.secrets_vault import KubernetesAuth
    from mlconnector.secrets_vault import TokenAuth
    from mlconnector.secrets_vault import VaultSecrets

    if not settings.vault_addr:
        raise ValueError("the vault backend needs an address (MLC_VAULT_ADDR)")
    auth: TokenAuth | KubernetesAuth
    if settings.vault_auth is VaultAuthMethod.KUBERNETES:
        if not settings.vault_role:
            raise ValueError("Kubernetes auth needs a role (MLC_VAULT_ROLE)")
        auth = KubernetesAuth(role=settings.vault_role, jwt_path=settings.vault_k8s_jwt_path)
    else:
        if not settings.vault_token:
            raise ValueError("token auth needs a token (MLC_VAULT_TOKEN)")
        auth = TokenAuth(settings.vault_token)
    verify: bool | str = str(settings.vault_cacert) if settings.vault_cacert else True
    return VaultSecrets(
        settings.vault_addr,
        auth=auth,
        mount=settings.vault_mount,
        verify=verify,
        timeout=settings.vault_timeout,
    )
