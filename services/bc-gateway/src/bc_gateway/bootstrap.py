"""The composition root of bc-gateway: the only module that names concrete adapters.

Building the dependencies reads the secrets (a missing one stops start-up) and touches nothing
else: the broker connection, the msal application and the HTTP sessions are all created lazily,
per process, on first use, so a gunicorn worker never inherits them across the fork.
"""

from __future__ import annotations

import dataclasses
import hashlib

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.adapters.bc_client import HttpBCClient
from bc_gateway.adapters.pacing import Backoff
from bc_gateway.adapters.pacing import Pacer
from bc_gateway.adapters.shared_budget import SharedBudget
from bc_gateway.adapters.token import MsalTokenProvider
from bc_gateway.client_state import ClientStates
from bc_gateway.journals import BatchDirectory
from bc_gateway.postings import Books
from bc_gateway.publishing import ConfirmedPublisher
from bc_gateway.publishing import Publish
from bc_gateway.services import LocalCurrency
from bc_gateway.settings import BC_SCOPE
from bc_gateway.settings import OPTIONAL_SECRETS
from bc_gateway.settings import REQUIRED_SECRETS
from bc_gateway.settings import SERVICE
from bc_gateway.settings import BCSettings
from bc_gateway.settings import Settings
from mlconnector.bus import Publisher
from mlconnector.identity import TokenVerifier
from mlconnector.runtime import build_publisher
from mlconnector.runtime import identity_verifier
from mlconnector.runtime import load_service_secrets
from mlconnector.secrets import SecretStore
from mlconnector.secrets import build_secret_store


@dataclasses.dataclass
class Dependencies:
    """Everything the app and the CLI need; tests build one with their own parts."""

    settings: Settings
    publisher: Publisher
    secret_store: SecretStore
    secrets: dict[str, str] = dataclasses.field(repr=False)
    client_states: ClientStates
    # Checks the reconciler's service tokens on the command API (keys read on first use).
    verifier: TokenVerifier
    publish: Publish
    books: Books
    lcy: LocalCurrency
    batches: BatchDirectory
    tokens: MsalTokenProvider | None = None
    bc: BCClient | None = None


def build_bc(
    bc: BCSettings,
    client_id: str,
    client_secret: str,
    *,
    budget_storage: str = "memory://",
    key_prefix: str = "mlc",
) -> tuple[MsalTokenProvider, HttpBCClient]:
    """The token provider and the BC client for one app registration.

    The shared budget (``MLC_BC_BUDGET``) lives in the rate-limit store, keyed by the tenant
    and a digest of the client id: BC counts per app registration.
    """
    budget = None
    if bc.budget:
        user = hashlib.sha256(client_id.encode()).hexdigest()[:16]
        budget = SharedBudget(
            bc.budget, budget_storage, f"{key_prefix}:bc-budget:{bc.tenant_id}:{user}"
        )
    ca_bundle = str(bc.ca_bundle) if bc.ca_bundle else None
    tokens = MsalTokenProvider(
        bc.authority,
        client_id,
        client_secret,
        scope=BC_SCOPE,
        instance_discovery=bc.instance_discovery,
        ca_bundle=ca_bundle,
        trust_env=bc.trust_env,
        timeout_s=bc.timeout_s,
    )
    client = HttpBCClient(
        bc.api_root,
        bc.company_id,
        tokens,
        ca_bundle=ca_bundle,
        trust_env=bc.trust_env,
        timeout_s=bc.timeout_s,
        backoff=Backoff(max_attempts=bc.max_attempts, budget_s=bc.retry_budget_s),
        pacer=Pacer(bc.max_rps),
        budget=budget,
        batch_counts_operations=bc.batch_counts_operations,
        page_size=bc.page_size,
    )
    return tokens, client


def build_dependencies(
    settings: Settings,
    *,
    publisher: Publisher | None = None,
    secret_store: SecretStore | None = None,
) -> Dependencies:
    """Read the secrets now; connect to the broker, Entra and BC lazily."""
    store = secret_store or build_secret_store(settings.common.secrets)
    secrets = load_service_secrets(store, settings.secrets_path, REQUIRED_SECRETS, OPTIONAL_SECRETS)
    bus = publisher or build_publisher(settings.common, SERVICE)
    tokens: MsalTokenProvider | None = None
    client: BCClient | None = None
    if settings.bc is not None:
        tokens, client = build_bc(
            settings.bc,
            secrets["client_id"],
            secrets["client_secret"],
            budget_storage=settings.common.ratelimit_storage_uri,
            key_prefix=settings.common.ratelimits.key_prefix,
        )
    return Dependencies(
        settings=settings,
        publisher=bus,
        secret_store=store,
        secrets=secrets,
        client_states=ClientStates(store, settings.secrets_path, ttl_s=settings.secret_ttl_s),
        publish=ConfirmedPublisher(bus),
        books=Books(
            payment_journal=settings.payment_journal,
            refund_journal=settings.refund_journal,
            general_journal=settings.general_journal,
            clearing_account=settings.clearing_account,
            currency_clearing=settings.currency_clearing,
        ),
        lcy=LocalCurrency(),
        batches=BatchDirectory(),
        tokens=tokens,
        bc=client,
        verifier=identity_verifier(store, SERVICE),
    )
