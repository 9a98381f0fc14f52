"""The composition root of bc-gateway: the only module that names concrete adapters."""

from __future__ import annotations

import dataclasses

from bc_gateway.settings import REQUIRED_SECRETS
from bc_gateway.settings import SERVICE
from bc_gateway.settings import Settings
from mlconnector.bus import Publisher
from mlconnector.runtime import build_publisher
from mlconnector.runtime import load_service_secrets
from mlconnector.secrets import SecretStore
from mlconnector.secrets import build_secret_store


@dataclasses.dataclass
class Dependencies:
    """Everything the app needs; tests build one with their own parts."""

    publisher: Publisher
    secret_store: SecretStore
    secrets: dict[str, str] = dataclasses.field(repr=False)


def build_dependencies(settings: Settings) -> Dependencies:
    """Read the secrets now (a missing one stops start-up); connect to the broker lazily."""
    store = build_secret_store(settings.common.secrets)
    secrets = load_service_secrets(store, settings.secrets_path, REQUIRED_SECRETS)
    return Dependencies(
        publisher=build_publisher(settings.common, SERVICE), secret_store=store, secrets=secrets
    )
