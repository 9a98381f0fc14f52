"""The composition root of the reconciler: the only module that names concrete adapters."""

from __future__ import annotations

import dataclasses

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.bus import Publisher
from mlconnector.db import make_engine
from mlconnector.db import make_session_factory
from mlconnector.runtime import build_publisher
from mlconnector.runtime import identity_issuer
from mlconnector.runtime import load_service_secrets
from mlconnector.secrets import SecretStore
from mlconnector.secrets import build_secret_store
from reconciler import SERVICE
from reconciler.adapters.gateways import HttpBcGateway
from reconciler.adapters.gateways import HttpStripeGateway
from reconciler.console.settings import CONSOLE_SECRETS
from reconciler.rules import HandlerDeps
from reconciler.settings import REQUIRED_SECRETS
from reconciler.settings import Settings


@dataclasses.dataclass
class Dependencies:
    """Everything the consumer and the API need; tests build one with their own parts."""

    engine: Engine
    session_factory: sessionmaker[Session]
    publisher: Publisher
    secret_store: SecretStore
    handler_deps: HandlerDeps
    secrets: dict[str, str] = dataclasses.field(repr=False)


def build_dependencies(settings: Settings) -> Dependencies:
    """Read the secrets now (a missing one stops start-up); database and broker connect lazily."""
    store = build_secret_store(settings.common.secrets)
    secrets = load_service_secrets(
        store, settings.secrets_path, REQUIRED_SECRETS, optional=CONSOLE_SECRETS
    )
    engine = make_engine(settings.database_url)
    issuer = identity_issuer(store, settings.secrets_path)
    return Dependencies(
        engine=engine,
        session_factory=make_session_factory(engine),
        publisher=build_publisher(settings.common, SERVICE),
        secret_store=store,
        handler_deps=HandlerDeps(
            stripe=HttpStripeGateway(
                settings.stripe_gateway_url,
                settings.gateway_timeout_s,
                authorization=issuer.authorization,
            ),
            bc=HttpBcGateway(
                settings.bc_gateway_url,
                settings.gateway_timeout_s,
                authorization=issuer.authorization,
            ),
            rules=settings.rules,
            claim_lease_s=settings.claim_lease_s,
        ),
        secrets=secrets,
    )
