"""Parsing BC webhook notifications (bc-api.md §7.4) into typed values.

A notification POST is ``{"value": [ ... ]}``; each element has exactly ``subscriptionId``,
``clientState``, ``expirationDateTime``, ``resource``, ``changeType`` and
``lastModifiedDateTime``. The ``resource`` names what changed, in whatever form the subscription
was created with (relative or absolute, with or without a leading slash):
``api/v2.0/companies(<company>)/salesInvoices(<id>)`` for one entity, or the bare collection URL
with ``?$filter=lastModifiedDateTime gt <time>`` for a ``collection`` notification.

Nothing here trusts the resource as a URL to fetch: it is parsed into a company id, an entity set
name, a key and a "changed since" time, and the gateway builds its own BC URLs from those.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import urllib.parse
from typing import Any

from mlconnector import jsonbody

CHANGE_TYPES = ("created", "updated", "deleted", "collection")
MAX_ELEMENTS = 5000

_ENTITY_SEGMENT = re.compile(r"^([A-Za-z][A-Za-z0-9]*)(?:\((.*)\))?$")
_COMPANY_SEGMENT = re.compile(r"^companies\(([^()]*)\)$")
# BC builds "lastModifiedDateTime gt <time>"; the docs' sample spells it "lastDateTimeModified".
_SINCE_FILTER = re.compile(r"^\s*(?:lastModifiedDateTime|lastDateTimeModified)\s+gt\s+(\S+)\s*$")
_FRACTION = re.compile(r"(\.\d{6})\d+")


class MalformedPayload(ValueError):
    """The body is not a BC notification payload at all (not JSON, no ``value`` list)."""


class MalformedNotification(ValueError):
    """One element carries a valid clientState but cannot be understood."""


@dataclasses.dataclass(frozen=True)
class Resource:
    """What a notification's ``resource`` names."""

    entity: str
    company_id: str | None
    entity_id: str | None
    changed_since: dt.datetime | None = None


@dataclasses.dataclass(frozen=True)
class Notification:
    """One validated element of ``value[]`` (the clientState is checked, then dropped)."""

    subscription_id: str
    resource: str
    change_type: str
    last_modified: dt.datetime
    target: Resource


def parse_payload(body: bytes) -> list[dict[str, Any]]:
    """The ``value[]`` elements; ``MalformedPayload`` if BC cannot have sent this body."""
    try:
        data = jsonbody.loads(body)
    except jsonbody.InvalidJSON as exc:
        raise MalformedPayload(f"the body is not acceptable JSON: {exc.reason}") from None
    if not isinstance(data, dict) or not isinstance(data.get("value"), list):
        raise MalformedPayload("the body has no value[] list")
    elements: list[dict[str, Any]] = data["value"]
    if len(elements) > MAX_ELEMENTS:
        raise MalformedPayload(f"more than {MAX_ELEMENTS} notifications in one request")
    if not all(isinstance(element, dict) for element in elements):
        raise MalformedPayload("value[] holds something other than objects")
    return elements


def parse_timestamp(raw: object) -> dt.datetime:
    """An ISO 8601 time as BC writes it (``Z`` suffix, up to 7 fraction digits) -> aware UTC."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("expected an ISO 8601 date-time")
    text = _FRACTION.sub(r"\1", raw.strip()).replace("z", "Z")
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        # 9999-12-31T23:59:59-01:00 is a valid ISO time that UTC cannot hold.
        raise ValueError("the time is out of range in UTC") from None


def parse_resource(resource: str) -> Resource:
    """Company, entity set, key and collection filter of a notification resource."""
    if "://" in resource:
        try:
            parts = urllib.parse.urlsplit(resource)
        except ValueError:  # e.g. an unclosed IPv6 host: "https://[::1/..."
            raise MalformedNotification(f"resource {resource[:200]!r} is not a URL") from None
        path, query = parts.path, parts.query
    else:
        path, _, query = resource.partition("?")
    segments = [s for s in path.split("/") if s]
    if not segments:
        raise MalformedNotification("empty resource")
    company_id = None
    for segment in segments:
        found = _COMPANY_SEGMENT.match(segment)
        if found:
            company_id = _key(found.group(1))
    match = _ENTITY_SEGMENT.match(segments[-1])
    if match is None:
        raise MalformedNotification(f"cannot read the entity of resource {resource!r}")
    entity, raw_key = match.group(1), match.group(2)
    since = None
    if query:
        for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
            if name == "$filter":
                found_since = _SINCE_FILTER.match(value)
                if found_since is None:
                    raise MalformedNotification(f"unexpected collection filter {value!r}")
                try:
                    since = parse_timestamp(found_since.group(1))
                except ValueError:
                    raise MalformedNotification(f"bad time in filter {value!r}") from None
    entity_id = _key(raw_key) if raw_key is not None else None
    if entity == "companies":
        company_id = entity_id
    return Resource(entity, company_id, entity_id, since)


def _key(raw: str) -> str:
    """A key as it appears in the URL: GUIDs bare, Code/Text keys quoted and URI-escaped."""
    value = urllib.parse.unquote(raw.strip())
    if len(value) >= 2 and value[0] == value[-1] == "'":
        value = value[1:-1].replace("''", "'")
    return value.lower() if _looks_like_guid(value) else value


def _looks_like_guid(value: str) -> bool:
    return bool(re.fullmatch(r"[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}", value))


def parse_notification(element: dict[str, Any]) -> Notification:
    """One element -> ``Notification``; ``MalformedNotification`` with the reason otherwise."""
    subscription_id = element.get("subscriptionId")
    resource = element.get("resource")
    change_type = element.get("changeType")
    if not isinstance(subscription_id, str) or not subscription_id:
        raise MalformedNotification("missing subscriptionId")
    if not isinstance(resource, str) or not resource:
        raise MalformedNotification("missing resource")
    if change_type not in CHANGE_TYPES:
        raise MalformedNotification(f"unknown changeType {change_type!r}")
    try:
        last_modified = parse_timestamp(element.get("lastModifiedDateTime"))
    except ValueError as exc:
        raise MalformedNotification(f"bad lastModifiedDateTime: {exc}") from None
    return Notification(
        subscription_id=subscription_id,
        resource=resource,
        change_type=str(change_type),
        last_modified=last_modified,
        target=parse_resource(resource),
    )
