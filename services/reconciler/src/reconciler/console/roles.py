"""Who may do what in the console: Entra ID app roles, checked in one decorator.

The roles are the app registration's app roles, delivered in the ID token's ``roles`` claim
(learn.microsoft.com/entra/identity-platform/howto-add-app-roles-in-apps): ``Viewer`` reads
everything, ``Clerk`` also resolves, replays, marks handled and approves, ``Admin`` also sees
settings and connections. Each role includes the ones before it, so an Admin never has to be
given Clerk as well. Templates only hide what a role cannot do; the decorator is what refuses.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import ParamSpec
from typing import TypeVar

from flask import abort
from flask import g

P = ParamSpec("P")
R = TypeVar("R")


class Role(enum.IntEnum):
    """App roles in increasing power; a person holds the highest role they were given."""

    VIEWER = 1
    CLERK = 2
    ADMIN = 3

    @property
    def title(self) -> str:
        return self.name.capitalize()


@dataclasses.dataclass(frozen=True)
class Person:
    """The signed-in person, from the ID token's claims."""

    name: str
    username: str
    oid: str
    tid: str
    roles: tuple[str, ...]

    @property
    def role(self) -> Role | None:
        held = [Role[r.upper()] for r in self.roles if r.upper() in Role.__members__]
        return max(held) if held else None

    def can(self, role: Role) -> bool:
        mine = self.role
        return mine is not None and mine >= role

    @property
    def actor(self) -> str:
        """How the audit trail names this person: display name, sign-in name and object id."""
        return f"{self.name} <{self.username}> ({self.oid})"[:128]

    def to_session(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"roles": list(self.roles)}

    @classmethod
    def from_session(cls, data: Mapping[str, Any]) -> Person:
        return cls(
            name=str(data["name"]),
            username=str(data["username"]),
            oid=str(data["oid"]),
            tid=str(data["tid"]),
            roles=tuple(str(r) for r in data.get("roles") or ()),
        )


def current_person() -> Person:
    """The person the console's guard signed in for this request."""
    person: Person = g.person
    return person


def requires(role: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Refuse the view with 403 unless the signed-in person holds ``role`` (or a higher one)."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            if not current_person().can(role):
                abort(403, description=f"This needs the {role.title} role.")
            return view(*args, **kwargs)

        return wrapped

    return decorate
