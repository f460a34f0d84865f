"""One typed field reader: required and optional fields of a mapping, checked, with errors naming the path.

Three kinds of mapping are read field by field: the policy file a merchant edits, the
order fixture files, and the JSON answers of the services the bot calls. Each has its
own error wording, which its users (and tests) know: a :class:`FieldWording` holds it,
and a reader subclass picks its wording once::

    class _Entry(FieldReader):
        wording = FieldWording(error=FixtureError, key_separator=": ", ...)

    entry = _Entry(document, "orders.yaml", allowed=("customers", "orders"))
    entry.text("id")          # or FixtureError("orders.yaml: id: is required")

Every message is ``problem`` formatted with the field's ``path`` and the ``problem``
template, itself formatted with ``value`` (the value found), ``described``
(``wording.describe(value)``), ``type`` (its type's name) and, where they apply,
``minimum``, ``choices``, ``pattern``, ``unknown``, ``first_unknown`` and ``known``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, TypeVar

ReaderT = TypeVar("ReaderT", bound="FieldReader")


def type_name(value: Any) -> str:
    """The name of ``value``'s type: what a message may show of a value that may be personal."""
    return type(value).__name__


def describe_value(value: Any) -> str:
    """``value`` as a person editing a YAML file reads it: ``text ('七天')``, ``a list``, ``nothing``."""
    kinds = {
        dict: "a mapping",
        list: "a list",
        str: "text",
        bool: "true/false",
        type(None): "nothing",
    }
    kind = next(
        (label for cls, label in kinds.items() if isinstance(value, cls)), type(value).__name__
    )
    return f"{kind} ({value!r})" if isinstance(value, (str, int, float, date)) else kind


@dataclass(frozen=True)
class FieldWording:
    """How a reader words its errors; the defaults never echo a value (it may be personal).

    Attributes:
        error: The exception raised, called with the message.
        key_separator: Between a mapping's path and a key: ``rules.id`` or ``orders[0]: id``.
        problem: The whole message, from ``path`` and ``problem``.
        element_path: Path of an element of a list of mappings, from ``path``, ``key``
            and ``index``.
        null_is_missing: Whether a key written with no value (null) counts as missing;
            when False, a null is a value of the wrong type.
        strip_text: Whether text is stripped and must not be blank; when False, strings
            are taken as they are.
        describe: How ``{described}`` shows a value.
        not_mapping: The value to read fields from is not a mapping.
        unknown_keys: The mapping has keys outside ``allowed``.
        missing: A required field is absent (or null, see ``null_is_missing``).
        not_text: A text field is not a string (or is blank, see ``strip_text``).
        not_optional_text: An optional text field is not a string; ``not_text`` when None.
        no_match: A text field does not match the pattern it must.
        not_boolean: A boolean field is not true or false.
        not_integer: An integer field is not a whole number (a boolean is not one).
        too_small: An integer field is below its ``minimum``.
        not_one_of: A choice field is not one of its ``choices``.
        not_amount: An amount field is neither a number nor a string.
        invalid_amount: An amount field is a string that is not a decimal number.
        not_finite_amount: An amount field is infinite or not a number.
        not_time: A time field is not ISO 8601.
        time_without_offset: A time field has no UTC offset.
        not_list: A list field is not a list.
        not_texts: A list-of-strings field holds something else.
        not_object: A mapping field is not a mapping.
    """

    error: Callable[[str], Exception] = ValueError
    key_separator: str = "."
    problem: str = "{path}: {problem}"
    element_path: str = "{path}.{key}[{index}]"
    null_is_missing: bool = True
    strip_text: bool = True
    describe: Callable[[Any], str] = type_name
    not_mapping: str = "is not a mapping"
    unknown_keys: str = "unknown field(s) {unknown}"
    missing: str = "is missing"
    not_text: str = "is not text"
    not_optional_text: str | None = None
    no_match: str = "does not match {pattern}"
    not_boolean: str = "is not true or false"
    not_integer: str = "is not a whole number"
    too_small: str = "must be {minimum} or more"
    not_one_of: str = "is not one of {choices}"
    not_amount: str = "is not an amount"
    invalid_amount: str = "is not an amount"
    not_finite_amount: str = "is not a finite amount"
    not_time: str = "is not an ISO 8601 time"
    time_without_offset: str = "is not a time with a UTC offset"
    not_list: str = "is not a list"
    not_texts: str = "is not a list of strings"
    not_object: str = "is not a mapping"


# The wording of settings files a person edits (the policy file and its working-day
# calendar): every message says what the value must be and shows what was written.
SETTINGS_FILE_WORDING = FieldWording(
    describe=describe_value,
    not_mapping="must be a mapping of settings, got {described}",
    unknown_keys="unknown setting {first_unknown!r} (known: {known})",
    missing="missing",
    not_text="must be non-empty text, got {described}",
    not_boolean="must be true or false, got {described}",
    not_integer="must be a whole number, got {described}",
    too_small="{value} must be {minimum} or more",
    not_one_of="{value!r} is not one of {choices}",
)


class FieldReader:
    """Typed, checked reads of the fields of one mapping; every error names the field's path.

    Subclasses set :attr:`wording`; :meth:`child` and :meth:`children` read nested
    mappings with the same subclass.

    Attributes:
        wording: How errors are worded (and which exception they are).
        raw: The mapping read.
        path: Where the mapping is, e.g. ``REFUND-DEADLINE`` or ``order.items[]``.

    Args:
        raw: The value to read fields from, which must be a mapping.
        path: Where it is, for errors.
        allowed: The keys it may have; None allows any.
    """

    wording: ClassVar[FieldWording] = FieldWording()

    def __init__(self, raw: object, path: str, allowed: Iterable[str] | None = None) -> None:
        if not isinstance(raw, Mapping):
            raise self.error_at(path, self._say(self.wording.not_mapping, raw))
        self.raw: Mapping[Any, Any] = raw
        self.path = path
        if allowed is not None:
            self._refuse_unknown_keys(set(allowed))

    def _refuse_unknown_keys(self, allowed: set[str]) -> None:
        unknown = [key for key in self.raw if key not in allowed]
        if unknown:
            raise self.error_at(
                self.path,
                self.wording.unknown_keys.format(
                    first_unknown=unknown[0],
                    unknown=", ".join(sorted(str(key) for key in unknown)),
                    known=", ".join(sorted(allowed)),
                ),
            )

    # ---- paths and errors ---------------------------------------------------------------

    def key_path(self, key: object) -> str:
        """The path of field ``key``, e.g. ``REFUND-DEADLINE.arrival_working_days``."""
        return f"{self.path}{self.wording.key_separator}{key}"

    def error_at(self, path: str, problem: str) -> Exception:
        """The error saying ``problem`` about what is at ``path``."""
        return self.wording.error(self.wording.problem.format(path=path, problem=problem))

    def fail(self, key: object, problem: str) -> Exception:
        """The error saying ``problem`` about field ``key``."""
        return self.error_at(self.key_path(key), problem)

    def _say(self, template: str, value: Any, **details: Any) -> str:
        return template.format(
            value=value, described=self.wording.describe(value), type=type_name(value), **details
        )

    def _wrong(self, key: object, template: str, value: Any, **details: Any) -> Exception:
        return self.fail(key, self._say(template, value, **details))

    # ---- required and optional values ---------------------------------------------------

    def has(self, key: object) -> bool:
        """Whether field ``key`` is there with a value (not null)."""
        return self.raw.get(key) is not None

    def value(self, key: object) -> Any:
        """The value of required field ``key``, of any type."""
        if key not in self.raw or (self.wording.null_is_missing and self.raw[key] is None):
            raise self.fail(key, self.wording.missing)
        return self.raw[key]

    # ---- typed fields -------------------------------------------------------------------

    def text(self, key: str, *, pattern: re.Pattern[str] | None = None) -> str:
        """A string field, matching ``pattern`` if given (stripped, see the wording)."""
        value = self.value(key)
        strip = self.wording.strip_text
        if not isinstance(value, str) or (strip and not value.strip()):
            raise self._wrong(key, self.wording.not_text, value)
        if pattern is not None and not pattern.match(value):
            raise self._wrong(key, self.wording.no_match, value, pattern=pattern.pattern)
        return value.strip() if strip else value

    def optional_text(self, key: str) -> str | None:
        """A string field that may be null or absent (None then); blank is allowed."""
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._wrong(key, self.wording.not_optional_text or self.wording.not_text, value)
        return value.strip() if self.wording.strip_text else value

    def choice(self, key: str, choices: Iterable[str]) -> str:
        """A text field that must be one of ``choices``."""
        options = tuple(choices)
        value = self.text(key)
        if value not in options:
            raise self._wrong(key, self.wording.not_one_of, value, choices=", ".join(options))
        return value

    def boolean(self, key: str, *, default: bool | None = None) -> bool:
        """A true/false field; ``default`` when given and the key is absent."""
        value = self.raw.get(key, default) if default is not None else self.value(key)
        if not isinstance(value, bool):
            raise self._wrong(key, self.wording.not_boolean, value)
        return value

    def integer(self, key: str, *, minimum: int | None = None) -> int:
        """A whole-number field (not a boolean), at least ``minimum`` if given."""
        return self.integer_value(self.value(key), self.key_path(key), minimum=minimum)

    def integer_value(self, value: Any, path: str, *, minimum: int | None = None) -> int:
        """Checks a whole number found elsewhere (a key, an entry of a free-form mapping)."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error_at(path, self._say(self.wording.not_integer, value))
        if minimum is not None and value < minimum:
            raise self.error_at(path, self._say(self.wording.too_small, value, minimum=minimum))
        return value

    def amount(self, key: str) -> Decimal:
        """A finite decimal amount, written as a number or a string such as ``"199.00"``."""
        value = self.value(key)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise self._wrong(key, self.wording.not_amount, value)
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise self._wrong(key, self.wording.invalid_amount, value) from None
        if not amount.is_finite():
            raise self._wrong(key, self.wording.not_finite_amount, value)
        return amount

    def optional_amount(self, key: str) -> Decimal | None:
        """An amount field that may be null or absent."""
        return self.amount(key) if self.has(key) else None

    def time(self, key: str) -> datetime:
        """An ISO 8601 time with a UTC offset (``Z`` too), as an aware datetime."""
        value = self.text(key)
        written = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        try:
            moment = datetime.fromisoformat(written)
        except ValueError:
            raise self._wrong(key, self.wording.not_time, value) from None
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise self._wrong(key, self.wording.time_without_offset, value)
        return moment

    def optional_time(self, key: str) -> datetime | None:
        """A time field that may be null or absent."""
        return self.time(key) if self.has(key) else None

    def array(self, key: str) -> list[Any]:
        """A list field."""
        value = self.value(key)
        if not isinstance(value, list):
            raise self._wrong(key, self.wording.not_list, value)
        return value

    def optional_array(self, key: str) -> list[Any]:
        """A list field that may be null or absent (an empty list then)."""
        return self.array(key) if self.has(key) else []

    def texts(self, key: str) -> tuple[str, ...]:
        """A list-of-strings field."""
        values = self.array(key)
        if not all(isinstance(value, str) for value in values):
            raise self._wrong(key, self.wording.not_texts, values)
        return tuple(values)

    def mapping(self, key: str) -> Mapping[Any, Any]:
        """A mapping field, as it is."""
        value = self.value(key)
        if not isinstance(value, Mapping):
            raise self._wrong(key, self.wording.not_object, value)
        return value

    # ---- nested mappings ----------------------------------------------------------------

    def child(self: ReaderT, key: str, allowed: Iterable[str] | None = None) -> ReaderT:
        """A mapping field, read with the same reader class."""
        return type(self)(self.value(key), self.key_path(key), allowed)

    def optional_child(
        self: ReaderT, key: str, allowed: Iterable[str] | None = None
    ) -> ReaderT | None:
        """A mapping field that may be null or absent."""
        return self.child(key, allowed) if self.has(key) else None

    def children(self: ReaderT, key: str, allowed: Iterable[str] | None = None) -> Iterator[ReaderT]:
        """A list-of-mappings field, each element read in turn (so errors come in order)."""
        for index, element in enumerate(self.array(key)):
            path = self.wording.element_path.format(path=self.path, key=key, index=index)
            yield type(self)(element, path, allowed)

    def optional_children(
        self: ReaderT, key: str, allowed: Iterable[str] | None = None
    ) -> Iterator[ReaderT]:
        """A list-of-mappings field that may be null or absent (no elements then)."""
        if self.has(key):
            yield from self.children(key, allowed)
