"""The cached, rotating view of the webhook secrets, with a fake ``SecretStore``."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from mlconnector.redaction import redact
from mlconnector.secrets import SecretNotFound
from mlconnector.secrets import SecretStoreUnavailable
from stripe_gateway.webhook_secrets import SecretsUnavailable
from stripe_gateway.webhook_secrets import WebhookSecrets
from stripe_gateway.webhook_secrets import active_secrets

PATH = "ml-connector/stripe"


class FakeStore:
    """An in-memory SecretStore that can be made to fail; counts reads."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = dict(values)
        self.down = False
        self.reads = 0

    def read(self, path: str) -> dict[str, str]:
        self.reads += 1
        if self.down:
            raise SecretStoreUnavailable("vault sealed")
        if path != PATH:
            raise SecretNotFound(path)
        return dict(self.values)

    def write(self, path: str, values: Mapping[str, str], *, replace: bool = False) -> None:
        self.values.update(values)

    def list_paths(self) -> list[str]:
        return [PATH]

    def check(self) -> None:
        return None

    def close(self) -> None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_active_secrets_current_first_then_previous_split_on_commas_without_duplicates() -> None:
    values = {"webhook_secret": "whsec_b, whsec_c", "webhook_secret_previous": "whsec_a,whsec_b"}
    assert active_secrets(values) == ("whsec_b", "whsec_c", "whsec_a")
    assert active_secrets({"webhook_secret": " , "}) == ()


def test_values_are_cached_for_the_ttl_then_re_read() -> None:
    store, clock = FakeStore({"webhook_secret": "whsec_one_value"}), Clock()
    secrets = WebhookSecrets(store, PATH, ttl_s=30, clock=clock)
    assert secrets.current() == ("whsec_one_value",)
    clock.now += 10
    store.values["webhook_secret"] = "whsec_two_value"
    assert secrets.current() == ("whsec_one_value",)
    clock.now += 30
    assert secrets.current() == ("whsec_two_value",)
    assert store.reads == 2


def test_initial_values_serve_without_a_read() -> None:
    store, clock = FakeStore({}), Clock()
    secrets = WebhookSecrets(store, PATH, initial={"webhook_secret": "whsec_x"}, clock=clock)
    assert secrets.current() == ("whsec_x",)
    assert store.reads == 0


def test_a_failed_refresh_serves_stale_values_until_max_stale_then_raises() -> None:
    store, clock = FakeStore({"webhook_secret": "whsec_abc"}), Clock()
    secrets = WebhookSecrets(store, PATH, ttl_s=10, max_stale_s=60, clock=clock)
    secrets.current()
    store.down = True
    clock.now += 30
    assert secrets.current() == ("whsec_abc",)
    clock.now += 31
    with pytest.raises(SecretsUnavailable):
        secrets.current()


def test_no_secret_at_all_is_unavailable() -> None:
    secrets = WebhookSecrets(FakeStore({"api_key": "sk_test_x"}), PATH, clock=Clock())
    with pytest.raises(SecretsUnavailable, match="webhook_secret"):
        secrets.current()


def test_refresh_after_failure_is_rate_limited_and_reports_only_changes() -> None:
    store, clock = FakeStore({"webhook_secret": "whsec_old"}), Clock()
    secrets = WebhookSecrets(store, PATH, min_refresh_s=5, initial=store.values, clock=clock)
    assert secrets.refresh_after_failure() is None  # read, but nothing changed
    store.values["webhook_secret"] = "whsec_new"
    assert secrets.refresh_after_failure() is None  # too soon: not even read
    assert store.reads == 1
    clock.now += 5
    assert secrets.refresh_after_failure() == ("whsec_new",)


def test_values_read_are_registered_for_redaction() -> None:
    store = FakeStore({"webhook_secret": "whsec_RegisteredValue42", "api_key": "opaque-key-123456"})
    WebhookSecrets(store, PATH, clock=Clock()).current()
    assert "opaque-key-123456" not in redact("the key is opaque-key-123456")
