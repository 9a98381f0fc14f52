"""Control surface, part 2: settings, clock, faults, request log, deliveries.

- `POST /_emulator/reset` `{keep_config?}`
- `GET /_emulator/clock`; `POST /_emulator/clock/advance` `{seconds}`;
  `POST /_emulator/clock` `{now}`
- `GET|POST /_emulator/config` (POST merges the given fields: fees, rate limits, search
  delay, latency, delivery knobs, keys; see config.py)
- `GET|POST|DELETE /_emulator/faults` (POST `{status?, count?, method?, path?, stage?, kind?,
  type?, code?, message?, should_retry?, headers?}`; `path` is a prefix, or a whole-path
  pattern with `*`, see limits.py)
- `GET|DELETE /_emulator/requests`, `GET /_emulator/requests/count` `?method=&path=`
- `GET /_emulator/deliveries` `?event=&endpoint=`; `POST /_emulator/deliveries/flush` `{timeout?}`
- `POST /_emulator/search/flush` (make the search index current)
"""

from __future__ import annotations

from flask import Blueprint
from flask import request

from .admin_actions import body
from .errors import param_invalid
from .limits import Fault
from .state import get_state
from .store import Record

bp = Blueprint("admin_knobs", __name__, url_prefix="/_emulator")


@bp.post("/reset")
def reset() -> Record:
    state = get_state()
    state.reset(keep_config=bool(body().get("keep_config", False)))
    return {"reset": True}


@bp.get("/clock")
def clock() -> Record:
    return {"now": get_state().clock.now()}


@bp.post("/clock/advance")
def advance_clock() -> Record:
    seconds = body().get("seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        raise param_invalid("seconds", "seconds must be a number")
    return {"now": get_state().clock.advance(float(seconds))}


@bp.post("/clock")
def set_clock() -> Record:
    now = body().get("now")
    if not isinstance(now, int | float) or isinstance(now, bool):
        raise param_invalid("now", "now must be a unix timestamp")
    return {"now": get_state().clock.set(float(now))}


@bp.get("/config")
def show_config() -> Record:
    return get_state().config.to_dict()


@bp.post("/config")
def update_config() -> Record:
    state = get_state()
    with state.lock:
        try:
            state.config.update(body())
        except (ValueError, TypeError) as exc:
            raise param_invalid("config", str(exc)) from exc
        state.apply_config()
        return state.config.to_dict()


@bp.get("/faults")
def list_faults() -> Record:
    return {"faults": get_state().faults.describe()}


@bp.post("/faults")
def add_fault() -> Record:
    state = get_state()
    try:
        fault = Fault.from_spec(body())
    except (ValueError, TypeError) as exc:
        raise param_invalid("fault", str(exc)) from exc
    state.faults.add(fault)
    return {"faults": state.faults.describe()}


@bp.delete("/faults")
def clear_faults() -> Record:
    get_state().faults.clear()
    return {"faults": []}


@bp.get("/requests")
def list_requests() -> Record:
    method, path = request.args.get("method"), request.args.get("path")
    return {"requests": get_state().requests.describe(method, path)}


@bp.get("/requests/count")
def count_requests() -> Record:
    method, path = request.args.get("method"), request.args.get("path")
    return get_state().requests.counts(method, path)


@bp.delete("/requests")
def clear_requests() -> Record:
    get_state().requests.clear()
    return {"requests": []}


@bp.get("/deliveries")
def list_deliveries() -> Record:
    dispatcher = get_state().dispatcher
    event, endpoint = request.args.get("event"), request.args.get("endpoint")
    return {"deliveries": dispatcher.describe(event, endpoint) if dispatcher else []}


@bp.post("/deliveries/flush")
def flush_deliveries() -> Record:
    # No state lock here: receivers may call back into the API while we wait for them.
    dispatcher = get_state().dispatcher
    timeout = body().get("timeout", 10)
    sent = dispatcher.flush(float(timeout)) if dispatcher else 0
    return {"attempted": sent}


@bp.post("/search/flush")
def flush_search() -> Record:
    state = get_state()
    with state.lock:
        state.store.flush_index()
    return {"flushed": True}
