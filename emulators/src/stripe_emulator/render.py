"""Records to wire JSON, including `expand[]`.

Default rendering strips private keys and adds what Stripe computes on read: an invoice's
and a credit note's `lines` (first 10, with `has_more` and `url`), a balance transaction's
`status` (`available` once `available_on` has passed on the emulator clock) and a dispute's
`balance_transactions` (the full objects). Expansion walks dotted paths: `data` steps into a
list, an id string becomes the rendered object, a nested plain object is descended, and
includable fields (`invoice.payments`, `invoice.amount_paid_off_stripe`, `charge.refunds`)
are built on demand, matching stripe-api.md §5/§7 (`expand=["payments"]`,
`["payments.data.payment.payment_intent"]`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from .errors import param_invalid
from .store import Record
from .store import public

if TYPE_CHECKING:
    from .state import EmulatorState

LINES_PAGE = 10


def render(state: EmulatorState, record: Record, expand: list[str] | None = None) -> Record:
    """Wire form of a record, with the requested expansions applied."""
    out = public(record)
    kind = record.get("object")
    if kind == "invoice" and not record.get("deleted"):
        out["lines"] = invoice_lines(state, record)
    elif kind == "credit_note":
        out["lines"] = credit_note_lines(state, record)
    elif kind == "balance_transaction":
        out["status"] = "available" if record["available_on"] <= state.clock.now() else "pending"
    elif kind == "dispute":
        # Full objects, as the SDK types them (`List[BalanceTransaction]`), status as of now.
        txns = (
            state.store.get("balance_transaction", i) for i in record["_balance_transaction_ids"]
        )
        out["balance_transactions"] = [render(state, t) for t in txns if t is not None]
    for path in expand or ():
        _expand(state, out, path.split("."), path)
    return out


def render_many(state: EmulatorState, expand: list[str]) -> Callable[[Record], Record]:
    """Renderer for list items: list expansions are written `data.<path>`."""
    item_paths = []
    for path in expand:
        if not path.startswith("data."):
            raise _cannot_expand(path)
        item_paths.append(path[len("data.") :])
    return lambda record: render(state, record, item_paths)


def invoice_lines(state: EmulatorState, invoice: Record) -> Record:
    lines = [state.store.get("line_item", i) for i in invoice["_line_ids"]]
    present = [public(line) for line in lines if line is not None]
    return {
        "object": "list",
        "data": present[:LINES_PAGE],
        "has_more": len(present) > LINES_PAGE,
        "total_count": len(present),
        "url": f"/v1/invoices/{invoice['id']}/lines",
    }


def credit_note_lines(state: EmulatorState, note: Record) -> Record:
    """The first lines of a credit note (or of a preview, whose lines are not stored)."""
    if "_preview_lines" in note:
        present = [public(line) for line in note["_preview_lines"]]
        url = "/v1/credit_notes/preview/lines"
    else:
        lines = (state.store.get("credit_note_line_item", i) for i in note["_line_ids"])
        present = [public(line) for line in lines if line is not None]
        url = f"/v1/credit_notes/{note['id']}/lines"
    return {
        "object": "list",
        "data": present[:LINES_PAGE],
        "has_more": len(present) > LINES_PAGE,
        "url": url,
    }


def _list(url: str, items: list[Record]) -> Record:
    return {"object": "list", "data": items, "has_more": False, "url": url}


def _invoice_payments(state: EmulatorState, invoice_id: str) -> Record:
    records = [p for p in state.store.all("invoice_payment") if p["invoice"] == invoice_id]
    return _list(f"/v1/invoices/{invoice_id}/payments", [render(state, p) for p in records])


def _charge_refunds(state: EmulatorState, charge_id: str) -> Record:
    records = [r for r in state.store.all("refund") if r["charge"] == charge_id]
    return _list(f"/v1/charges/{charge_id}/refunds", [render(state, r) for r in records])


def _amount_paid_off_stripe(state: EmulatorState, invoice_id: str) -> int:
    """Includable, not in event payloads (docs.stripe.com/changelog/dahlia/2026-05-27/
    invoice-object-amount-paid-off-stripe-property: `expand[]=amount_paid_off_stripe`)."""
    invoice = state.store.get("invoice", invoice_id)
    return 0 if invoice is None else int(invoice["_amount_paid_off_stripe"])


INCLUDABLE: dict[tuple[str, str], Callable[[EmulatorState, str], Any]] = {
    ("invoice", "payments"): _invoice_payments,
    ("invoice", "amount_paid_off_stripe"): _amount_paid_off_stripe,
    ("charge", "refunds"): _charge_refunds,
}
# Includable fields the control surface shows on `GET /_emulator/objects/...` anyway.
INSPECTED: dict[str, list[str]] = {"invoice": ["amount_paid_off_stripe"]}


def _cannot_expand(path: str) -> Exception:
    return param_invalid("expand", f"This property cannot be expanded ({path}).")


def _expand(state: EmulatorState, value: Any, segments: list[str], path: str) -> Any:
    if not segments or value is None:
        return value
    if isinstance(value, list):  # an array of plain objects, e.g. `refunds.refund`
        return [_expand(state, item, segments, path) for item in value]
    if not isinstance(value, dict):
        raise _cannot_expand(path)
    head, rest = segments[0], segments[1:]
    if value.get("object") in ("list", "search_result") and head == "data":
        value["data"] = [_expand(state, item, rest, path) for item in value["data"]]
        return value
    if head not in value:
        include = INCLUDABLE.get((str(value.get("object")), head))
        if include is None:
            raise _cannot_expand(path)
        value[head] = include(state, str(value["id"]))
    child = value[head]
    if isinstance(child, str):
        target = state.store.find(child)
        if target is None:
            raise _cannot_expand(path)
        child = render(state, target)
    value[head] = _expand(state, child, rest, path)
    return value
