"""`GET /v1/account`: the account the API key belongs to.

What stripe-python 16.1.0 calls for `client.v1.accounts.retrieve_current()`
(`_account_service.py`: `GET /v1/account`) and for `stripe.Account.retrieve()` without an id
(`_account.py` `_build_instance_url`: no id -> `/v1/account`). The body is
`account_profile.account_object`, built from the `account_id`, `default_currency` and
`account` settings. A restricted key needs the `account` (or `account:read`) permission, like
every other resource family (`auth.py`); Connect (`/v1/accounts/...`) is not modelled.
"""

from __future__ import annotations

from flask import Blueprint
from flask import g

from .account_profile import account_object
from .forms import Params
from .state import get_state
from .store import Record

bp = Blueprint("account", __name__)


@bp.get("/v1/account")
def retrieve_current_account() -> Record:
    state, params = get_state(), Params(g.params)
    # `expand` is accepted (nothing on the emulated account is expandable).
    params.check_known(("expand",))
    config = state.config
    return account_object(config.account_id, config.default_currency, config.account)
