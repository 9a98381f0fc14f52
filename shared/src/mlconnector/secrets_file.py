"""Secrets in one encrypted file, for a single machine without Vault.

The file is JSON: a header (format, version, scrypt parameters with their salt), a nonce and the
AES-256-GCM ciphertext of ``{"secrets": {path: {key: value}}}``. The key is derived from the master
key (``MLC_MASTER_KEY``, a passphrase is fine) with scrypt, so a copied file is only as weak as the
passphrase. The whole header is bound to the ciphertext as associated data, so a wrong master key
and any modification of the file (ciphertext, nonce, salt, header) fail the same way: with
``SecretDecryptionError``, never with garbage values. Every write uses a fresh nonce and replaces
the file atomically (temporary file in the same directory, fsync, ``os.replace``) with mode 0600;
a cross-process lock keeps the operator command and a running service from losing each other's
writes.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from mlconnector.redaction import register_secret
from mlconnector.redaction import register_secrets
from mlconnector.secrets import SecretDecryptionError
from mlconnector.secrets import SecretNotFound
from mlconnector.secrets import SecretStoreError
from mlconnector.secrets import validate_path
from mlconnector.secrets import validate_values

FORMAT = "mlc-secrets"
VERSION = 1
_KEY_BYTES = 32  # AES-256
_NONCE_BYTES = 12  # the GCM standard nonce; random nonces are safe far beyond our write count
_SALT_BYTES = 16
_ENVELOPE_FIELDS = ("nonce", "ciphertext")


@dataclass(frozen=True)
class _Kdf:
    """scrypt parameters as stored in the file header."""

    salt: bytes
    n: int = 2**14
    r: int = 8
    p: int = 1

    def to_header(self) -> dict[str, object]:
        salt = base64.b64encode(self.salt).decode("ascii")
        return {"name": "scrypt", "salt": salt, "n": self.n, "r": self.r, "p": self.p}

    @classmethod
    def from_header(cls, raw: object) -> _Kdf:
        if not isinstance(raw, dict) or raw.get("name") != "scrypt":
            raise ValueError("unknown key derivation")
        n, r, p = (raw.get(name) for name in ("n", "r", "p"))
        # Bounds stop a doctored header from making us allocate gigabytes or spin for minutes.
        if not (_is_int(n) and 2**14 <= n <= 2**20 and n & (n - 1) == 0):
            raise ValueError("scrypt n out of range")
        if not (_is_int(r) and 1 <= r <= 16 and _is_int(p) and 1 <= p <= 4):
            raise ValueError("scrypt r or p out of range")
        salt = _b64(raw.get("salt"), "salt")
        if len(salt) < _SALT_BYTES:
            raise ValueError("salt too short")
        return cls(salt=salt, n=n, r=r, p=p)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _b64(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{name} is not base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError(f"{name} is not base64 text") from None


def _associated_data(header: Mapping[str, object]) -> bytes:
    """Canonical bytes of every header field, so no field can change undetected."""
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


class EncryptedFileSecrets:
    """``SecretStore`` over one AES-256-GCM file. A missing file is an empty store."""

    def __init__(self, path: str | os.PathLike[str], master_key: str) -> None:
        if not master_key:
            raise ValueError("the master key must not be empty")
        self._path = Path(path)
        self._master_key = master_key.encode("utf-8")
        register_secret(master_key)
        self._lock = threading.Lock()
        self._derived: dict[_Kdf, bytes] = {}

    def __repr__(self) -> str:
        return f"EncryptedFileSecrets({str(self._path)!r})"

    @property
    def path(self) -> Path:
        """The encrypted file."""
        return self._path

    def read(self, path: str) -> dict[str, str]:
        """Return the keys at ``path``; ``SecretNotFound`` if the path (or the file) is absent."""
        validate_path(path)
        with self._lock:
            secrets, _ = self._load()
        if path not in secrets:
            raise SecretNotFound(f"no secret at {path!r} in {self._path}")
        values = dict(secrets[path])
        register_secrets(values.values())
        return values

    def write(self, path: str, values: Mapping[str, str], *, replace: bool = False) -> None:
        """Merge ``values`` into ``path`` (or replace its keys); creates the file if needed."""
        validate_path(path)
        new_values = validate_values(values)
        register_secrets(new_values.values())
        with self._lock, self._exclusive():
            secrets, kdf = self._load()
            current = {} if replace else secrets.get(path, {})
            secrets[path] = {**current, **new_values}
            self._save(secrets, kdf or _Kdf(salt=os.urandom(_SALT_BYTES)))

    def list_paths(self) -> list[str]:
        """Every path in the file, sorted."""
        with self._lock:
            secrets, _ = self._load()
        return sorted(secrets)

    def check(self) -> None:
        """Decrypt the file (if present), proving the master key matches it."""
        with self._lock:
            self._load()

    def close(self) -> None:
        """Nothing to release: the file is opened per operation."""

    # -- internals ---------------------------------------------------------------------------

    def _load(self) -> tuple[dict[str, dict[str, str]], _Kdf | None]:
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return {}, None
        except OSError as exc:
            raise SecretStoreError(f"cannot read {self._path}: {exc.strerror}") from None
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise ValueError("not an mlc-secrets file")
            if doc.get("version") != VERSION:
                raise ValueError(f"unsupported version {doc.get('version')!r}")
            kdf = _Kdf.from_header(doc.get("kdf"))
            nonce = _b64(doc.get("nonce"), "nonce")
            ciphertext = _b64(doc.get("ciphertext"), "ciphertext")
            if len(nonce) != _NONCE_BYTES:
                raise ValueError("nonce has the wrong length")
        except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError included
            raise SecretDecryptionError(
                f"cannot decrypt {self._path}: not a valid {FORMAT} file ({exc})"
            ) from None
        header = {k: v for k, v in doc.items() if k not in _ENVELOPE_FIELDS}
        try:
            plaintext = AESGCM(self._key(kdf)).decrypt(nonce, ciphertext, _associated_data(header))
        except InvalidTag:
            raise SecretDecryptionError(
                f"cannot decrypt {self._path}: wrong master key or the file was modified"
            ) from None
        return _parse_plaintext(plaintext, self._path), kdf

    def _save(self, secrets: Mapping[str, Mapping[str, str]], kdf: _Kdf) -> None:
        header: dict[str, object] = {"format": FORMAT, "version": VERSION, "kdf": kdf.to_header()}
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = json.dumps({"secrets": secrets}, sort_keys=True).encode("utf-8")
        ciphertext = AESGCM(self._key(kdf)).encrypt(nonce, plaintext, _associated_data(header))
        doc = {
            **header,
            "nonce": base64.b64encode(nonce).decode("ascii"),
            "ciphertext": base64.b64encode(ciphertext).decode("ascii"),
        }
        data = (json.dumps(doc, indent=2) + "\n").encode("utf-8")
        directory = self._path.parent
        try:
            # mkstemp creates the file with mode 0600, so the secret never exists world-readable.
            fd, tmp_name = tempfile.mkstemp(prefix=f".{self._path.name}.", dir=directory)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chmod(tmp_name, 0o600)
                os.replace(tmp_name, self._path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp_name)
                raise
            _fsync_directory(directory)
        except OSError as exc:
            raise SecretStoreError(f"cannot write {self._path}: {exc.strerror}") from None

    def _key(self, kdf: _Kdf) -> bytes:
        # scrypt is deliberately slow (tens of ms); derive once per salt, not once per read.
        key = self._derived.get(kdf)
        if key is None:
            key = Scrypt(salt=kdf.salt, length=_KEY_BYTES, n=kdf.n, r=kdf.r, p=kdf.p).derive(
                self._master_key
            )
            self._derived[kdf] = key
        return key

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold an exclusive lock (beside the file) for a read-modify-write across processes."""
        lock_path = self._path.with_name(self._path.name + ".lock")
        try:
            self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise SecretStoreError(f"cannot lock {self._path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


def _parse_plaintext(plaintext: bytes, file: Path) -> dict[str, dict[str, str]]:
    # Authenticated, so only a bug in a writer could get here; still refuse odd shapes.
    doc = json.loads(plaintext)
    secrets = doc.get("secrets") if isinstance(doc, dict) else None
    if not isinstance(secrets, dict) or not all(
        isinstance(values, dict) and all(isinstance(v, str) for v in values.values())
        for values in secrets.values()
    ):
        raise SecretStoreError(f"{file} decrypted but its content has an unexpected shape")
    return {path: dict(values) for path, values in secrets.items()}


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (a crash right after ``os.replace`` could lose it)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
