"""Refusals decided by the gateway itself (before or instead of asking BC).

Raised by the use cases and translated once, at the HTTP edge, into a JSON error with a stable
code: a payment in another currency than its invoice, a positive customer payment, a journal the
connector does not own. BC's own refusals are ``adapters.bc_errors.BCPermanentError`` instead.
"""

from __future__ import annotations


class Rejected(Exception):
    """The command cannot be carried out as asked; ``code`` is stable, ``status`` HTTP's."""

    def __init__(self, code: str, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
