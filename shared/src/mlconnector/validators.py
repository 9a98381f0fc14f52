"""What a gateway command may ask to be written: lengths, characters, amounts (issue 10).

The gateways' command APIs are a trust boundary: whatever passes them is written to Business
Central or Stripe, and neither checks what the connector needs. BC silently rounds an amount to
its currency's precision and stores a NUL or a 10^30 as asked; Stripe keeps any metadata within
its size limits. So every command field is checked here first, and a refusal names the limit
and where it comes from. Both gateways use these functions, so a limit lives in one place.

Each ``check_*`` function returns the value or raises marshmallow ``ValidationError`` with the
reason; the ``Validator`` classes wrap them for schema fields, so a refused command is the usual
422 ``validation_failed`` naming the field.

Limits and their sources:

- BC field lengths (bc-api.md §3.7 and the [SPEC] lengths of §4.9/§4.11): external document
  number Code[35], document number Code[20], account and customer numbers Code[20], journal batch
  code Code[10], description and name Text[100], comment Text[250].
- Control characters (Unicode category Cc: NUL, the rest of C0, DEL, C1) are refused in every
  string: they end up in BC records, Stripe objects, log lines and filter literals, and no
  legitimate value has one. Lone surrogates (Cs) are refused too: they cannot be encoded as
  UTF-8, so the request to BC or Stripe would fail half-way.
- A Code value (BC upper-cases and trims it, bc-api.md §3.6) that the connector writes or filters
  on is ASCII letters, digits, inner spaces and ``_ - . / + #`` only. BC's filter language gives
  ``& | < > = * @ ' ( )`` and ``..`` a meaning (AL ``SETFILTER``), so a value holding them
  cannot be looked up reliably, which the look-before-write idempotency depends on; outside
  ASCII, Python's upper-casing differs from BC's (``"ß".upper()`` is ``"SS"``), so the gateway's
  comparison with what BC stored would fail. Leading or trailing spaces are refused because BC
  trims them, so the stored value would differ from the one sent.
- Stripe metadata (stripe-api.md §4): at most 50 keys, keys 1-40 characters without ``[`` or
  ``]``, values at most 500 characters. Stripe ids are ``<prefix>_<letters and digits>``, at most
  255 characters (Stripe's documented maximum id length).
- Amounts are finite, below 10^12 in absolute value (the stripe-gateway's bound on minor units,
  so anything Stripe can settle can be booked, while ``-1E+30`` cannot), and carry no more
  decimals than their currency has in both Stripe's API and ISO 4217 (``currency_places``):
  BC would round the excess away without a word.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from typing import Final

from marshmallow import ValidationError
from marshmallow.validate import Validator

from mlconnector import money

# -- BC field lengths (bc-api.md §3.7, §4.9, §4.11) ----------------------------------------------
EXTERNAL_DOCUMENT_NUMBER: Final = 35
DOCUMENT_NUMBER: Final = 20
ACCOUNT_NUMBER: Final = 20
CUSTOMER_NUMBER: Final = 20
INVOICE_NUMBER: Final = 20
JOURNAL_CODE: Final = 10
DESCRIPTION: Final = 100
NAME: Final = 100
COMMENT: Final = 250

# -- Stripe (stripe-api.md §4, "Metadata") -------------------------------------------------------
METADATA_MAX_KEYS: Final = 50
METADATA_KEY_LENGTH: Final = 40
METADATA_VALUE_LENGTH: Final = 500
STRIPE_ID_LENGTH: Final = 255

# -- amounts -------------------------------------------------------------------------------------
#: Exclusive bound on minor units (stripe-gateway) and on major units (bc-gateway) alike.
MAX_MINOR_AMOUNT: Final = 10**12
MAX_AMOUNT: Final = Decimal(MAX_MINOR_AMOUNT)
#: The most decimals any currency has (three-decimal currencies such as KWD).
MAX_PLACES: Final = max(min(r.exponent, r.iso_exponent) for r in money.CURRENCIES.values())

_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cs"})
_CODE_CHARACTERS: Final = re.compile(r"[A-Za-z0-9 _\-./+#]*")
_IDENTIFIER: Final = re.compile(r"[A-Za-z0-9_.\-]+")
_STRIPE_ID_BODY: Final = re.compile(r"[A-Za-z0-9]+")


def _fail(message: str) -> ValidationError:
    return ValidationError(message)


def control_character(text: str) -> tuple[int, str] | None:
    """The first refused character of ``text`` (position, ``U+XXXX``), or None."""
    for position, char in enumerate(text):
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            return position, f"U+{ord(char):04X}"
    return None


def _no_control_characters(text: str) -> None:
    found = control_character(text)
    if found is not None:
        position, code = found
        raise _fail(f"contains the control character {code} at position {position}")


def _length(text: str, min_length: int, max_length: int, kind: str) -> None:
    if len(text) < min_length:
        raise _fail("must not be empty" if min_length == 1 else f"needs {min_length} characters")
    if len(text) > max_length:
        raise _fail(f"is {len(text)} characters long; at most {max_length} fit ({kind})")


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise _fail("must be a string")
    return value


def check_text(value: object, *, max_length: int, min_length: int = 0, kind: str = "") -> str:
    """Free text (a BC Text field, a Stripe description): bounded, no control characters."""
    text = _string(value)
    _no_control_characters(text)
    _length(text, min_length, max_length, kind or f"Text[{max_length}]")
    return text


def check_code(value: object, *, max_length: int, min_length: int = 1) -> str:
    """A BC Code value the connector writes or filters on (see the module docstring)."""
    text = _string(value)
    _no_control_characters(text)
    _length(text, min_length, max_length, f"BC Code[{max_length}]")
    if not _CODE_CHARACTERS.fullmatch(text):
        bad = next(ch for ch in text if not _CODE_CHARACTERS.fullmatch(ch))
        raise _fail(
            f"contains {bad!r}; a BC Code value here takes ASCII letters, digits, inner spaces "
            "and _ - . / + # only"
        )
    if ".." in text:
        raise _fail("contains '..', BC's range operator in filters")
    if text != text.strip():
        raise _fail("starts or ends with a space, which BC trims from a Code value")
    return text


def check_identifier(value: object, *, max_length: int = 100) -> str:
    """An opaque id the gateway joins into idempotency keys and search queries.

    Letters, digits and ``_ . -`` only: a ``:`` would make ``mlc:{company}:{invoice}:step`` keys
    ambiguous between two different pairs of ids, and a quote would end a search literal.
    """
    text = _string(value)
    _no_control_characters(text)
    _length(text, 1, max_length, "an id")
    if not _IDENTIFIER.fullmatch(text):
        raise _fail("takes ASCII letters, digits and _ . - only")
    return text


def check_stripe_id(value: object, prefixes: Collection[str]) -> str:
    """A Stripe object id with one of ``prefixes`` (``ch``, ``in``, ...): ``ch_3Ab...``."""
    text = _string(value)
    _no_control_characters(text)
    _length(text, 1, STRIPE_ID_LENGTH, "a Stripe id")
    prefix, _, body = text.partition("_")
    if prefix not in prefixes or not _STRIPE_ID_BODY.fullmatch(body):
        shown = " or ".join(f"{p}_..." for p in sorted(prefixes))
        raise _fail(f"is not a Stripe id of the expected kind ({shown})")
    return text


def check_metadata(value: object, *, max_keys: int = METADATA_MAX_KEYS) -> dict[str, str]:
    """Stripe metadata: string keys and values within Stripe's limits, no control characters.

    The error names the offending key, so a caller can tell which of 50 entries is wrong.
    """
    if not isinstance(value, Mapping):
        raise _fail("must be an object of string keys and values")
    if len(value) > max_keys:
        raise _fail(f"has {len(value)} keys; at most {max_keys} fit (Stripe metadata)")
    errors: dict[str, list[str]] = {}
    for key, item in value.items():
        try:
            check_text(key, min_length=1, max_length=METADATA_KEY_LENGTH, kind="a metadata key")
            if "[" in key or "]" in key:
                raise _fail("a metadata key cannot contain '[' or ']'")
        except ValidationError as exc:
            errors[str(key)[:METADATA_KEY_LENGTH]] = [f"key {_reason(exc)}"]
            continue
        try:
            check_text(item, max_length=METADATA_VALUE_LENGTH, kind="a metadata value")
        except ValidationError as exc:
            errors[key] = [f"value {_reason(exc)}"]
    if errors:
        raise ValidationError(errors)
    return dict(value)


def _reason(exc: ValidationError) -> str:
    messages = exc.messages
    return messages[0] if isinstance(messages, list) else str(messages)


def decimal_places(amount: Decimal) -> int:
    """How many decimals ``amount`` really has (``Decimal("1.50")`` has 1), exactly.

    Computed on the digits, never with a decimal context: ``normalize`` or ``quantize`` would
    round to 28 digits first and could hide the very digit this is meant to find.
    """
    _, digits, exponent = amount.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"{amount} is not a finite number")
    trailing_zeros = len(digits) - len(bytes(digits).rstrip(b"\0"))
    if trailing_zeros == len(digits):
        return 0
    return max(0, -(exponent + trailing_zeros))


def currency_places(currency: str) -> int:
    """Decimals an amount in ``currency`` may carry: exact in Stripe's unit and in ISO 4217's.

    The amount came from Stripe (whose minor unit is ``exponent``) and BC rounds to the
    currency's precision (ISO 4217's by default); an amount the connector books must survive
    both unchanged. ``MoneyError`` if the currency is unknown.
    """
    rule = money.rules(currency)
    return min(rule.exponent, rule.iso_exponent)


def check_amount(amount: object, *, places: int = MAX_PLACES) -> Decimal:
    """A finite Decimal below ``MAX_AMOUNT`` in absolute value with at most ``places`` decimals.

    Every step is exact (``copy_abs``, digit counting), so ``1E+999999999`` or a 40-digit
    fraction is refused rather than rounded or overflowed on the way.
    """
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise _fail("must be a finite decimal number")
    if amount.copy_abs() >= MAX_AMOUNT:
        raise _fail(f"{amount} is out of range: the absolute value must be below {MAX_AMOUNT:,}")
    found = decimal_places(amount)
    if found > places:
        raise _fail(f"{amount} has {found} decimals; at most {places} are allowed here")
    return amount


def check_currency_amount(amount: object, currency: str) -> Decimal:
    """``check_amount`` with the decimals ``currency`` allows (``currency_places``)."""
    try:
        places = currency_places(currency)
    except money.MoneyError as exc:
        raise _fail(str(exc)) from None
    try:
        return check_amount(amount, places=places)
    except ValidationError as exc:
        raise _fail(f"{_reason(exc)} ({currency.upper()} has {places})") from None


def check_currency(value: object) -> str:
    """A currency code the connector knows (``mlconnector.money``), in any case."""
    text = _string(value)
    try:
        money.rules(text)
    except money.MoneyError as exc:
        raise _fail(str(exc)) from None
    return text


# -- marshmallow validators ----------------------------------------------------------------------


class Text(Validator):
    """Field validator for ``check_text``."""

    def __init__(self, max_length: int, *, min_length: int = 0, kind: str = "") -> None:
        self.max_length = max_length
        self.min_length = min_length
        self.kind = kind

    def _repr_args(self) -> str:
        return f"max_length={self.max_length!r}, min_length={self.min_length!r}"

    def __call__(self, value: Any) -> str:
        return check_text(
            value, max_length=self.max_length, min_length=self.min_length, kind=self.kind
        )


class Code(Validator):
    """Field validator for ``check_code``."""

    def __init__(self, max_length: int, *, min_length: int = 1) -> None:
        self.max_length = max_length
        self.min_length = min_length

    def _repr_args(self) -> str:
        return f"max_length={self.max_length!r}"

    def __call__(self, value: Any) -> str:
        return check_code(value, max_length=self.max_length, min_length=self.min_length)


class Identifier(Validator):
    """Field validator for ``check_identifier``."""

    def __init__(self, max_length: int = 100) -> None:
        self.max_length = max_length

    def _repr_args(self) -> str:
        return f"max_length={self.max_length!r}"

    def __call__(self, value: Any) -> str:
        return check_identifier(value, max_length=self.max_length)


class StripeId(Validator):
    """Field validator for ``check_stripe_id``."""

    def __init__(self, *prefixes: str) -> None:
        self.prefixes = frozenset(prefixes)

    def _repr_args(self) -> str:
        return f"prefixes={sorted(self.prefixes)!r}"

    def __call__(self, value: Any) -> str:
        return check_stripe_id(value, self.prefixes)


class Metadata(Validator):
    """Field validator for ``check_metadata``."""

    def __init__(self, max_keys: int = METADATA_MAX_KEYS) -> None:
        self.max_keys = max_keys

    def _repr_args(self) -> str:
        return f"max_keys={self.max_keys!r}"

    def __call__(self, value: Any) -> dict[str, str]:
        return check_metadata(value, max_keys=self.max_keys)


class Amount(Validator):
    """Field validator for ``check_amount`` (currency-independent part)."""

    def __init__(self, places: int = MAX_PLACES) -> None:
        self.places = places

    def _repr_args(self) -> str:
        return f"places={self.places!r}"

    def __call__(self, value: Any) -> Decimal:
        return check_amount(value, places=self.places)


class Currency(Validator):
    """Field validator for ``check_currency``."""

    def __call__(self, value: Any) -> str:
        return check_currency(value)
