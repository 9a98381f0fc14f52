"""The emulator's whole state: environments, companies, subscriptions, one lock.

A single re-entrant lock protects everything; request handlers hold it for the (in-memory, fast)
duration of an operation and release it before any outbound HTTP (webhook handshakes and
deliveries). Changes to webhook-capable entities are announced through :meth:`Store.emit`, which
hands a :class:`ChangeEvent` to the listeners (the notifier) while the lock is held, so the order
of notifications matches the order of changes.

:meth:`Store.transaction` makes a unit of work all-or-nothing (an ``Isolation: snapshot``
``$batch``, bc-api.md §6.3): it holds the lock throughout, so no other request interleaves; each
company is copied before its first change (:meth:`Transaction.protect`) and change events are held
back, so a rollback restores the companies and drops the notifications BC would never send for
changes that never happened; a commit publishes them in order.
"""

from __future__ import annotations

import itertools
import pickle
import threading
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from bc_emulator.clock import Clock
from bc_emulator.models import Company


@dataclass(frozen=True)
class ChangeEvent:
    """One change BC would notify about (bc-api.md §7.4)."""

    tenant: str
    environment: str
    company_id: str
    entity_set: str
    key: str
    change_type: str  # created | updated | deleted
    at: datetime


@dataclass(kw_only=True)
class Subscription:
    """A webhook subscription (bc-api.md §7.1)."""

    id: str
    tenant: str
    environment: str
    notification_url: str
    resource: str
    client_state: str
    user_id: str
    company_id: str
    entity_set: str
    created_at: datetime
    modified_at: datetime
    expiration: datetime
    version: int = 1
    timestamp: int = 0

    def to_values(self) -> dict[str, Any]:
        """The subscription object as the API returns it."""
        return {
            "subscriptionId": self.id,
            "notificationUrl": self.notification_url,
            "resource": self.resource,
            "timestamp": self.timestamp,
            "userId": self.user_id,
            "lastModifiedDateTime": self.modified_at,
            "clientState": self.client_state,
            "expirationDateTime": self.expiration,
            "systemCreatedAt": self.created_at,
            "systemCreatedBy": self.user_id,
            "systemModifiedAt": self.modified_at,
            "systemModifiedBy": self.user_id,
        }


@dataclass
class Environment:
    """One BC environment of one tenant."""

    tenant: str
    name: str
    companies: dict[str, Company] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)


Listener = Callable[[ChangeEvent], None]


class Transaction:
    """Undo information for one all-or-nothing unit of work; see :meth:`Store.transaction`."""

    def __init__(self) -> None:
        self._saved: dict[tuple[int, str], tuple[Environment, Company, bytes]] = {}
        self.events: list[ChangeEvent] = []

    def protect(self, env: Environment, company_id: str) -> None:
        """Copy a company before the unit of work first changes it (absent ones need no copy)."""
        key = (id(env), company_id.lower())
        company = env.companies.get(key[1])
        if company is None or key in self._saved:
            return
        # A pickle round trip is a deep copy several times faster than copy.deepcopy, which
        # matters for bulk-seeded companies; the bytes never leave this process.
        blob = pickle.dumps(company, protocol=pickle.HIGHEST_PROTOCOL)
        self._saved[key] = (env, company, blob)

    def rollback(self) -> None:
        """Put every protected company back as it was and forget the held-back events."""
        for (_, company_id), (env, company, blob) in self._saved.items():
            saved: Company = pickle.loads(blob)  # noqa: S301 - our own bytes, see protect()
            vars(company).clear()
            vars(company).update(vars(saved))  # same object: references to it stay valid
            env.companies[company_id] = company
        self._saved.clear()
        self.events.clear()


class Store:
    """All emulated data plus the lock and the change listeners."""

    def __init__(self, clock: Clock) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.environments: dict[tuple[str, str], Environment] = {}
        self.listeners: list[Listener] = []
        self._seq = itertools.count(1)
        self._transaction: Transaction | None = None

    def next_seq(self) -> int:
        """A new global insertion number."""
        return next(self._seq)

    def reset(self) -> None:
        """Forget every environment, company and subscription."""
        with self.lock:
            self.environments.clear()

    def environment(self, tenant: str, name: str) -> Environment | None:
        """Look up an environment (tenant matched case-insensitively, like Entra)."""
        return self.environments.get((tenant.lower(), name.lower()))

    def ensure_environment(self, tenant: str, name: str) -> Environment:
        """Get or create an environment."""
        key = (tenant.lower(), name.lower())
        env = self.environments.get(key)
        if env is None:
            env = Environment(tenant=tenant, name=name)
            self.environments[key] = env
        return env

    def tenants(self) -> set[str]:
        """Tenants that have at least one environment."""
        return {tenant for tenant, _ in self.environments}

    def find_company(self, company_id: str) -> tuple[Environment, Company] | None:
        """Find a company in any environment (admin API convenience)."""
        for env in self.environments.values():
            company = env.companies.get(company_id.lower())
            if company is not None:
                return env, company
        return None

    def emit(
        self,
        env: Environment,
        company: Company,
        entity_set: str,
        key: str,
        change_type: str,
        at: datetime | None = None,
    ) -> None:
        """Announce a change of a webhook-capable entity to the listeners."""
        event = ChangeEvent(
            tenant=env.tenant,
            environment=env.name,
            company_id=company.id,
            entity_set=entity_set,
            key=key,
            change_type=change_type,
            at=at or self.clock.now(),
        )
        if self._transaction is not None:
            self._transaction.events.append(event)
            return
        for listener in self.listeners:
            listener(event)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Hold the lock for a unit of work that the caller may roll back.

        Changes are undone only for companies passed to :meth:`Transaction.protect` before they
        change; an exception rolls back too. Events are published when the block ends without a
        rollback. Transactions do not nest.
        """
        with self.lock:
            if self._transaction is not None:
                raise RuntimeError("a transaction is already open")
            transaction = Transaction()
            self._transaction = transaction
            try:
                yield transaction
            except BaseException:
                transaction.rollback()
                raise
            finally:
                self._transaction = None
            for event in transaction.events:
                for listener in self.listeners:
                    listener(event)
