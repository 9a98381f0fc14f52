"""Steps the end-to-end tests share: BC customers and invoices, waiting on records, BC lines."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from factories import wait_until

from mlc_local.processes import Process
from mlc_local.scenario import Connector
from mlc_local.scenario import exact_numbers
from mlc_local.stack import LocalStack

LINE = {"lineType": "Account", "lineObjectNumber": "40100"}


def new_customer(stack: LocalStack, currency: str | None = None) -> str:
    number = "E" + secrets.token_hex(4).upper()
    body: dict[str, Any] = {"number": number, "displayName": f"Customer {number}"}
    if currency:
        body["currencyCode"] = currency
    stack.bc_admin("POST", f"/companies/{stack.company_id}/customers", body)
    return number


def post_invoice(
    stack: LocalStack, customer: str, *lines: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    body = {"customerNumber": customer, "lines": [{**LINE, **line} for line in lines], **extra}
    invoice: dict[str, Any] = stack.bc_admin(
        "POST", f"/companies/{stack.company_id}/invoices", {**exact_numbers(body), "post": True}
    )
    return invoice


def wait_record(connector: Connector, timeout: float = 60, **filters: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def settled() -> bool:
        found[:] = [r for r in connector.records(**filters) if r["state"] != "pending"]
        return bool(found)

    connector.wait_for(f"record {filters}", settled, timeout=timeout)
    return found[0]


def pushed(connector: Connector, invoice: dict[str, Any]) -> dict[str, Any]:
    record = wait_record(connector, kind="invoice", bc_ref=str(invoice["id"]))
    assert record["state"] == "succeeded", record
    return record


def stripe_object(stack: LocalStack, kind: str, object_id: str) -> dict[str, Any]:
    result: dict[str, Any] = stack.stripe.admin("GET", f"objects/{kind}/{object_id}")
    return result


def posted_lines(stack: LocalStack, external_document_number: str) -> list[dict[str, Any]]:
    rows = stack.bc_admin("GET", f"/companies/{stack.company_id}/postedJournalLines")["value"]
    return [r for r in rows if r["externalDocumentNumber"] == external_document_number.upper()]


def bc_lines(stack: LocalStack, external_document_number: str) -> list[dict[str, Any]]:
    """Posted and unposted lines carrying the number, as one consistent snapshot.

    The batch poster may post between two reads; the snapshot is taken again until the posted
    lines read the same before and after the unposted ones.
    """
    while True:
        before = posted_lines(stack, external_document_number)
        waiting = unposted_lines(stack, external_document_number)
        after = posted_lines(stack, external_document_number)
        if before == after:
            return after + waiting


def wait_posted(
    stack: LocalStack, external_document_number: str, timeout_s: float = 15
) -> list[dict[str, Any]]:
    """The posted lines once the batch poster has posted every line carrying the number."""
    lines: list[dict[str, Any]] = []

    def settled() -> bool:
        nonlocal lines
        lines = posted_lines(stack, external_document_number)
        return bool(lines) and not unposted_lines(stack, external_document_number)

    wait_until(settled, timeout_s=timeout_s)
    return lines


def bc_invoice(stack: LocalStack, invoice_id: str) -> dict[str, Any]:
    rows = stack.bc_api_get("salesInvoices", {"$filter": f"id eq {invoice_id}"})
    assert len(rows) == 1
    result: dict[str, Any] = rows[0]
    return result


def unposted_lines(stack: LocalStack, external_document_number: str) -> list[dict[str, Any]]:
    rows = stack.bc_admin("GET", f"/companies/{stack.company_id}/journalLines")["value"]
    return [r for r in rows if r["externalDocumentNumber"] == external_document_number.upper()]


def start_consumer(stack: LocalStack, name: str, kill_point: str | None = None) -> Process:
    """One more ``reconciler consume`` process on the stack, with its own heartbeat file (and
    armed to SIGKILL itself at ``kill_point``, if given)."""
    env = dict(stack.env, MLC_HEARTBEAT_FILE=str(consumer_heartbeat(stack, name)))
    if kill_point:
        env["MLC_KILL_POINT"] = kill_point
    return Process(name, ["reconciler", "consume"], env, stack.workdir / "log")


def consumer_heartbeat(stack: LocalStack, name: str) -> Path:
    return stack.workdir / f"{name}.heartbeat"
