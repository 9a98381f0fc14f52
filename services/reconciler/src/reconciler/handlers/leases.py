"""Giving a posting or payout lease back after a failed gateway call, when that is safe.

A call the gateway answered (an error code, a refusal, a refused connection) is over: the next
attempt may start at once. A call that may still be running in the gateway (it timed out, or the
connection broke after the request went out) might yet write to BC, so its lease is kept until
it runs out (``GatewayUnavailable.in_doubt``).
"""

from __future__ import annotations

import logging
from typing import TypeVar

from reconciler.adapters.http import GatewayUnavailable
from reconciler.models import Payout
from reconciler.models import Posting
from reconciler.store import release_claim
from reconciler.unit import Unit

logger = logging.getLogger(__name__)

_Leased = TypeVar("_Leased", Posting, Payout)


def give_back(unit: Unit, model: type[_Leased], row_id: int, exc: Exception) -> None:
    """Release this attempt's lease on the row unless ``exc`` leaves the call in doubt.

    Best effort: if the database cannot take it now, the lease simply runs out, and ``exc`` is
    the error worth reporting.
    """
    if isinstance(exc, GatewayUnavailable) and exc.in_doubt:
        return
    try:
        with unit.tx() as session:
            release_claim(session, session.get_one(model, row_id), unit.holder)
    except Exception:
        logger.exception("could not release the claim on %s %s", model.__tablename__, row_id)
