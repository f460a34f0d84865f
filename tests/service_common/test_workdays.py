"""The PRC working-day calendar and its section of the policy file."""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from service_common.workdays import (
    CalendarError,
    WorkingDayCalendar,
    calendar_from_section,
    load_working_day_calendar,
)

WORKDAYS_LOGGER = "service_common.workdays"
POLICY_FILE = Path(__file__).resolve().parents[2] / "bot" / "policy" / "aftersales_policy.yml"


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2024, 10, 1), False),  # National Day
        (date(2024, 9, 29), True),  # Sunday, make-up working day
        (date(2024, 9, 28), False),  # Saturday
        (date(2024, 10, 8), True),  # Tuesday
    ],
)
def test_known_years_follow_chinese_calendar(day: date, working: bool) -> None:
    assert WorkingDayCalendar().is_working_day(day) is working


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (-1, date(2024, 10, 8)),
        (-2, date(2024, 9, 30)),
        (-3, date(2024, 9, 29)),
        (-4, date(2024, 9, 27)),
        (0, date(2024, 10, 9)),
        (1, date(2024, 10, 10)),
    ],
)
def test_add_working_days_skips_days_off(count: int, expected: date) -> None:
    assert WorkingDayCalendar().add_working_days(date(2024, 10, 9), count) == expected


def test_unknown_year_falls_back_to_weekdays_with_the_extra_days(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=WORKDAYS_LOGGER)
    calendar = WorkingDayCalendar(
        extra_holidays=[date(2027, 1, 1)], extra_working_days=[date(2027, 2, 20)]
    )
    assert calendar.is_working_day(date(2027, 1, 1)) is False  # Friday, extra holiday
    assert calendar.is_working_day(date(2027, 2, 20)) is True  # Saturday, extra working day
    assert calendar.is_working_day(date(2027, 1, 4)) is True  # Monday
    assert calendar.is_working_day(date(2027, 1, 2)) is False  # Saturday
    warnings = [record.getMessage() for record in caplog.records if record.name == WORKDAYS_LOGGER]
    assert warnings == [
        "chinese_calendar has no official working-day data for 2027; using Monday to Friday "
        "with the policy's 1 extra_holidays and 1 extra_working_days for that year. Update "
        "chinese_calendar or the policy's working_day_calendar."
    ]


def test_a_datetime_is_refused() -> None:
    with pytest.raises(TypeError, match=r"expected a date, got datetime: datetime.datetime\(2024, 10, 9, 10, 0\)"):
        WorkingDayCalendar().is_working_day(datetime(2024, 10, 9, 10, 0))


def test_calendar_from_section() -> None:
    calendar = calendar_from_section(
        {"extra_holidays": {2027: [date(2027, 1, 4), "2027-01-05"]}, "extra_working_days": {2027: []}}
    )
    assert calendar.add_working_days(date(2027, 1, 1), 1) == date(2027, 1, 6)


def test_empty_lists_are_allowed() -> None:
    calendar = calendar_from_section({"extra_holidays": None})
    assert calendar.add_working_days(date(2027, 1, 1), 1) == date(2027, 1, 4)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (None, "working_day_calendar: must be a mapping of settings, got nothing"),
        (
            {"holidays": {}},
            "working_day_calendar: unknown setting 'holidays' (known: extra_holidays, extra_working_days)",
        ),
        (
            {"extra_holidays": [date(2027, 1, 1)]},
            "working_day_calendar.extra_holidays: must map years to lists of dates, got a list",
        ),
        (
            {"extra_holidays": {"2027年": []}},
            "working_day_calendar.extra_holidays.2027年: must be a whole number, got text ('2027年')",
        ),
        (
            {"extra_holidays": {2027: "2027-01-01"}},
            "working_day_calendar.extra_holidays.2027: must be a list of dates, got text ('2027-01-01')",
        ),
        (
            {"extra_working_days": {2027: ["2027-02-30"]}},
            "working_day_calendar.extra_working_days.2027: '2027-02-30' is not a date like 2027-01-01",
        ),
        (
            {"extra_holidays": {2027: [date(2028, 1, 1)]}},
            "working_day_calendar.extra_holidays.2027: 2028-01-01 is not in 2027",
        ),
        (
            {"extra_holidays": {2027: [date(2027, 10, 2)]}, "extra_working_days": {2027: [date(2027, 10, 2)]}},
            "working_day_calendar: 2027-10-02 is both an extra holiday and an extra working day",
        ),
    ],
)
def test_invalid_sections_are_refused(section: Any, message: str) -> None:
    with pytest.raises(CalendarError) as raised:
        calendar_from_section(section)
    assert str(raised.value) == message


def test_the_policy_files_calendar_loads() -> None:
    calendar = load_working_day_calendar(POLICY_FILE)
    assert calendar.is_working_day(date(2027, 1, 1)) is False  # 元旦, from the file
    assert calendar.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)


def test_only_the_calendar_section_is_read(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        "rules: not checked here\nworking_day_calendar:\n  extra_holidays:\n    2027: [2027-01-04]\n",
        encoding="utf-8",
    )
    assert load_working_day_calendar(path).add_working_days(date(2027, 1, 1), 1) == date(2027, 1, 5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a list\n", "must be a mapping with a working_day_calendar section"),
        ("version: 1\n", "working_day_calendar: must be a mapping of settings, got nothing"),
        ("working_day_calendar: [\n", "cannot read the working-day calendar: "),
    ],
)
def test_unusable_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarError) as raised:
        load_working_day_calendar(path)
    assert message in str(raised.value)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yml"
    with pytest.raises(CalendarError) as raised:
        load_working_day_calendar(missing)
    assert str(raised.value) == (
        f"{missing}: cannot read the working-day calendar: [Errno 2] No such file or directory: '{missing}'"
    )
