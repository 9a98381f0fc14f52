"""EDM field types as BC's API pages expose them, and conversion of request values.

Each entity is described by a tuple of :class:`Field` (see ``schemas.py``). This module knows
how each type looks in JSON, what its blank value is (BC returns blanks, never ``null``:
bc-api.md §3.4), how enum members are XML-encoded (``In Review`` -> ``In_x0020_Review``, §3.5),
and how a request value is validated: Code fields are trimmed and upper-cased (§3.6), lengths
are enforced with ``Application_StringExceededLength`` (§3.7), bad enum values raise
``Application_EvaluateException``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from bc_emulator.errors import BCError
from bc_emulator.errors import bad_request
from bc_emulator.jsonio import BLANK_DATE

BLANK_GUID = "00000000-0000-0000-0000-000000000000"
BLANK_DATETIME = datetime(1, 1, 1, tzinfo=UTC)
GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(Z|[+-]\d{2}:\d{2})$"
)


class T(StrEnum):
    """Field kinds; the value is the EDM type name used in error messages."""

    GUID = "Edm.Guid"
    STRING = "Edm.String"
    CODE = "Edm.String "  # a String whose values BC upper-cases; distinct member, same EDM name
    DECIMAL = "Edm.Decimal"
    INT = "Edm.Int32"
    INT64 = "Edm.Int64"
    DATE = "Edm.Date"
    DATETIME = "Edm.DateTimeOffset"
    BOOL = "Edm.Boolean"
    ENUM = "Edm.Enum"

    @property
    def edm(self) -> str:
        """The EDM type name as BC prints it."""
        return self.value.strip()


@dataclass(frozen=True)
class Field:
    """One property of an API page."""

    name: str
    type: T
    read_only: bool = False
    max_length: int | None = None
    members: tuple[str, ...] = ()  # enum members by AL name, e.g. "In Review"


def xml_encode(member: str) -> str:
    """AL enum member name -> OData name: every character outside [A-Za-z0-9_] as ``_xHHHH_``."""
    return "".join(
        ch if (ch.isascii() and (ch.isalnum() or ch == "_")) else f"_x{ord(ch):04X}_"
        for ch in member
    )


def xml_decode(name: str) -> str:
    """Inverse of :func:`xml_encode`."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), name)


def new_guid() -> str:
    """A fresh lowercase GUID."""
    return str(uuid.uuid4())


def blank(field: Field) -> Any:
    """BC's blank value for the field's type (bc-api.md §3.4)."""
    kind = field.type
    if kind is T.GUID:
        return BLANK_GUID
    if kind in (T.STRING, T.CODE):
        return ""
    if kind is T.DECIMAL:
        return Decimal(0)
    if kind in (T.INT, T.INT64):
        return 0
    if kind is T.DATE:
        return BLANK_DATE
    if kind is T.DATETIME:
        return BLANK_DATETIME
    if kind is T.BOOL:
        return False
    return field.members[0] if field.members else " "


def parse_datetime(text: str) -> datetime | None:
    """Parse an ISO 8601 datetime with ``Z`` or an offset; ``None`` if it is not one."""
    match = DATETIME_RE.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, frac, zone = match.groups()
    micro = int((frac or "0").ljust(6, "0")[:6])
    try:
        value = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro
        )
    except ValueError:
        return None
    if zone == "Z":
        return value.replace(tzinfo=UTC)
    aware = datetime.fromisoformat(value.isoformat() + zone)
    return aware.astimezone(UTC)


def parse_date(text: str) -> date | None:
    """Parse ``YYYY-MM-DD``; ``None`` if it is not a date."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _conversion_error(value: Any, field: Field) -> BCError:
    return bad_request(
        f"Cannot convert the literal '{value}' to the expected type '{field.type.edm}'."
    )


def check_length(field: Field, text: str) -> None:
    """Raise ``Application_StringExceededLength`` when ``text`` is longer than allowed."""
    if field.max_length is not None and len(text) > field.max_length:
        raise BCError(
            400,
            "Application_StringExceededLength",
            f"The length of the string is {len(text)}, but it must be less than or equal to "
            f"{field.max_length} characters. Value: {text}",
        )


def coerce(field: Field, value: Any) -> Any:
    """Validate one request value for ``field`` and return its stored Python form."""
    if value is None:
        edm = field.type.edm
        raise bad_request(
            f"A null value was found for the property named '{field.name}', which has the "
            f"expected type '{edm}[Nullable=False]'. The expected type '{edm}[Nullable=False]' "
            "does not allow null values."
        )
    kind = field.type
    if kind in (T.STRING, T.CODE):
        if not isinstance(value, str):
            raise _conversion_error(value, field)
        text = value.strip().upper() if kind is T.CODE else value
        check_length(field, text)
        return text
    if kind is T.GUID:
        if not isinstance(value, str) or not GUID_RE.match(value):
            raise _conversion_error(value, field)
        return value.lower()
    if kind is T.DECIMAL:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise _conversion_error(value, field)
        return Decimal(value)
    if kind in (T.INT, T.INT64):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _conversion_error(value, field)
        return value
    if kind is T.BOOL:
        if not isinstance(value, bool):
            raise _conversion_error(value, field)
        return value
    if kind is T.DATE:
        parsed_date = parse_date(value) if isinstance(value, str) else None
        if parsed_date is None:
            raise _conversion_error(value, field)
        return parsed_date
    if kind is T.DATETIME:
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            raise _conversion_error(value, field)
        return parsed
    return _coerce_enum(field, value)


def _coerce_enum(field: Field, value: Any) -> str:
    if not isinstance(value, str):
        raise _conversion_error(value, field)
    for member in field.members:
        if value in (xml_encode(member), member):
            return member
    options = ",".join(xml_encode(m) for m in field.members)
    raise BCError(
        400,
        "Application_EvaluateException",
        f"'{value}' is not an option. The existing options are: {options}",
    )


def to_json_value(field: Field, value: Any) -> Any:
    """Stored Python value -> the typed value put in a response (enums XML-encoded)."""
    if field.type is T.ENUM:
        return xml_encode(str(value))
    return value
