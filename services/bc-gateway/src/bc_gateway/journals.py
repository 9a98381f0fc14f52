"""The connector's own journal batches: find or create them, list their lines, post them.

Posting is per batch and posts *every* line in it (bc-api.md §4.10), so the connector keeps
dedicated batches (``MLC_BC_PAYMENT_JOURNAL``, ``MLC_BC_REFUND_JOURNAL`` in the cash-receipts
template, ``MLC_BC_GENERAL_JOURNAL`` in the general template) and creates them when missing, with
the configured clearing G/L account (``MLC_BC_CLEARING_ACCOUNT``) as balancing account and no
number series (the gateway supplies its own document numbers, bc-api.md §9.4). A cash-receipt
batch is posted through ``journals(<same id>)/Microsoft.NAV.post``: ``customerPaymentJournals``
has no bound action.

Only the configured batches are ever named: a command naming any other journal is refused (422,
``journal`` field) before BC is asked anything, so a caller cannot make the gateway create a
batch, write into one, or post one that is not the connector's (issue 10).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import TypeVar

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.adapters.bc_client import Entity
from bc_gateway.adapters.bc_errors import BCNotFound
from bc_gateway.adapters.bc_errors import BCPermanentError
from bc_gateway.adapters.odata import odata_string
from bc_gateway.open_amounts import CheckedLine
from bc_gateway.open_amounts import overpaid_lines
from bc_gateway.rejections import Rejected

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

PAYMENT_BATCHES = "customerPaymentJournals"
GENERAL_BATCHES = "journals"
_DISPLAY = {
    PAYMENT_BATCHES: "Stripe payments posted by ml-connector",
    GENERAL_BATCHES: "Stripe payouts posted by ml-connector",
}


def document_number(prefix: str, key: str) -> str:
    """A deterministic Code[20] document number for a key (Stripe ids are too long for it)."""
    digest = hashlib.sha256(key.upper().encode()).hexdigest().upper()
    return (prefix + digest)[:20]


def configured_journal(
    requested: str | None, configured: Mapping[str, str], *, purpose: str, field: str = "journal"
) -> str:
    """The batch to use: the first configured one when none is named, else the named one if
    it is configured; any other name is refused without a call to BC.

    ``configured`` maps each setting to its batch code (``{"MLC_BC_PAYMENT_JOURNAL": "STRIPE"}``)
    so the refusal can say what to configure. Names compare upper-cased: BC upper-cases Code.
    """
    codes = [code.upper() for code in configured.values()]
    if requested is None:
        return codes[0]
    code = requested.upper()
    if code not in codes:
        settings = ", ".join(f"{name}={value}" for name, value in configured.items())
        raise Rejected(
            "validation_failed",
            f"{code} is not a journal the connector is configured to use for {purpose} "
            f"({settings}); the gateway writes to and posts its own batches only",
            field=field,
        )
    return code


def find_batch(bc: BCClient, batch_set: str, code: str) -> Entity | None:
    """The batch named ``code`` in ``customerPaymentJournals`` or (general) ``journals``."""
    found = bc.get(bc.company_path(batch_set), {"$filter": f"code eq {odata_string(code)}"})
    value = found.get("value") or []
    return value[0] if value else None


def ensure_batch(
    bc: BCClient, batch_set: str, code: str, clearing_account: str | None, *, purpose: str = ""
) -> Entity:
    """The batch, created with the clearing account as balancing account if missing."""
    existing = find_batch(bc, batch_set, code)
    if existing is not None:
        return existing
    body: dict[str, Any] = {"code": code, "displayName": purpose or _DISPLAY[batch_set]}
    if clearing_account:
        body["balancingAccountId"] = _account_id(bc, clearing_account)
    try:
        created = bc.create(bc.company_path(batch_set), body)
    except BCPermanentError as exc:
        if exc.code != "Internal_EntityWithSameKeyExists":
            raise
        # Another worker created it between our read and our write: use theirs.
        again = find_batch(bc, batch_set, code)
        if again is None:
            raise
        return again
    logger.info("created journal batch %s in %s", code, batch_set)
    return created


class BatchDirectory:
    """The connector's batches by code, remembered per process (each lookup is a BC request).

    Batches are created once and then only used, so their ids are kept for ``ttl_s``; a person
    deleting a batch makes the next request on the old id answer 404, after which
    ``with_batch`` forgets it and looks again. Payments would otherwise spend one BC
    request in every four on finding a batch that never moves, against BC's rate limit.
    """

    def __init__(self, ttl_s: float = 300.0) -> None:
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str, str], tuple[float, Entity]] = {}

    def _key(self, bc: BCClient, batch_set: str, code: str) -> tuple[str, str, str]:
        return (bc.company_id, batch_set, code.upper())

    def _cached(self, key: tuple[str, str, str]) -> Entity | None:
        with self._lock:
            hit = self._known.get(key)
        if hit is None or time.monotonic() - hit[0] >= self._ttl_s:
            return None
        return hit[1]

    def _remember(self, key: tuple[str, str, str], batch: Entity) -> Entity:
        with self._lock:
            self._known[key] = (time.monotonic(), batch)
        return batch

    def find(self, bc: BCClient, batch_set: str, code: str) -> Entity | None:
        """The batch, or None if BC has none with that code (a miss is not remembered)."""
        key = self._key(bc, batch_set, code)
        batch = self._cached(key)
        if batch is not None:
            return batch
        found = find_batch(bc, batch_set, code)
        return None if found is None else self._remember(key, found)

    def ensure(
        self, bc: BCClient, batch_set: str, code: str, clearing_account: str | None
    ) -> Entity:
        """The batch, created (with the clearing account as balancing account) if missing."""
        key = self._key(bc, batch_set, code)
        batch = self._cached(key)
        if batch is not None:
            return batch
        return self._remember(key, ensure_batch(bc, batch_set, code, clearing_account))

    def forget(self, bc: BCClient, batch_set: str, code: str) -> None:
        with self._lock:
            self._known.pop(self._key(bc, batch_set, code), None)

    def with_batch(
        self,
        bc: BCClient,
        batch_set: str,
        code: str,
        use: Callable[[Entity], _T],
        *,
        create: bool = False,
        clearing_account: str | None = None,
        if_missing: Callable[[], _T] | None = None,
    ) -> _T:
        """``use(batch)`` on the remembered batch; on a 404 (deleted in BC) look again, once.

        A missing batch is created (with the clearing account as balancing account) if
        ``create``; otherwise the answer is ``if_missing()`` when given, else a 404
        ``not_found`` refusal.
        """

        def attempt() -> _T:
            if create:
                return use(self.ensure(bc, batch_set, code, clearing_account))
            batch = self.find(bc, batch_set, code)
            if batch is None:
                if if_missing is not None:
                    return if_missing()
                missing = f"journal batch {code} does not exist in BC"
                raise Rejected("not_found", missing, status=404)
            return use(batch)

        try:
            return attempt()
        except BCNotFound:
            self.forget(bc, batch_set, code)
            return attempt()


def _account_id(bc: BCClient, number: str) -> str:
    found = bc.get(bc.company_path("accounts"), {"$filter": f"number eq {odata_string(number)}"})
    value = found.get("value") or []
    if not value:
        raise Rejected(
            "clearing_account_missing",
            f"G/L account {number} (MLC_BC_CLEARING_ACCOUNT) does not exist in BC",
        )
    return str(value[0]["id"])


def batch_lines(bc: BCClient, batch_set: str, batch_id: str) -> list[Entity]:
    """Every unposted line of a batch (customer payments or general journal lines)."""
    part = "customerPayments" if batch_set == PAYMENT_BATCHES else "journalLines"
    path = bc.company_path(f"{batch_set}({batch_id})/{part}")
    return [line for page in bc.pages(path) for line in page]


def document_posted(bc: BCClient, number: str) -> bool:
    """Whether G/L entries with this document number exist, i.e. it was posted already.

    Posted journal lines vanish from their batch (bc-api.md §4.9); the G/L entries they produced
    keep the document number, which is why the gateway chooses deterministic ones.
    """
    found = bc.get(
        bc.company_path("generalLedgerEntries"),
        {"$filter": f"documentNumber eq {odata_string(number)}", "$top": "1", "$select": "id"},
    )
    return bool(found.get("value"))


def post_batch(bc: BCClient, batch_id: str) -> None:
    """``journals(<id>)/Microsoft.NAV.post``: posts every line of the batch (204)."""
    bc.action(bc.company_path(f"journals({batch_id})/Microsoft.NAV.post"))


# BC's answer to a post of an empty batch (an AL dialog, bc-api.md §6.4).
NOTHING_TO_POST = "There is nothing to post"


def post_connector_journal(
    bc: BCClient,
    code: str,
    configured: Mapping[str, str],
    batches: BatchDirectory,
    *,
    report: bool = True,
    check: Sequence[CheckedLine] = (),
) -> dict[str, Any]:
    """Post one of the connector's own cash-receipt batches; report what was posted.

    Any other batch is refused (422, ``journal``) before BC is asked: posting posts every line
    of a batch, so posting someone else's would book their unreviewed lines. ``report=False``
    (the batch poster, which knows its lines from its own records) skips listing the lines
    first: the post is then the only BC call, and an empty batch is ``posted: null``. ``check``:
    payment lines to hold against their invoices' open amounts first (``open_amounts``), one
    read per post; the lines that overpay come back in ``overpaid``.
    """
    code = configured_journal(code, configured, purpose="payments and refunds")
    overpaid = overpaid_lines(bc, check) if check else []
    if not report:
        return {**_post_unlisted(bc, code, batches), "overpaid": overpaid}

    batch, lines = batches.with_batch(
        bc,
        PAYMENT_BATCHES,
        code,
        lambda found: (found, batch_lines(bc, PAYMENT_BATCHES, str(found["id"]))),
    )
    result: dict[str, Any] = {
        "journal": code,
        "journal_id": batch["id"],
        "posted": len(lines),
        "line_ids": [line["id"] for line in lines],
        "external_document_numbers": [line.get("externalDocumentNumber") for line in lines],
        "overpaid": overpaid,
    }
    if not lines:
        return result  # BC would answer "There is nothing to post." as an error
    post_batch(bc, str(batch["id"]))
    logger.info("posted %d line(s) of journal %s", len(lines), code)
    return result


def _post_unlisted(bc: BCClient, code: str, batches: BatchDirectory) -> dict[str, Any]:
    batch = batches.with_batch(bc, PAYMENT_BATCHES, code, lambda found: found)
    result: dict[str, Any] = {
        "journal": code,
        "journal_id": batch["id"],
        "posted": None,
        "line_ids": [],
        "external_document_numbers": [],
    }
    try:
        post_batch(bc, str(batch["id"]))
    except BCPermanentError as exc:
        if NOTHING_TO_POST.lower() not in exc.message.lower():
            raise
        result["posted"] = 0
        return result
    logger.info("posted journal %s", code)
    return result
