"""Marshmallow schemas of the reconciler API: what a request may say, and what an answer shows.

Request schemas refuse unknown fields and out-of-range values (422 through
``mlconnector.web``), so a typo in a filter is an error rather than a silently unfiltered list.
Response schemas are the one place a row becomes JSON; the operator CLI's ``--json`` output
uses them too, so both speak the same shapes. Money is shown twice: exact integer minor units,
and a decimal string in the currency's own precision (``from_minor``), never a float.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any

from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import post_load
from marshmallow import pre_load
from marshmallow import validate
from marshmallow import validates_schema

from mlconnector.money import MoneyError
from mlconnector.money import exponent
from mlconnector.money import from_minor
from mlconnector.redaction import redact
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.queries import DEFAULT_PAGE_SIZE
from reconciler.queries import MAX_ID
from reconciler.queries import MAX_PAGE_SIZE
from reconciler.queries import RecordFilter

# Printable text only: actors and reasons end up in logs and audit rows (no log injection).
NO_CONTROL_CHARACTERS = validate.Regexp(
    r"^[^\x00-\x1f\x7f]*$", error="must not contain control characters"
)


def decimal_amount(minor: int | None, currency: str | None) -> str | None:
    """``1050, "usd"`` -> ``"10.50"``; None when the amount or a known currency is missing."""
    if minor is None or not currency:
        return None
    try:
        return str(from_minor(minor, currency))
    except MoneyError:
        return None


def exact_amount(amount: Decimal, currency: str | None) -> str:
    """A stored BC amount in its currency's precision when that is exact (``-10.50``).

    Stored amounts carry ten decimals; an amount finer than its currency keeps its digits.
    """
    try:
        quantum = Decimal(1).scaleb(-exponent(currency or ""))
    except MoneyError:
        return f"{amount.normalize():f}"
    shown = amount.quantize(quantum)
    return f"{shown:f}" if shown == amount else f"{amount.normalize():f}"


class DateOrDateTime(fields.AwareDateTime):
    """An aware ISO 8601 datetime, or a bare date meaning midnight UTC of that day.

    In a query string a ``+`` reads as a space: write offsets as ``Z`` or ``%2B00:00``.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        if isinstance(value, str) and len(value) == 10:
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                pass
            else:
                return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        result: dt.datetime = super()._deserialize(value, attr, data, **kwargs)
        return result


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class PageQuerySchema(_Strict):
    """``limit`` (1..200) and ``cursor`` (the last id of the previous page)."""

    limit = fields.Int(load_default=DEFAULT_PAGE_SIZE, validate=validate.Range(1, MAX_PAGE_SIZE))
    cursor = fields.Int(load_default=None, validate=validate.Range(1, MAX_ID))


class RecordQuerySchema(PageQuerySchema):
    """Filters of ``GET /records``; loads into a ``RecordFilter``."""

    state = fields.Str(validate=validate.OneOf([s.value for s in RecordState]))
    kind = fields.Str(validate=validate.OneOf([k.value for k in RecordKind]))
    bc_ref = fields.Str(validate=validate.Length(1, 64))
    stripe_ref = fields.Str(validate=validate.Length(1, 255))
    since = DateOrDateTime()
    until = DateOrDateTime()

    @validates_schema
    def _window(self, data: dict[str, Any], **_kwargs: Any) -> None:
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and since >= until:
            raise ValidationError("must be later than since", "until")

    @post_load
    def _to_filter(self, data: dict[str, Any], **_kwargs: Any) -> RecordFilter:
        if "state" in data:
            data["state"] = RecordState(data["state"])
        if "kind" in data:
            data["kind"] = RecordKind(data["kind"])
        return RecordFilter(**data)


class ReplayRequestSchema(_Strict):
    """Body of ``POST /records/<id>/replay``: who replays and why (reliability.md §6.7, API6)."""

    reason = fields.Str(required=True, validate=[validate.Length(3, 500), NO_CONTROL_CHARACTERS])
    actor = fields.Str(required=True, validate=[validate.Length(1, 128), NO_CONTROL_CHARACTERS])

    @pre_load
    def _strip(self, data: Any, **_kwargs: Any) -> Any:
        if isinstance(data, dict):
            return {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
        return data


# -- responses --------------------------------------------------------------------------------


class RecordSummarySchema(Schema):
    id = fields.Int()
    kind = fields.Str()
    business_key = fields.Str()
    state = fields.Str()
    bc_company_id = fields.Str(allow_none=True)
    bc_ref = fields.Str(allow_none=True)
    bc_number = fields.Str(allow_none=True)
    stripe_ref = fields.Str(allow_none=True)
    amount_minor = fields.Int(allow_none=True)
    amount = fields.Function(lambda r: decimal_amount(r.amount_minor, r.currency))
    currency = fields.Str(allow_none=True)
    attempts = fields.Int()
    last_error = fields.Str(allow_none=True)
    # What the record needs from a person, if anything (``needs_person``, ``todo``), in lists too.
    flags = fields.Dict()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class RecordSchema(RecordSummarySchema):
    source_message_id = fields.Str(allow_none=True)
    correlation_id = fields.Str(allow_none=True)


class AuditEventSchema(Schema):
    id = fields.Int()
    created_at = fields.DateTime()
    action = fields.Str()
    outcome = fields.Str()
    summary = fields.Str()
    actor = fields.Str()
    duration_ms = fields.Int(allow_none=True)
    message_id = fields.Str(allow_none=True)
    correlation_id = fields.Str(allow_none=True)
    request_summary = fields.Raw(allow_none=True)
    response_summary = fields.Raw(allow_none=True)
    error = fields.Str(allow_none=True)


class PostingSchema(Schema):
    id = fields.Int()
    stripe_id = fields.Str()
    kind = fields.Str()
    state = fields.Str()
    bc_company_id = fields.Str()
    bc_invoice_id = fields.Str(allow_none=True)
    bc_journal_id = fields.Str(allow_none=True)
    bc_line_id = fields.Str(allow_none=True)
    # BC's own signed amount (payments negative), exact, as a string.
    amount = fields.Function(lambda p: exact_amount(p.amount, p.currency))
    amount_minor = fields.Int()
    currency = fields.Str()
    claimed_at = fields.DateTime()
    posted_at = fields.DateTime(allow_none=True)


class DeadLetterSchema(Schema):
    """A parked message as the broker gave it back; the body is shown as text for people.

    The exact bytes stay in the database (``dead_letters.body``); ``body_sha256`` names them.
    """

    id = fields.Int()
    message_id = fields.Str(allow_none=True)
    message_type = fields.Str(allow_none=True)
    routing_key = fields.Str(allow_none=True)
    reason = fields.Str()
    queue = fields.Str(allow_none=True)
    error = fields.Function(lambda d: None if d.error is None else redact(d.error))
    dead_lettered_at = fields.AwareDateTime(allow_none=True)
    recorded_at = fields.AwareDateTime()
    body_size = fields.Function(lambda d: len(d.body))
    body_sha256 = fields.Function(lambda d: hashlib.sha256(d.body).hexdigest())
    body_text = fields.Function(lambda d: redact(bytes(d.body).decode("utf-8", "replace")))


class RecordDetailSchema(Schema):
    """``GET /records/<id>``: the record, its audit trail, its postings, its dead letters."""

    record = fields.Nested(RecordSchema)
    audit = fields.List(fields.Nested(AuditEventSchema))
    postings = fields.List(fields.Nested(PostingSchema))
    dead_letters = fields.List(fields.Nested(DeadLetterSchema))


class PayoutSchema(Schema):
    id = fields.Int()
    stripe_payout_id = fields.Str()
    state = fields.Str()
    record_id = fields.Int(allow_none=True)
    bc_company_id = fields.Str(allow_none=True)
    currency = fields.Str()
    amount_minor = fields.Int()
    amount = fields.Function(lambda p: decimal_amount(p.amount_minor, p.currency))
    fee_minor = fields.Int(allow_none=True)
    fee = fields.Function(lambda p: decimal_amount(p.fee_minor, p.currency))
    net_minor = fields.Int(allow_none=True)
    net = fields.Function(lambda p: decimal_amount(p.net_minor, p.currency))
    arrival_date = fields.Date(allow_none=True)
    fee_line_id = fields.Str(allow_none=True)
    bank_line_id = fields.Str(allow_none=True)
    unmatched = fields.List(fields.Dict())
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class PayoutDetailSchema(Schema):
    """``GET /payouts/<id>``: the payout (null until reconciled), its record and audit trail."""

    payout = fields.Nested(PayoutSchema, allow_none=True)
    record = fields.Nested(RecordSummarySchema, allow_none=True)
    audit = fields.List(fields.Nested(AuditEventSchema))


class ReplayResultSchema(Schema):
    record_id = fields.Int()
    message_id = fields.Str()
    previous_state = fields.Str()
    state = fields.Constant(RecordState.PENDING.value)
    note = fields.Str(allow_none=True)


class DriftRequestSchema(_Strict):
    """Body of ``POST /drift-checks``: who asked, and how far back Stripe is read."""

    actor = fields.Str(
        load_default="drift-check", validate=[validate.Length(1, 128), NO_CONTROL_CHARACTERS]
    )
    lookback_days = fields.Int(load_default=35, validate=validate.Range(min=1, max=365))


class DriftFiguresSchema(Schema):
    currency = fields.Str()
    bc_source = fields.Str()
    figures = fields.Method("_figures")
    explained = fields.Method("_explained")

    def _figures(self, drift: Any) -> dict[str, str]:
        figures: dict[str, str] = drift.figures()
        return figures

    def _explained(self, drift: Any) -> bool:
        return bool(drift.difference == 0)


class DriftResultSchema(Schema):
    currencies = fields.List(fields.Nested(DriftFiguresSchema))
