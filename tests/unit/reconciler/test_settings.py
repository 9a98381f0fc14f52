"""Reconciler settings: the claim lease must outlast any gateway call."""

from __future__ import annotations

import pytest

from mlconnector.config import ConfigError
from reconciler.settings import Settings

BASE = {
    "MLC_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/%2F",
    "MLC_MASTER_KEY": "unit-test-master-key",
}


def test_the_defaults_give_a_lease_longer_than_the_gateway_timeout() -> None:
    settings = Settings.from_env(BASE)
    assert (settings.gateway_timeout_s, settings.claim_lease_s) == (60.0, 120.0)


def test_a_lease_that_could_run_out_during_a_call_is_refused() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({**BASE, "MLC_GATEWAY_TIMEOUT": "30", "MLC_CLAIM_LEASE": "30"})
    assert "MLC_CLAIM_LEASE (30 s) must be longer than MLC_GATEWAY_TIMEOUT (30 s)" in str(
        raised.value
    )


def test_a_shorter_timeout_allows_a_shorter_lease() -> None:
    settings = Settings.from_env({**BASE, "MLC_GATEWAY_TIMEOUT": "4", "MLC_CLAIM_LEASE": "8"})
    assert settings.claim_lease_s == 8.0
