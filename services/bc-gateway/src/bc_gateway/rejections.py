"""Refusals decided by the gateway itself (before or instead of asking BC).

Raised by the use cases and translated once, at the HTTP edge, into a JSON error with a stable
code: a payment in another currency than its invoice, a positive customer payment, a journal the
connector does not own. BC's own refusals are ``adapters.bc_errors.BCPermanentError`` instead.

A refusal about one field of the command names it (``field``, dotted for nested values such as
``lines.0.amount``), and its details take the shape marshmallow's ``validation_failed`` has
(``{"fields": {"lines": {"0": {"amount": [reason]}}}}``), so a caller reads every 422 the same
way whether the schema or the use case refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Rejected(Exception):
    """The command cannot be carried out as asked; ``code`` is stable, ``status`` HTTP's."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 422,
        field: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.field = field
        self.extra = dict(details or {})

    def details(self) -> dict[str, Any]:
        """The error body's ``details``: the field with the reason, plus any extra facts."""
        body: dict[str, Any] = dict(self.extra)
        if self.field:
            nested: Any = [self.message]
            for part in reversed(self.field.split(".")):
                nested = {part: nested}
            body["fields"] = nested
        return body
