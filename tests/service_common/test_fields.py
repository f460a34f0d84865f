"""The typed field reader: required and optional fields, errors that name the path."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from service_common.fields import (
    SETTINGS_FILE_WORDING,
    FieldReader,
    FieldWording,
    describe_value,
)


class ReadError(ValueError):
    pass


class SettingsFields(FieldReader):
    wording = replace(SETTINGS_FILE_WORDING, error=ReadError)


class AnswerFields(FieldReader):
    wording = FieldWording(
        error=ReadError,
        problem="{path} {problem}",
        element_path="{path}.{key}[]",
        null_is_missing=False,
        strip_text=False,
    )


class EntryFields(FieldReader):
    wording = FieldWording(
        error=ReadError,
        key_separator=": ",
        element_path="{path}: {key}[{index}]",
        not_mapping="expected a mapping, got {type}",
        missing="is required",
        not_text="expected a non-empty string, got {value!r}",
        no_match="{value!r} does not match {pattern}",
        not_one_of="{value!r} is not one of {choices}",
    )


def error_of(read: Any) -> str:
    with pytest.raises(ReadError) as raised:
        read()
    return str(raised.value)


# ---- reading ------------------------------------------------------------------------


def test_typed_fields_are_read() -> None:
    fields = FieldReader(
        {
            "name": "  张伟 ",
            "paid": True,
            "count": 3,
            "price": "199.00",
            "at": "2024-05-01T10:00:00Z",
            "tags": ["a", "b"],
            "details": {"x": 1},
        },
        "order",
    )
    assert fields.text("name") == "张伟"
    assert fields.boolean("paid") is True
    assert fields.integer("count", minimum=1) == 3
    assert fields.amount("price") == Decimal("199.00")
    assert fields.time("at") == datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
    assert fields.array("tags") == ["a", "b"]
    assert fields.texts("tags") == ("a", "b")
    assert fields.mapping("details") == {"x": 1}


def test_optional_fields_absent_or_null_are_none_or_empty() -> None:
    fields = FieldReader({"note": None}, "order")
    assert fields.has("note") is False
    assert fields.optional_text("note") is None
    assert fields.optional_text("other") is None
    assert fields.optional_amount("note") is None
    assert fields.optional_time("note") is None
    assert fields.optional_array("note") == []
    assert fields.optional_child("note") is None
    assert list(fields.optional_children("note")) == []


def test_optional_text_may_be_blank() -> None:
    assert FieldReader({"note": "  "}, "order").optional_text("note") == ""


def test_boolean_default_applies_only_when_the_key_is_absent() -> None:
    fields = EntryFields({"written_null": None}, "a.yaml")
    assert fields.boolean("absent", default=False) is False
    assert error_of(lambda: fields.boolean("written_null", default=False)) == (
        "a.yaml: written_null: is not true or false"
    )


def test_time_with_an_offset_keeps_it() -> None:
    moment = FieldReader({"at": "2024-05-01T10:00:00+08:00"}, "x").time("at")
    assert moment.utcoffset() == timedelta(hours=8)


def test_choice_is_stripped_text_among_the_choices() -> None:
    assert EntryFields({"status": " paid "}, "a.yaml").choice("status", ("paid", "shipped")) == "paid"
    assert error_of(lambda: EntryFields({"status": "lost"}, "a.yaml").choice("status", ("paid", "shipped"))) == (
        "a.yaml: status: 'lost' is not one of paid, shipped"
    )


def test_text_pattern_is_checked() -> None:
    pattern = re.compile(r"^[0-9]+$")
    assert EntryFields({"id": "42"}, "a.yaml").text("id", pattern=pattern) == "42"
    assert error_of(lambda: EntryFields({"id": "4x"}, "a.yaml").text("id", pattern=pattern)) == (
        "a.yaml: id: '4x' does not match ^[0-9]+$"
    )


# ---- nested mappings and their paths ---------------------------------------------------


def test_child_and_children_keep_the_reader_class_and_extend_the_path() -> None:
    fields = EntryFields({"payment": {"method": "alipay"}, "items": [{"sku": "S-1"}, {"sku": "S-2"}]}, "a.yaml")
    payment = fields.child("payment", ("method",))
    items = list(fields.children("items", ("sku",)))
    assert isinstance(payment, EntryFields)
    assert payment.path == "a.yaml: payment"
    assert [item.path for item in items] == ["a.yaml: items[0]", "a.yaml: items[1]"]
    assert [item.text("sku") for item in items] == ["S-1", "S-2"]


def test_children_are_read_in_turn() -> None:
    elements = EntryFields({"items": [{"sku": "S-1"}, "not a mapping"]}, "a.yaml").children("items")
    first = next(elements)
    assert first.text("sku") == "S-1"
    assert error_of(lambda: next(elements)) == "a.yaml: items[1]: expected a mapping, got str"


def test_answer_wording_element_paths_have_no_index() -> None:
    [item] = AnswerFields({"items": [{"price": None}]}, "order").children("items")
    assert item.path == "order.items[]"
    assert error_of(lambda: item.amount("price")) == "order.items[].price is not an amount"


# ---- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "message"),
    [
        (lambda f: f.value("absent"), "order.absent is missing"),
        (lambda f: f.text("null"), "order.null is not text"),
        (lambda f: f.text("number"), "order.number is not text"),
        (lambda f: f.boolean("text"), "order.text is not true or false"),
        (lambda f: f.integer("flag"), "order.flag is not a whole number"),
        (lambda f: f.integer("number", minimum=10), "order.number must be 10 or more"),
        (lambda f: f.amount("text"), "order.text is not an amount"),
        (lambda f: f.amount("infinite"), "order.infinite is not a finite amount"),
        (lambda f: f.amount("flag"), "order.flag is not an amount"),
        (lambda f: f.time("text"), "order.text is not an ISO 8601 time"),
        (lambda f: f.time("naive"), "order.naive is not a time with a UTC offset"),
        (lambda f: f.array("text"), "order.text is not a list"),
        (lambda f: f.texts("numbers"), "order.numbers is not a list of strings"),
        (lambda f: f.mapping("text"), "order.text is not a mapping"),
        (lambda f: f.child("text"), "order.text is not a mapping"),
    ],
)
def test_answer_wording_names_the_field_never_the_value(read: Any, message: str) -> None:
    fields = AnswerFields(
        {
            "null": None,
            "number": 5,
            "text": "张伟 13800138000",
            "flag": True,
            "infinite": "Infinity",
            "naive": "2024-05-01T10:00:00",
            "numbers": [1, 2],
        },
        "order",
    )
    assert error_of(lambda: read(fields)) == message


def test_answer_wording_takes_strings_as_they_are() -> None:
    assert AnswerFields({"name": " "}, "customer").text("name") == " "


def test_not_a_mapping_is_refused_with_its_path() -> None:
    assert error_of(lambda: AnswerFields(["a"], "order")) == "order is not a mapping"
    assert error_of(lambda: EntryFields(["a"], "a.yaml")) == "a.yaml: expected a mapping, got list"


def test_null_counts_as_missing_unless_the_wording_says_otherwise() -> None:
    assert error_of(lambda: EntryFields({"id": None}, "a.yaml").text("id")) == "a.yaml: id: is required"
    assert error_of(lambda: AnswerFields({"id": None}, "order").text("id")) == "order.id is not text"


def test_unknown_keys_are_refused() -> None:
    assert error_of(lambda: EntryFields({"b": 1, "a": 2, "id": 3}, "a.yaml", ("id",))) == (
        "a.yaml: unknown field(s) a, b"
    )
    assert error_of(lambda: SettingsFields({"b": 1, "a": 2}, "RULE", ("id", "title"))) == (
        "RULE: unknown setting 'b' (known: id, title)"
    )


def test_settings_file_wording_shows_what_was_written() -> None:
    fields = SettingsFields({"days": "七天", "flag": "是", "title": "", "low": 0}, "RULE")
    assert error_of(lambda: fields.integer("days")) == "RULE.days: must be a whole number, got text ('七天')"
    assert error_of(lambda: fields.boolean("flag")) == "RULE.flag: must be true or false, got text ('是')"
    assert error_of(lambda: fields.text("title")) == "RULE.title: must be non-empty text, got text ('')"
    assert error_of(lambda: fields.integer("low", minimum=1)) == "RULE.low: 0 must be 1 or more"
    assert error_of(lambda: fields.value("absent")) == "RULE.absent: missing"
    assert error_of(lambda: SettingsFields(None, "policy file")) == (
        "policy file: must be a mapping of settings, got nothing"
    )


def test_integer_value_checks_a_value_found_elsewhere() -> None:
    fields = SettingsFields({}, "RULE")
    assert fields.integer_value(3, "RULE.map.a", minimum=0) == 3
    assert error_of(lambda: fields.integer_value(-2, "RULE.map.a", minimum=0)) == "RULE.map.a: -2 must be 0 or more"


def test_fail_and_error_at_use_the_wording() -> None:
    fields = EntryFields({}, "a.yaml")
    assert str(fields.fail("items", "expected a non-empty list")) == "a.yaml: items: expected a non-empty list"
    assert isinstance(fields.error_at("a.yaml", "x"), ReadError)


@pytest.mark.parametrize(
    ("value", "described"),
    [
        ({"a": 1}, "a mapping"),
        ([1], "a list"),
        ("七天", "text ('七天')"),
        (True, "true/false (True)"),
        (None, "nothing"),
        (7, "int (7)"),
        (1.5, "float (1.5)"),
        (date(2027, 1, 1), "date (datetime.date(2027, 1, 1))"),
    ],
)
def test_describe_value(value: object, described: str) -> None:
    assert describe_value(value) == described
