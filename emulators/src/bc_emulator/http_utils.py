"""Small HTTP helpers shared by the API views: JSON responses, bodies, ``If-Match``, URL paths.

``If-Match`` follows bc-api.md §6.3: PATCH without it is ``400 BadRequest_InvalidToken``; DELETE
without it is refused too unless ``require_if_match_on_delete`` is off (the docs mark it
required, a source analysis says BC only checks a supplied one); bound actions check only a
supplied header; ``*`` matches anything; a stale tag is ``409 Request_EntityChanged``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Response
from flask import request

from bc_emulator import jsonio
from bc_emulator.edm import GUID_RE
from bc_emulator.errors import BCError
from bc_emulator.errors import bad_request

ODATA_JSON = "application/json; odata.metadata=minimal; odata.streaming=true"
_SEGMENT_RE = re.compile(r"^(?P<name>[^()]+)(?:\((?P<key>[^()]*)\))?$")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with exact decimals and the OData version header."""
    response = Response(jsonio.dumps(body), status=status, content_type=ODATA_JSON)
    response.headers["OData-Version"] = "4.0"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def no_content(headers: dict[str, str] | None = None) -> Response:
    """204 with an empty body."""
    response = Response(status=204)
    response.headers["OData-Version"] = "4.0"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def json_body(allow_empty: bool = False) -> dict[str, Any]:
    """The request's JSON object (Decimal numbers)."""
    raw = request.get_data()
    if not raw.strip():
        if allow_empty:
            return {}
        raise bad_request("Invalid Request Body: the request body is empty.")
    try:
        body = jsonio.loads(raw)
    except ValueError as exc:
        raise bad_request(f"Invalid Request Body: {exc}") from exc
    if not isinstance(body, dict):
        raise bad_request("Invalid Request Body: a JSON object is expected.")
    return body


def _normalise(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def check_if_match(current_etag: str, required: bool) -> None:
    """Enforce ``If-Match`` against the record's current ETag."""
    header = request.headers.get("If-Match")
    if header is None:
        if required:
            raise BCError(
                400,
                "BadRequest_InvalidToken",
                "Could not validate the client concurrency token required by the service. "
                "Please provide a valid token in the client request.",
            )
        return
    tags = [t for t in header.split(",") if t.strip()]
    if any(t.strip() == "*" for t in tags):
        return
    if _normalise(current_etag) not in {_normalise(t) for t in tags}:
        raise BCError(409, "Request_EntityChanged", "Another user has already changed the record.")


@dataclass(frozen=True)
class Segment:
    """One OData path segment: ``name`` or ``name(key)``."""

    raw: str
    name: str
    key: str | None


def parse_segments(path: str) -> list[Segment]:
    """Split an OData path (``companies(x)/salesInvoices(y)/Microsoft.NAV.post``)."""
    segments = []
    for raw in [p for p in path.split("/") if p]:
        match = _SEGMENT_RE.match(raw)
        if match is None:
            raise bad_request(f"The request URI is not valid. The segment '{raw}' is malformed.")
        segments.append(Segment(raw, match.group("name"), match.group("key")))
    return segments


def guid_key(key: str) -> str:
    """A GUID key as it appears unquoted in URLs, lower-cased."""
    if not GUID_RE.match(key):
        raise bad_request(f"Cannot convert the literal '{key}' to the expected type 'Edm.Guid'.")
    return key.lower()


def string_key(key: str) -> str:
    """A quoted string key (``subscriptions('abc')``)."""
    if len(key) >= 2 and key[0] == key[-1] == "'":
        return key[1:-1].replace("''", "'")
    raise bad_request(f"Cannot convert the literal '{key}' to the expected type 'Edm.String'.")


def api_path_parts(rest: str) -> tuple[str | None, str, str, str] | None:
    """Split the part of an API path after ``/v2.0/``, or None if it is not one.

    Returns (tenant or None when the token names it, environment, the prefix up to and including
    ``api/v2.0``, the OData path after it).
    """
    parts = rest.split("/")
    for index in (1, 0):
        if len(parts) > index + 2 and parts[index + 1] == "api" and parts[index + 2] == "v2.0":
            tenant = parts[0] if index == 1 else None
            prefix = "/".join(parts[: index + 3])
            return tenant, parts[index], prefix, "/".join(parts[index + 3 :])
    return None
