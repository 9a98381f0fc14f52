"""EncryptedFileSecrets: round trips, merge semantics, wrong key and tampering, file hygiene."""

from __future__ import annotations

import base64
import json
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlconnector.redaction import MASK
from mlconnector.redaction import forget_registered_secrets
from mlconnector.redaction import redact
from mlconnector.secrets import SecretDecryptionError
from mlconnector.secrets import SecretNotFound
from mlconnector.secrets_file import EncryptedFileSecrets

MASTER_KEY = "correct horse battery staple"
OTHER_KEY = "incorrect donkey battery clip"
STRIPE_KEY = "sk_test_51HxYzAbCdEfGhIjKlMnOpQr"


@pytest.fixture
def secrets_file(tmp_path: Path) -> Path:
    return tmp_path / "var" / "secrets.enc"


@pytest.fixture
def store(secrets_file: Path) -> EncryptedFileSecrets:
    return EncryptedFileSecrets(secrets_file, MASTER_KEY)


def _document(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def _flip_b64(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[0] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


class TestRoundTrip:
    def test_values_written_are_read_back_by_a_fresh_instance(
        self, store: EncryptedFileSecrets, secrets_file: Path
    ) -> None:
        store.write("ml-connector/stripe", {"api_key": STRIPE_KEY, "webhook_secret": "whsec_abc"})

        reopened = EncryptedFileSecrets(secrets_file, MASTER_KEY)

        assert reopened.read("ml-connector/stripe") == {
            "api_key": STRIPE_KEY,
            "webhook_secret": "whsec_abc",
        }

    def test_write_merges_keys_and_overwrites_those_given(
        self, store: EncryptedFileSecrets
    ) -> None:
        store.write("ml-connector/bc", {"client_id": "id-1", "client_secret": "secret-1"})
        store.write("ml-connector/bc", {"client_secret": "secret-2", "tenant_id": "tenant"})

        assert store.read("ml-connector/bc") == {
            "client_id": "id-1",
            "client_secret": "secret-2",
            "tenant_id": "tenant",
        }

    def test_replace_drops_keys_not_given(self, store: EncryptedFileSecrets) -> None:
        store.write("ml-connector/bc", {"client_id": "id-1", "client_secret": "secret-1"})
        store.write("ml-connector/bc", {"client_id": "id-2"}, replace=True)

        assert store.read("ml-connector/bc") == {"client_id": "id-2"}

    def test_paths_are_independent_and_listed_sorted(self, store: EncryptedFileSecrets) -> None:
        store.write("ml-connector/stripe", {"api_key": STRIPE_KEY})
        store.write("ml-connector/bc", {"client_secret": "bc-secret-value"})

        assert store.list_paths() == ["ml-connector/bc", "ml-connector/stripe"]
        assert store.read("ml-connector/bc") == {"client_secret": "bc-secret-value"}

    def test_missing_file_is_an_empty_store_and_is_not_created_by_reads(
        self, store: EncryptedFileSecrets, secrets_file: Path
    ) -> None:
        with pytest.raises(SecretNotFound, match="ml-connector/stripe"):
            store.read("ml-connector/stripe")
        assert store.list_paths() == []
        store.check()
        assert not secrets_file.exists()

    def test_missing_path_in_existing_file_is_not_found(self, store: EncryptedFileSecrets) -> None:
        store.write("ml-connector/bc", {"client_secret": "bc-secret-value"})

        with pytest.raises(SecretNotFound):
            store.read("ml-connector/stripe")


class TestFileHygiene:
    def test_file_and_directory_are_created_private(
        self, store: EncryptedFileSecrets, secrets_file: Path
    ) -> None:
        store.write("ml-connector/stripe", {"api_key": STRIPE_KEY})
        store.write("ml-connector/stripe", {"api_key": STRIPE_KEY + "x"})

        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(secrets_file.parent.stat().st_mode) == 0o700
        leftovers = [p.name for p in secrets_file.parent.iterdir()]
        assert sorted(leftovers) == ["secrets.enc", "secrets.enc.lock"]

    def test_file_holds_neither_values_nor_key_names_in_clear(
        self, store: EncryptedFileSecrets, secrets_file: Path
    ) -> None:
        store.write("ml-connector/stripe", {"api_key": STRIPE_KEY})

        raw = secrets_file.read_text()
        assert STRIPE_KEY not in raw
        assert "api_key" not in raw
        assert MASTER_KEY not in raw
        doc = _document(secrets_file)
        assert doc["format"] == "mlc-secrets"
        assert doc["version"] == 1
        assert doc["kdf"]["name"] == "scrypt"

    def test_every_write_uses_a_fresh_nonce(
        self, store: EncryptedFileSecrets, secrets_file: Path
    ) -> None:
        store.write("ml-connector/stripe", {"api_key": STRIPE_KEY})
        first = _document(secrets_file)
        store.write("ml-connector/stripe", {"api_key": STRIPE_KEY})
        second = _document(secrets_file)

        assert first["nonce"] != second["nonce"]
        assert first["ciphertext"] != second["ciphertext"]

    def test_concurrent_writers_lose_no_keys(self, secrets_file: Path) -> None:
        # Two instances stand for two processes (a service and the operator command).
        stores = [EncryptedFileSecrets(secrets_file, MASTER_KEY) for _ in range(2)]
        threads = [
            threading.Thread(
                target=stores[i % 2].write, args=("ml-connector/bc", {f"key_{i}": f"value-{i}"})
            )
            for i in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert stores[0].read("ml-connector/bc") == {f"key_{i}": f"value-{i}" for i in range(8)}


def _tamper_ciphertext(doc: dict[str, Any]) -> None:
    doc["ciphertext"] = _flip_b64(doc["ciphertext"])


def _tamper_nonce(doc: dict[str, Any]) -> None:
    doc["nonce"] = _flip_b64(doc["nonce"])


def _tamper_salt(doc: dict[str, Any]) -> None:
    doc["kdf"]["salt"] = _flip_b64(doc["kdf"]["salt"])


def _tamper_kdf_cost(doc: dict[str, Any]) -> None:
    doc["kdf"]["n"] = 2**15


def _tamper_version(doc: dict[str, Any]) -> None:
    doc["version"] = 2


def _add_header_field(doc: dict[str, Any]) -> None:
    doc["comment"] = "harmless-looking"


def _truncate_ciphertext(doc: dict[str, Any]) -> None:
    doc["ciphertext"] = base64.b64encode(base64.b64decode(doc["ciphertext"])[:-1]).decode()


def _drop_nonce(doc: dict[str, Any]) -> None:
    del doc["nonce"]


class TestWrongKeyAndTampering:
    def test_wrong_master_key_is_a_clear_error_without_keys_in_it(
        self, store: EncryptedFileSecrets, secrets_file: Path
    ) -> None:
        store.write("ml-connector/stripe", {"api_key": STRIPE_KEY})
        intruder = EncryptedFileSecrets(secrets_file, OTHER_KEY)

        with pytest.raises(SecretDecryptionError) as caught:
            intruder.read("ml-connector/stripe")

        message = str(caught.value)
        assert message == (
            f"cannot decrypt {secrets_file}: wrong master key or the file was modified"
        )
        assert caught.value.__cause__ is None
        for secret in (MASTER_KEY, OTHER_KEY, STRIPE_KEY):
            assert secret not in message

    def test_wrong_master_key_fails_check_list_and_write_without_touching_the_file(
        self, store: EncryptedFileSecrets, secrets_file: Path
    ) -> None:
        store.write("ml-connector/stripe", {"api_key": STRIPE_KEY})
        before = secrets_file.read_bytes()
        intruder = EncryptedFileSecrets(secrets_file, OTHER_KEY)

        with pytest.raises(SecretDecryptionError):
            intruder.check()
        with pytest.raises(SecretDecryptionError):
            intruder.list_paths()
        with pytest.raises(SecretDecryptionError):
            intruder.write("ml-connector/stripe", {"api_key": "sk_test_replaced_by_intruder"})

        assert secrets_file.read_bytes() == before
        assert store.read("ml-connector/stripe") == {"api_key": STRIPE_KEY}

    @pytest.mark.parametrize(
        "tamper",
        [
            _tamper_ciphertext,
            _tamper_nonce,
            _tamper_salt,
            _tamper_kdf_cost,
            _tamper_version,
            _add_header_field,
            _truncate_ciphertext,
            _drop_nonce,
        ],
    )
    def test_any_modification_is_rejected(
        self,
        store: EncryptedFileSecrets,
        secrets_file: Path,
        tamper: Callable[[dict[str, Any]], None],
    ) -> None:
        store.write("ml-connector/stripe", {"api_key": STRIPE_KEY})
        doc = _document(secrets_file)
        tamper(doc)
        secrets_file.write_text(json.dumps(doc))

        with pytest.raises(SecretDecryptionError, match=r"^cannot decrypt .*secrets\.enc: "):
            EncryptedFileSecrets(secrets_file, MASTER_KEY).read("ml-connector/stripe")

    @pytest.mark.parametrize("content", [b"", b"not json", b"[]", b'{"format": "other"}'])
    def test_a_file_that_is_not_ours_is_rejected(self, secrets_file: Path, content: bytes) -> None:
        secrets_file.parent.mkdir(parents=True)
        secrets_file.write_bytes(content)

        with pytest.raises(SecretDecryptionError, match="not a valid mlc-secrets file"):
            EncryptedFileSecrets(secrets_file, MASTER_KEY).read("ml-connector/stripe")


class TestRedaction:
    def test_values_read_are_registered_for_redaction(
        self, store: EncryptedFileSecrets, secrets_file: Path
    ) -> None:
        client_secret = "bc-Client~Secret.0123"  # matches no redaction pattern by shape
        store.write("ml-connector/bc", {"client_secret": client_secret})
        forget_registered_secrets()
        assert client_secret in redact(f"calling with {client_secret}")

        EncryptedFileSecrets(secrets_file, MASTER_KEY).read("ml-connector/bc")

        assert redact(f"calling with {client_secret}") == f"calling with {MASK}"

    def test_values_written_and_the_master_key_are_registered(self, secrets_file: Path) -> None:
        forget_registered_secrets()
        store = EncryptedFileSecrets(secrets_file, MASTER_KEY)
        store.write("ml-connector/bc", {"tenant_secret": "Tenant~Value.42"})

        assert MASTER_KEY not in redact(f"key is {MASTER_KEY}")
        assert "Tenant~Value.42" not in redact("value Tenant~Value.42 leaked")


class TestValidation:
    @pytest.mark.parametrize(
        "path", ["", "/ml-connector/bc", "ml-connector/", "a//b", "../etc", "a/../b", "a b"]
    )
    def test_invalid_paths_are_refused(self, store: EncryptedFileSecrets, path: str) -> None:
        with pytest.raises(ValueError, match="invalid secret path"):
            store.read(path)
        with pytest.raises(ValueError, match="invalid secret path"):
            store.write(path, {"k": "v"})

    def test_invalid_keys_and_values_are_refused_without_echoing_values(
        self, store: EncryptedFileSecrets, secrets_file: Path
    ) -> None:
        with pytest.raises(ValueError, match="invalid secret key"):
            store.write("ml-connector/bc", {"bad key": "value-that-is-secret"})
        with pytest.raises(ValueError, match="must be a string") as caught:
            store.write("ml-connector/bc", {"port": 5432})  # type: ignore[dict-item]
        assert "5432" not in str(caught.value)
        assert not secrets_file.exists()

    def test_empty_master_key_is_refused(self, secrets_file: Path) -> None:
        with pytest.raises(ValueError, match="master key"):
            EncryptedFileSecrets(secrets_file, "")

    def test_repr_shows_the_file_not_the_key(self, store: EncryptedFileSecrets) -> None:
        assert MASTER_KEY not in repr(store)
        assert "secrets.enc" in repr(store)
