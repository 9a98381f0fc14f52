"""The ``$batch`` request: parsing, validation, and what it costs against the rate limits.

A JSON batch is ``{"requests": [{"id", "method", "url", "headers", "body", "dependsOn"}]}``
(bc-api.md §6.3). The outer request is refused as a whole (400) when it is not that shape, nests
inside another batch, or holds more than ``max_batch_operations`` operations (BC's limit is 100,
with BC's message). ``Isolation: snapshot`` (or the standard ``OData-Isolation``) and
``Prefer: odata.continue-on-error`` are read here; batch.py runs the operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request

from bc_emulator.config import EmulatorConfig
from bc_emulator.errors import BCError
from bc_emulator.errors import bad_request
from bc_emulator.http_utils import json_body

INNER_FLAG = "bc_emulator.batch_operation"


@dataclass(frozen=True)
class Operation:
    """One inner request as the client sent it."""

    id: Any  # echoed as given; BC's own example omits it and answers ``null``
    method: str
    url: str
    headers: dict[str, str]
    body: Any
    has_body: bool
    depends_on: tuple[str, ...]


@dataclass(frozen=True)
class Batch:
    """A parsed ``$batch`` request and the outer headers that steer it."""

    operations: tuple[Operation, ...]
    snapshot: bool
    continue_on_error: bool


def is_batch_operation() -> bool:
    """Whether the current request is an operation dispatched from a ``$batch``."""
    return bool(request.environ.get(INNER_FLAG))


def batch_cost(config: EmulatorConfig, batch: Batch) -> int:
    """How many requests a ``$batch`` counts for against the per-user rate limits.

    Microsoft's training module "Work with API limits"
    (https://learn.microsoft.com/en-us/training/modules/work-with-api/4-limits/) gives the per-user
    limit of 6,000 requests per 5-minute sliding window and advises "Use batching to perform
    multiple operations in one call" to reduce the number of calls; operational-limits-online.md
    caps a batch at 100 operations. Neither page says whether the inner operations count
    separately. The default counts the outer request once (the reading that makes that advice
    work); ``batch_counts_operations`` counts each operation instead, so a benchmark can show
    both. Either way the batch holds one concurrency slot (api.py).
    """
    return max(1, len(batch.operations)) if config.batch_counts_operations else 1


def _too_many_parts(limit: int) -> BCError:
    # The text BC answers, as quoted in a public report; the code is BC's catch-all ``Unknown``.
    return BCError(
        400,
        "Unknown",
        "The current batch message contains too many parts. A maximum number of "
        f"'{limit}' query operations and change sets are allowed in a batch message.",
    )


def _prefers_continue_on_error() -> bool:
    for item in (request.headers.get("Prefer") or "").split(","):
        name, _, value = item.strip().partition("=")
        if name.strip().lower() in ("odata.continue-on-error", "continue-on-error"):
            return value.strip().lower() != "false"
    return False


def _operation(raw: Any, index: int, seen: set[str]) -> Operation:
    if not isinstance(raw, dict):
        raise bad_request(f"Invalid Request Body: batch request {index} is not a JSON object.")
    method, url = raw.get("method"), raw.get("url")
    if not isinstance(method, str) or not isinstance(url, str) or not url:
        raise bad_request(f"Invalid Request Body: batch request {index} needs 'method' and 'url'.")
    if "atomicityGroup" in raw:
        raise bad_request(
            "The emulator does not support 'atomicityGroup'; send the header "
            "'Isolation: snapshot' to make the whole batch all-or-nothing."
        )
    headers = raw.get("headers") or {}
    depends = raw.get("dependsOn") or []
    if not isinstance(headers, dict) or not isinstance(depends, list):
        raise bad_request(f"Invalid Request Body: batch request {index} is malformed.")
    for dep in depends:
        if str(dep) not in seen:
            raise bad_request(
                f"Batch request {index} depends on '{dep}', which is not an earlier request."
            )
    op_id = raw.get("id")
    if op_id is not None:
        if str(op_id) in seen:
            raise bad_request(f"The batch request id '{op_id}' is used more than once.")
        seen.add(str(op_id))
    return Operation(
        id=op_id,
        method=method.upper(),
        url=url,
        headers={str(k): str(v) for k, v in headers.items()},
        body=raw.get("body"),
        has_body="body" in raw,
        depends_on=tuple(str(d) for d in depends),
    )


def parse_batch(config: EmulatorConfig) -> Batch:
    """Read the outer request; malformed, nested or oversized batches are a 400."""
    if is_batch_operation():
        raise bad_request("A $batch request cannot be nested inside another $batch request.")
    if request.method != "POST":
        raise BCError(
            405,
            "BadRequest_MethodNotAllowed",
            f"'{request.method}' requests are not allowed for this resource.",
        )
    if request.mimetype.startswith("multipart/"):
        raise bad_request(
            "The emulator supports only the JSON batch format (Content-Type: application/json)."
        )
    raw = json_body().get("requests")
    if not isinstance(raw, list):
        raise bad_request("Invalid Request Body: a JSON batch needs a 'requests' array.")
    if len(raw) > config.max_batch_operations:
        raise _too_many_parts(config.max_batch_operations)
    seen: set[str] = set()
    operations = tuple(_operation(item, index, seen) for index, item in enumerate(raw))
    isolation = request.headers.get("Isolation") or request.headers.get("OData-Isolation") or ""
    return Batch(
        operations=operations,
        snapshot=isolation.strip().lower() == "snapshot",
        continue_on_error=_prefers_continue_on_error(),
    )


def header(headers: dict[str, str], name: str) -> str | None:
    """A header of an operation, by case-insensitive name."""
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)
