"""``/api/v2.0/subscriptions``: webhook subscriptions with the validation handshake (§7.1-7.3).

Create (POST) and renew (PATCH, ``If-Match`` required) both call ``notificationUrl`` with a
``validationToken`` query parameter and need HTTP 200 echoing the token within
``validation_timeout_seconds`` (5 s); otherwise the call fails and nothing changes. The handshake
is sent as POST (the reference leaves the verb open; community sources describe a POST). A
subscription expires ``subscription_lifetime_seconds`` (3 days) after creation or renewal and is
then deleted. ``notificationUrl`` must be https unless ``allow_http_notification_url`` is set
(on by default in test mode). The store lock is released during the handshake.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests

from bc_emulator.entity_sets import make_etag
from bc_emulator.errors import BCError
from bc_emulator.errors import bad_request
from bc_emulator.errors import dialog
from bc_emulator.registry import WEBHOOK_SETS
from bc_emulator.schemas import SUBSCRIPTION
from bc_emulator.schemas import by_name
from bc_emulator.state import Emulator
from bc_emulator.store import Environment
from bc_emulator.store import Subscription

FIELDS = by_name(SUBSCRIPTION)
_WRITABLE = {"notificationUrl", "resource", "clientState"}
_RESOURCE_RE = re.compile(
    r"(?:^|/)companies\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12})\)/([A-Za-z]+)/?$"
)


def etag(sub: Subscription) -> str:
    """The subscription's ETag."""
    return make_etag(sub.id, sub.version)


def parse_resource(env: Environment, resource: str) -> tuple[str, str]:
    """(company id, entity set) of a subscription resource, validated."""
    path = urlsplit(resource).path if "://" in resource else resource.split("?")[0]
    match = _RESOURCE_RE.search(path)
    if match is None:
        raise bad_request(
            f"The resource '{resource}' is not a valid subscription resource. Use "
            "companies({id})/<entitySet>.",
            "BadRequest_ResourceNotFound",
        )
    company_id, entity_set = match.group(1).lower(), match.group(2)
    if company_id not in env.companies:
        raise BCError(
            404, "Internal_CompanyNotFound", f"The company '{company_id}' does not exist."
        )
    if entity_set not in WEBHOOK_SETS:
        raise dialog(f"The entity '{entity_set}' does not support webhook subscriptions.")
    return company_id, entity_set


def parse_body(body: dict[str, Any], creating: bool) -> dict[str, str]:
    """Check a create/renew body."""
    out: dict[str, str] = {}
    for name, value in body.items():
        if name.startswith("@odata."):
            continue
        if name not in FIELDS:
            raise bad_request(
                f"The property '{name}' does not exist on type 'Microsoft.NAV.subscriptions'. "
                "Make sure to only use property names that are defined by the type."
            )
        if name not in _WRITABLE:
            continue  # echoing read-only fields back on renew is harmless
        if not isinstance(value, str):
            raise bad_request(
                f"Cannot convert the literal '{value}' to the expected type 'Edm.String'."
            )
        out[name] = value
    if creating and not out.get("notificationUrl"):
        raise dialog('A "notificationUrl" must be provided.')
    if creating and not out.get("resource"):
        raise dialog('A "resource" must be provided.')
    if len(out.get("clientState", "")) > 2048:
        raise BCError(
            400,
            "Application_StringExceededLength",
            f"The length of the string is {len(out['clientState'])}, but it must be less than or "
            "equal to 2048 characters.",
        )
    return out


def check_url(emu: Emulator, url: str) -> None:
    """https only, unless test mode allows http."""
    scheme = urlsplit(url).scheme.lower()
    allowed = {"https", "http"} if emu.config.allow_http_notification_url else {"https"}
    if scheme not in allowed:
        raise dialog("The notificationUrl must be an https URL.")


def handshake(emu: Emulator, url: str) -> None:
    """Call ``url?validationToken=...`` and require the token echoed with HTTP 200."""
    token = uuid.uuid4().hex
    cfg = emu.config
    separator = "&" if "?" in url else "?"
    ok = False
    try:
        with requests.Session() as session:
            session.trust_env = False
            response = session.post(
                f"{url}{separator}validationToken={token}",
                timeout=cfg.validation_timeout_seconds,
                verify=cfg.notification_ca_file or True,
            )
            ok = response.status_code == 200 and response.text.strip().strip('"') == token
    except requests.RequestException:
        ok = False
    if not ok:
        # The reference does not quote BC's text for a failed handshake; this is the emulator's.
        raise BCError(
            400,
            "BadRequest",
            "The subscription could not be validated: the notification URL must answer the "
            "validation request with HTTP 200 and the validationToken as the body within "
            f"{cfg.validation_timeout_seconds:g} seconds.",
        )


def new_subscription(
    emu: Emulator, env: Environment, fields: dict[str, str], user_id: str
) -> Subscription:
    """A subscription object (not yet stored)."""
    now = emu.clock.now()
    company_id, entity_set = parse_resource(env, fields["resource"])
    return Subscription(
        id=uuid.uuid4().hex,
        tenant=env.tenant,
        environment=env.name,
        notification_url=fields["notificationUrl"],
        resource=fields["resource"].rstrip("/"),
        client_state=fields.get("clientState", ""),
        user_id=user_id,
        company_id=company_id,
        entity_set=entity_set,
        created_at=now,
        modified_at=now,
        expiration=now + timedelta(seconds=emu.config.subscription_lifetime_seconds),
        timestamp=int(now.timestamp() * 1000),
    )


def purge_expired(emu: Emulator, env: Environment) -> None:
    """Delete expired subscriptions (BC's sender job does this; the list never shows them)."""
    now = emu.clock.now()
    for sub_id in [s.id for s in env.subscriptions.values() if s.expiration <= now]:
        del env.subscriptions[sub_id]


def renew(emu: Emulator, sub: Subscription, env: Environment, fields: dict[str, str]) -> None:
    """Apply a validated renewal (store lock held)."""
    if "resource" in fields:
        sub.company_id, sub.entity_set = parse_resource(env, fields["resource"])
        sub.resource = fields["resource"].rstrip("/")
    sub.notification_url = fields.get("notificationUrl", sub.notification_url)
    sub.client_state = fields.get("clientState", sub.client_state)
    now = emu.clock.now()
    sub.modified_at = now
    sub.expiration = now + timedelta(seconds=emu.config.subscription_lifetime_seconds)
    sub.timestamp = int(now.timestamp() * 1000)
    sub.version += 1
