"""General journal lines for payouts: fees to the fee G/L account, net to the bank.

``journalLines`` takes only G/L and bank accounts (bc-api.md §4.11); a positive amount debits
``accountNumber`` and credits the balancing account (the line's own, or the batch's clearing
account). Lines are written at most once: a line that is already unposted in the batch (same
external document number, account and amount) is reported as ``existing``; a document number
that already has G/L entries was posted before and its lines are reported as ``posted`` and not
written again. The caller chooses document numbers that are unique per payout for this reason.
With ``post`` the batch is posted afterwards, if it holds any line.

Before anything is written (issue 10) the batch must be the configured general journal
(``MLC_BC_GENERAL_JOURNAL``), every line's absolute amount must be within the command's
``limit`` (for a payout: what the payout settled, so no line can book more than the payout
moved), and the limit and every amount may carry no more decimals than the command's currency
allows: BC would round any excess away silently.

``journalLines`` has no currency field (bc-api.md §4.11): BC gives a line the currency of the
bank account on either side of it, and LCY when neither side is a bank account in another
currency (table 81 "Gen. Journal Line", ``GetBankAccount`` / ``GetBankBalAccount``: a bank
account with a currency code sets the line's currency). So the command names its currency,
and every line must be one BC will book in it: a line in EUR has a EUR bank account on one
side, and a line in LCY has no foreign bank account on either side. Anything else is refused
before BC is asked to write, since BC would silently book the amount in another currency.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.adapters.bc_client import Entity
from bc_gateway.adapters.bc_errors import BCPermanentError
from bc_gateway.adapters.odata import odata_string
from bc_gateway.journals import GENERAL_BATCHES
from bc_gateway.journals import NOTHING_TO_POST
from bc_gateway.journals import batch_lines
from bc_gateway.journals import configured_journal
from bc_gateway.journals import document_posted
from bc_gateway.journals import ensure_batch
from bc_gateway.journals import post_batch
from bc_gateway.postings import Books
from bc_gateway.rejections import Rejected
from bc_gateway.services import LocalCurrency
from bc_gateway.services import decode_enum
from bc_gateway.services import encode_enum
from mlconnector import money
from mlconnector.validators import check_amount
from mlconnector.validators import currency_places

logger = logging.getLogger(__name__)

ACCOUNT_TYPES = ("G/L Account", "Bank Account")
# BC's default Amount Rounding Precision (0.01), for an LCY the money tables do not know.
DEFAULT_PLACES = 2


@dataclasses.dataclass(frozen=True)
class GeneralLine:
    """One G/L or bank line."""

    account_type: str
    account_number: str
    amount: Decimal
    posting_date: dt.date
    document_number: str
    external_document_number: str
    description: str = ""
    balancing_account_type: str | None = None
    balancing_account_number: str | None = None


def _same(existing: Entity, line: GeneralLine) -> bool:
    return (
        str(existing.get("externalDocumentNumber") or "").upper()
        == line.external_document_number.upper()
        and str(existing.get("accountNumber") or "").upper() == line.account_number.upper()
        and decode_enum(existing.get("accountType")) == line.account_type
        and existing.get("amount") == line.amount
    )


def _body(line: GeneralLine) -> dict[str, Any]:
    body: dict[str, Any] = {
        "accountType": encode_enum(line.account_type),
        "accountNumber": line.account_number.upper(),
        "postingDate": line.posting_date,
        "documentNumber": line.document_number.upper(),
        "externalDocumentNumber": line.external_document_number.upper(),
        "amount": line.amount,
        "description": line.description[:100],
    }
    if line.balancing_account_number:
        body["balanceAccountType"] = encode_enum(line.balancing_account_type or "G/L Account")
        body["balancingAccountNumber"] = line.balancing_account_number.upper()
    return body


def check_lines(lines: list[GeneralLine], *, limit: Decimal, places: int) -> None:
    """Refuse the command if the limit or a line is out of bounds (field named, nothing done)."""
    _check_decimals("limit", limit, places)
    for index, line in enumerate(lines):
        field = f"lines.{index}.amount"
        _check_decimals(field, line.amount, places)
        if line.amount.copy_abs() > limit:
            raise Rejected(
                "validation_failed",
                f"{line.amount} is more than the command's limit of {limit} "
                "(what the payout settled)",
                field=field,
            )


def _check_decimals(field: str, value: Decimal, places: int) -> None:
    try:
        check_amount(value, places=places)
    except ValidationError as exc:
        messages = exc.messages
        reason = messages[0] if isinstance(messages, list) else str(messages)
        raise Rejected(
            "validation_failed", f"{reason} (the currency's precision)", field=field
        ) from None


def _places(currency: str) -> int:
    try:
        return currency_places(currency)
    except money.MoneyError:
        return DEFAULT_PLACES


def bank_currency(bc: BCClient, number: str, lcy: str) -> str:
    """The currency BC books a bank account in (its ``currencyCode``; blank is the LCY)."""
    found = (
        bc.get(
            bc.company_path("bankAccounts"),
            {"$filter": f"number eq {odata_string(number.upper())}"},
        ).get("value")
        or []
    )
    if not found:
        raise Rejected(
            "validation_failed", f"BC has no bank account {number.upper()}", field="lines"
        )
    return str(found[0].get("currencyCode") or lcy).upper()


def check_currency(lines: list[GeneralLine], currency: str, bc: BCClient, lcy: str) -> None:
    """Every line must be one BC books in ``currency`` (see the module docstring)."""
    known: dict[str, str] = {}

    def of(number: str) -> str:
        if number.upper() not in known:
            known[number.upper()] = bank_currency(bc, number, lcy)
        return known[number.upper()]

    for index, line in enumerate(lines):
        banks = [line.account_number] if line.account_type == "Bank Account" else []
        if line.balancing_account_number and line.balancing_account_type == "Bank Account":
            banks.append(line.balancing_account_number)
        currencies = {of(number) for number in banks}
        if len(currencies) > 1:
            raise Rejected(
                "validation_failed",
                "the line's two bank accounts are in different currencies",
                field=f"lines.{index}",
            )
        booked_in = currencies.pop() if currencies else lcy
        if booked_in != currency.upper():
            raise Rejected(
                "currency_mismatch",
                f"BC would book line {index} in {booked_in}, not {currency.upper()}: a line in "
                "a foreign currency needs a bank account in that currency on one side",
                field=f"lines.{index}",
            )


def add_general_lines(
    lines: list[GeneralLine],
    *,
    journal: str | None,
    limit: Decimal,
    post: bool,
    bc: BCClient,
    books: Books,
    lcy: LocalCurrency,
    currency: str | None = None,
) -> dict[str, Any]:
    """Write the lines that are not there yet, optionally post; report each line's fate."""
    code = configured_journal(
        journal, {"MLC_BC_GENERAL_JOURNAL": books.general_journal}, purpose="general lines"
    )
    local = lcy.code(bc)
    booked_in = (currency or local).upper()
    check_lines(lines, limit=limit, places=_places(booked_in))
    check_currency(lines, booked_in, bc, local)
    batch = ensure_batch(bc, GENERAL_BATCHES, code, books.clearing_account)
    batch_id = str(batch["id"])
    existing = batch_lines(bc, GENERAL_BATCHES, batch_id)
    posted_documents: dict[str, bool] = {}
    report = []
    for line in lines:
        document = line.document_number.upper()
        if document not in posted_documents:
            posted_documents[document] = document_posted(bc, document)
        entry: dict[str, Any] = {
            "document_number": document,
            "external_document_number": line.external_document_number.upper(),
            "account_number": line.account_number.upper(),
            "line_id": None,
        }
        match = next((x for x in existing if _same(x, line)), None)
        if posted_documents[document]:
            entry["status"] = "posted"
        elif match is not None:
            entry.update(status="existing", line_id=match["id"])
        else:
            created = bc.create(bc.company_path(f"journals({batch_id})/journalLines"), _body(line))
            existing.append(created)
            entry.update(status="created", line_id=created["id"])
        report.append(entry)
    posted = 0
    if post:
        unposted = batch_lines(bc, GENERAL_BATCHES, batch_id)
        if unposted:
            try:
                post_batch(bc, batch_id)
            except BCPermanentError as exc:
                # A concurrent command posted the batch (ours included) between the listing
                # and this post: BC says there is nothing left, which is what was wanted.
                if NOTHING_TO_POST.lower() not in exc.message.lower():
                    raise
            else:
                posted = len(unposted)
                logger.info("posted %d general journal line(s) of %s", posted, code)
    return {"journal": code, "journal_id": batch_id, "lines": report, "posted": posted}
