"""What both gateways' ``GET /commands/connection`` share: its query and every check's fields.

The runner (:mod:`mlconnector.connection_checks`) stays free of marshmallow; the gateways build
their report schemas on :class:`CheckSchema` and load ``?timeout=`` with
:class:`ConnectionQuerySchema`, so both OpenAPI documents describe the same query.
"""

from __future__ import annotations

from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from mlconnector.connection_checks import DEFAULT_TIMEOUT_S

#: Well inside gunicorn's worker timeout (``MLC_WEB_TIMEOUT``, 60 s by default).
MAX_TIMEOUT_S = 30.0


class ConnectionQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    timeout = fields.Float(
        load_default=DEFAULT_TIMEOUT_S,
        allow_nan=False,
        validate=validate.Range(min=1, max=MAX_TIMEOUT_S),
        metadata={"description": "Seconds the report may take; checks still waiting then say so."},
    )


class CheckSchema(Schema):
    """What every check has; the facts after it are there when the check got that far."""

    ok = fields.Bool(required=True)
    detail = fields.Str(required=True)
    skipped = fields.Bool(
        required=True, metadata={"description": "Not run: a check it depends on failed."}
    )
