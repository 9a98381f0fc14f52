"""The clientState check: every element, constant time, rotation, store failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from bc_gateway.client_state import ClientStates
from mlconnector.secrets import SecretStoreError
from mlconnector.secrets_file import EncryptedFileSecrets

PATH = "ml-connector/bc"


@pytest.fixture
def store(tmp_path: Path) -> EncryptedFileSecrets:
    secrets = EncryptedFileSecrets(tmp_path / "s.enc", "unit-test-master-key")
    secrets.write(PATH, {"client_state": "current-state-value"})
    return secrets


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_every_value_must_match(store: EncryptedFileSecrets) -> None:
    states = ClientStates(store, PATH)
    assert states.all_match(["current-state-value", "current-state-value"])
    assert not states.all_match(["current-state-value", "wrong"])
    assert not states.all_match(["current-state-value", None])
    assert not states.all_match([""])
    assert not states.all_match([42])


def test_the_previous_value_is_accepted_during_a_rotation(store: EncryptedFileSecrets) -> None:
    store.write(PATH, {"client_state": "new-value-123", "client_state_previous": "old-value-123"})
    states = ClientStates(store, PATH)
    assert states.current() == "new-value-123"
    assert states.all_match(["new-value-123", "old-value-123"])
    assert not states.all_match(["older-value-1"])


def test_the_value_is_cached_for_the_ttl(store: EncryptedFileSecrets) -> None:
    clock = Clock()
    states = ClientStates(store, PATH, ttl_s=60, clock=clock)
    assert states.current() == "current-state-value"
    store.write(PATH, {"client_state": "rotated-value-1"})
    clock.now = 59
    assert states.current() == "current-state-value"
    clock.now = 61
    assert states.current() == "rotated-value-1"


def test_a_missing_client_state_is_a_store_error(store: EncryptedFileSecrets) -> None:
    store.write(PATH, {"client_id": "x"}, replace=True)
    with pytest.raises(SecretStoreError, match="client_state"):
        ClientStates(store, PATH).current()
