"""``GET /commands/disputes/<id>``: a dispute with the balance transactions it moved.

The reconciler books each of a dispute's balance transactions once (the withdrawal, and the
reinstatement when it is won), whichever ``charge.dispute.*`` event announced them: one read of
the dispute says all of it, in the pinned SDK's ``Dispute.balance_transactions`` (full objects,
stripe 16.1.0 ``stripe/_dispute.py``).
"""

from __future__ import annotations

from flask import Blueprint

from stripe_gateway.api import dependencies
from stripe_gateway.api import dump
from stripe_gateway.api.schemas import DISPUTE_PREFIXES
from stripe_gateway.api.schemas import DisputeSchema
from stripe_gateway.api.schemas import stripe_path_id
from stripe_gateway.services.reads import read_dispute

bp = Blueprint("disputes", __name__, url_prefix="/commands/disputes")


@bp.get("/<dispute_id>")
def read(dispute_id: str) -> dict[str, object]:
    dispute_id = stripe_path_id(dispute_id, field="dispute_id", prefixes=DISPUTE_PREFIXES)
    return dump(DisputeSchema(), read_dispute(dependencies().stripe, dispute_id))
