"""The composition root of stripe-gateway: the only module that names concrete adapters."""

from __future__ import annotations

import dataclasses

from mlconnector.bus import Publisher
from mlconnector.identity import TokenVerifier
from mlconnector.runtime import build_publisher
from mlconnector.runtime import identity_verifier
from mlconnector.runtime import load_service_secrets
from mlconnector.secrets import SecretStore
from mlconnector.secrets import build_secret_store
from stripe_gateway.adapters.stripe_client import StripeClient
from stripe_gateway.settings import OPTIONAL_SECRETS
from stripe_gateway.settings import REQUIRED_SECRETS
from stripe_gateway.settings import SERVICE
from stripe_gateway.settings import Settings
from stripe_gateway.webhook_secrets import WebhookSecrets


@dataclasses.dataclass
class Dependencies:
    """Everything the app needs; tests build one with their own parts."""

    publisher: Publisher
    secret_store: SecretStore
    secrets: dict[str, str] = dataclasses.field(repr=False)
    stripe: StripeClient = dataclasses.field(repr=False)
    webhook_secrets: WebhookSecrets = dataclasses.field(repr=False)
    # Checks the reconciler's service tokens on the command API (keys read on first use).
    verifier: TokenVerifier
    webhook_tolerance_s: int = 300


def build_stripe_client(settings: Settings, api_key: str) -> StripeClient:
    """The process's Stripe adapter, every knob from settings."""
    return StripeClient(
        api_key,
        api_base=settings.stripe_api_base,
        max_network_retries=settings.stripe_max_network_retries,
        timeout_s=settings.stripe_timeout_s,
        rate_limit_retries=settings.stripe_rate_limit_retries,
    )


def build_webhook_secrets(
    settings: Settings, store: SecretStore, secrets: dict[str, str]
) -> WebhookSecrets:
    """The cached view of the signing secrets, seeded with the values read at start-up."""
    return WebhookSecrets(
        store,
        settings.secrets_path,
        ttl_s=settings.webhook_secret_ttl_s,
        max_stale_s=settings.webhook_secret_max_stale_s,
        initial=secrets,
    )


def load_secrets(
    settings: Settings, store: SecretStore, required: tuple[str, ...] = REQUIRED_SECRETS
) -> dict[str, str]:
    """Read this service's secrets (a missing required one stops start-up)."""
    optional = tuple(k for k in (*REQUIRED_SECRETS, *OPTIONAL_SECRETS) if k not in required)
    return load_service_secrets(store, settings.secrets_path, required, optional)


def build_dependencies(settings: Settings) -> Dependencies:
    """Read the secrets now (a missing one stops start-up); connect to the broker lazily."""
    store = build_secret_store(settings.common.secrets)
    secrets = load_secrets(settings, store)
    return Dependencies(
        publisher=build_publisher(settings.common, SERVICE),
        secret_store=store,
        secrets=secrets,
        stripe=build_stripe_client(settings, secrets["api_key"]),
        webhook_secrets=build_webhook_secrets(settings, store, secrets),
        webhook_tolerance_s=settings.webhook_tolerance_s,
        verifier=identity_verifier(store, SERVICE),
    )
