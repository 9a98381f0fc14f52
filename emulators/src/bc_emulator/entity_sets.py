"""The base class every emulated entity set derives from, plus ETags and body parsing.

An :class:`EntitySet` knows its schema, where its rows live (``rows``), how to read one
property (``get``: computed properties override stored ``values``), and optionally how to
create, update, delete and run bound actions. The generic OData machinery in ``api.py`` does the
rest (filtering, paging, envelopes, ``If-Match``), so each resource module only writes business
rules. Request bodies go through :meth:`EntitySet.parse_body`, which rejects unknown and
read-only properties the way BC does and converts values with ``edm.coerce``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from bc_emulator import jsonio
from bc_emulator.config import EmulatorConfig
from bc_emulator.edm import Field
from bc_emulator.edm import blank
from bc_emulator.edm import coerce
from bc_emulator.edm import to_json_value
from bc_emulator.errors import BCError
from bc_emulator.errors import bad_request
from bc_emulator.models import Company
from bc_emulator.models import Record
from bc_emulator.schemas import by_name
from bc_emulator.store import Environment
from bc_emulator.store import Store


@dataclass
class Scope:
    """Where a request operates: environment, company, parent record of a navigation."""

    store: Store
    env: Environment
    config: EmulatorConfig
    company: Company | None = None
    parent: Any = None
    user_id: str = ""
    constraints: dict[str, Any] = field(default_factory=dict)

    @property
    def co(self) -> Company:
        """The company (company-scoped sets only)."""
        assert self.company is not None
        return self.company

    def emit(self, entity_set: str, key: str, change_type: str) -> None:
        """Announce a change for webhooks."""
        self.store.emit(self.env, self.co, entity_set, key, change_type)


def make_etag(key: str, version: int) -> str:
    """A weak ETag shaped like BC's: ``W/"<base64 of '44;<base64 hash>1;00;'>"``."""
    digest = base64.b64encode(hashlib.sha256(f"{key}:{version}".encode()).digest()).decode()
    inner = base64.b64encode(f"'44;{digest}1;00;'".encode()).decode()
    return f'W/"{inner}"'


Computed = Callable[[Scope, Any], Any]
Action = Callable[[Scope, Any], None]


class EntitySet:
    """Base entity set: read-only unless a subclass overrides the write hooks."""

    name: str = ""
    entity_type: str = ""
    caption: str = ""
    fields: tuple[Field, ...] = ()
    methods: frozenset[str] = frozenset({"GET"})
    quoted_key: bool = False
    deep_insert: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.by_name = by_name(self.fields)
        self.computed: dict[str, Computed] = {}
        self.children: dict[str, EntitySet] = {}
        self.actions: dict[str, Action] = {}
        self.expansions: dict[str, Callable[[Scope, Any, tuple[str, ...] | None], Any]] = {}

    # -- reading -------------------------------------------------------------------------
    def rows(self, scope: Scope) -> Iterable[Any]:
        """All records visible in ``scope`` (insertion order)."""
        raise NotImplementedError

    def key_of(self, rec: Any) -> str:
        """The record's key as it appears in URLs."""
        return str(rec.id)

    def version_of(self, rec: Any) -> int:
        """The record's version (drives the ETag)."""
        return int(rec.version)

    def seq_of(self, rec: Any) -> int:
        """Insertion order, for key-based paging."""
        return int(rec.seq)

    def find(self, scope: Scope, key: str) -> Any | None:
        """The record with ``key`` or ``None``."""
        for rec in self.rows(scope):
            if self.key_of(rec) == key:
                return rec
        return None

    def get(self, scope: Scope, rec: Any, name: str) -> Any:
        """One property's JSON-ready value."""
        spec = self.by_name[name]
        hook = self.computed.get(name)
        if hook is not None:
            value = hook(scope, rec)
        elif name == "id":
            value = rec.id
        elif name == "lastModifiedDateTime":
            value = rec.last_modified
        else:
            value = rec.values.get(name, blank(spec))
        return to_json_value(spec, value)

    def etag(self, rec: Any) -> str:
        """The record's current ``@odata.etag``."""
        return make_etag(self.key_of(rec), self.version_of(rec))

    def serialize(
        self,
        scope: Scope,
        rec: Any,
        select: tuple[str, ...] | None = None,
        expand: Iterable[tuple[str, tuple[str, ...] | None]] = (),
    ) -> dict[str, Any]:
        """The entity as JSON-ready dict: ``@odata.etag``, properties, expansions."""
        out: dict[str, Any] = {"@odata.etag": self.etag(rec)}
        names = select if select is not None else tuple(self.by_name)
        for name in names:
            out[name] = self.get(scope, rec, name)
        for nav, nested in expand:
            out[nav] = self.expansions[nav](scope, rec, nested)
        return out

    def check_select(self, names: Iterable[str]) -> None:
        """Reject unknown properties in ``$select``."""
        for name in names:
            if name not in self.by_name:
                raise bad_request(
                    f"Could not find a property named '{name}' on type "
                    f"'Microsoft.NAV.{self.entity_type}'."
                )

    def check_collection(self, scope: Scope) -> None:
        """Hook: raise when a required filter is missing (e.g. journal lines need journalId)."""

    # -- writing -------------------------------------------------------------------------
    def create(self, scope: Scope, body: dict[str, Any]) -> Any:
        """POST: create and return the new record."""
        raise self.method_not_allowed("POST")

    def update(self, scope: Scope, rec: Any, body: dict[str, Any]) -> None:
        """PATCH: apply ``body`` to ``rec``."""
        raise self.method_not_allowed("PATCH")

    def delete(self, scope: Scope, rec: Any) -> None:
        """DELETE ``rec``."""
        raise self.method_not_allowed("DELETE")

    def method_not_allowed(self, method: str) -> BCError:
        """BC's refusal of a verb on an entity set."""
        return BCError(
            405,
            "BadRequest_MethodNotAllowed",
            f"'{method}' requests for '{self.name}' of EdmType 'Entity' are not allowed within "
            "Microsoft Dynamics 365 Business Central OData web services.",
        )

    def parse_body(
        self, scope: Scope, body: dict[str, Any], current: Any | None = None
    ) -> dict[str, Any]:
        """Validate a request body: known, writable properties, converted to stored form."""
        parsed: dict[str, Any] = {}
        for name, raw in body.items():
            if name.startswith("@odata.") or name in self.deep_insert:
                continue
            spec = self.by_name.get(name)
            if spec is None:
                raise bad_request(
                    f"The property '{name}' does not exist on type "
                    f"'Microsoft.NAV.{self.entity_type}'. Make sure to only use property names "
                    "that are defined by the type."
                )
            if spec.read_only:
                # Clients often echo a whole entity back; an unchanged read-only value is harmless.
                if current is not None and raw == _jsonish(self.get(scope, current, name)):
                    continue
                raise bad_request(
                    f"The property '{name}' is read-only and cannot be modified.",
                    "BadRequest_InvalidOperation",
                )
            parsed[name] = coerce(spec, raw)
        return parsed


def _jsonish(value: Any) -> Any:
    return jsonio.loads(jsonio.dumps(value))


def assign_plain(rec: Record, parsed: dict[str, Any], names: Iterable[str]) -> None:
    """Copy the plain (logic-free) properties from a parsed body into ``rec.values``."""
    for name in names:
        if name in parsed:
            rec.values[name] = parsed[name]
