"""``stripe-gateway register-webhook``: create the Stripe endpoint and store its signing secret.

The endpoint is created with the API version pinned to the SDK's (an endpoint's version is
fixed at creation and decides how its events are rendered, stripe-api.md §14) and subscribed
to exactly ``HANDLED_EVENTS``. Stripe returns the ``whsec_...`` secret only in this response,
so it goes straight into the secret store at the gateway's path as ``webhook_secret``; the
secret it replaces is kept as ``webhook_secret_previous`` so deliveries signed by the old
endpoint keep verifying until it is deleted (then remove that key). Running gateways pick the
new secret up on the first delivery that needs it (``webhook_secrets``), without a restart.

The secret is never printed or logged: it is registered for redaction the moment it arrives.
An enabled endpoint already registered for the same URL makes the command refuse (Stripe would
deliver every event twice), unless ``--force``.
"""

from __future__ import annotations

import dataclasses
import hashlib

from mlconnector.redaction import register_secret
from mlconnector.secrets import SecretNotFound
from mlconnector.secrets import SecretStore
from mlconnector.secrets import SecretStoreError
from stripe_gateway.adapters.stripe_client import API_VERSION
from stripe_gateway.adapters.stripe_client import StripeClient
from stripe_gateway.events import HANDLED_EVENTS
from stripe_gateway.webhook_secrets import CURRENT_KEY
from stripe_gateway.webhook_secrets import PREVIOUS_KEY


class SecretNotStored(RuntimeError):
    """The endpoint exists but its secret could not be stored (Stripe shows it only once)."""

    def __init__(self, endpoint_id: str, reason: str) -> None:
        super().__init__(
            f"endpoint {endpoint_id} was created but its signing secret could not be stored "
            f"({reason}); delete the endpoint in Stripe and run register-webhook again"
        )
        self.endpoint_id = endpoint_id


class AlreadyRegistered(RuntimeError):
    """An enabled endpoint for this URL exists already."""

    def __init__(self, endpoint_id: str, url: str) -> None:
        super().__init__(
            f"an enabled webhook endpoint for {url} already exists ({endpoint_id}); delete it "
            "first, or pass --force to add another"
        )
        self.endpoint_id = endpoint_id


@dataclasses.dataclass(frozen=True)
class Registration:
    endpoint_id: str
    url: str
    events: tuple[str, ...]
    api_version: str
    kept_previous: bool


def register_webhook(
    client: StripeClient, store: SecretStore, path: str, url: str, *, force: bool = False
) -> Registration:
    """Create the endpoint, then store its secret (moving the old one to ``…_previous``)."""
    existing = [
        e
        for e in client.list_webhook_endpoints()
        if e.url == url and e.status == "enabled" and not getattr(e, "deleted", False)
    ]
    if existing and not force:
        raise AlreadyRegistered(existing[0].id, url)
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    endpoint = client.create_webhook_endpoint(
        url,
        list(HANDLED_EVENTS),
        # Re-running within 24 h replays the same endpoint (and secret) instead of adding one.
        idempotency_key=f"mlc:webhook-endpoint:{digest}:{len(existing)}",
    )
    secret = endpoint.secret
    if not secret:
        raise RuntimeError(f"Stripe returned no signing secret for {endpoint.id}")
    register_secret(secret)
    try:
        try:
            current = store.read(path)
        except SecretNotFound:
            current = {}
        old = current.get(CURRENT_KEY, "")
        values = {CURRENT_KEY: secret}
        if old and old != secret:
            values[PREVIOUS_KEY] = old
        store.write(path, values)
    except SecretStoreError as exc:
        raise SecretNotStored(endpoint.id, str(exc)) from exc
    return Registration(
        endpoint_id=endpoint.id,
        url=url,
        events=HANDLED_EVENTS,
        api_version=endpoint.api_version or API_VERSION,
        kept_previous=PREVIOUS_KEY in values,
    )
