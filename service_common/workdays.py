"""The PRC working-day calendar, shared by the policy and the order system's fixtures.

Working days are those of ``chinese_calendar`` (statutory holidays and make-up working
days, 调休). For a year it has no data for, the calendar falls back to Monday to Friday
corrected by lists of extra holidays and extra working days. Those lists are the
``working_day_calendar`` section of the policy file; :func:`load_working_day_calendar`
reads just that section, so a process can count working days as the bot does without
depending on the bot.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import yaml

from service_common.fields import SETTINGS_FILE_WORDING, FieldReader, describe_value

logger = logging.getLogger(__name__)

CALENDAR_SECTION = "working_day_calendar"


class CalendarError(ValueError):
    """The working-day calendar data cannot be read or is invalid; the message names the field."""


class WorkingDayCalendar:
    """PRC working days: statutory holidays and make-up working days (调休) included.

    Uses ``chinese_calendar``. For a year it has no data for, falls back to Monday to
    Friday, minus the policy's ``extra_holidays``, plus its ``extra_working_days``, and
    logs one warning per year so that operators know to update the package or the file.
    """

    def __init__(
        self,
        *,
        extra_holidays: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
    ) -> None:
        """Creates the calendar.

        Args:
            extra_holidays: Days off used only for years chinese_calendar does not know.
            extra_working_days: Weekend days worked (调休), same condition.
        """
        self._extra_holidays = frozenset(extra_holidays)
        self._extra_working_days = frozenset(extra_working_days)
        self._warned_years: set[int] = set()
        # Actions run in worker threads; the lock keeps the warning to one per year.
        self._warned_lock = threading.Lock()

    def is_working_day(self, day: date) -> bool:
        """Tells whether ``day`` is a PRC working day.

        Args:
            day: A calendar date (not a datetime: convert to the business time zone first).

        Returns:
            True on a working day, False on a weekend day off or a holiday.
        """
        _require_plain_date(day)
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            self._warn_fallback_once(day.year)
            return self._fallback_is_working_day(day)

    def add_working_days(self, day: date, count: int) -> date:
        """Moves ``count`` working days from ``day``; ``day`` itself is not counted.

        Args:
            day: The starting date.
            count: Working days to move: positive is later, negative is earlier
                (-4 is "four working days ago"), 0 returns ``day`` unchanged.

        Returns:
            The ``abs(count)``-th working day after (or before) ``day``.
        """
        _require_plain_date(day)
        step = timedelta(days=1 if count > 0 else -1)
        remaining = abs(count)
        current = day
        while remaining:
            current += step
            if self.is_working_day(current):
                remaining -= 1
        return current

    def _fallback_is_working_day(self, day: date) -> bool:
        if day in self._extra_working_days:
            return True
        if day in self._extra_holidays:
            return False
        return day.weekday() < 5

    def _warn_fallback_once(self, year: int) -> None:
        with self._warned_lock:
            if year in self._warned_years:
                return
            self._warned_years.add(year)
        holidays = sum(1 for day in self._extra_holidays if day.year == year)
        working_days = sum(1 for day in self._extra_working_days if day.year == year)
        logger.warning(
            "chinese_calendar has no official working-day data for %d; using Monday to "
            "Friday with the policy's %d extra_holidays and %d extra_working_days for "
            "that year. Update chinese_calendar or the policy's working_day_calendar.",
            year,
            holidays,
            working_days,
        )


def _require_plain_date(day: date) -> None:
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"expected a date, got {type(day).__name__}: {day!r}")


# --------------------------------------------------------------------------------------
# The calendar section of the policy file
# --------------------------------------------------------------------------------------


class _CalendarFields(FieldReader):
    """Reads of the calendar section, worded as the rest of the policy file."""

    wording = replace(SETTINGS_FILE_WORDING, error=CalendarError)


def calendar_from_section(section: object) -> WorkingDayCalendar:
    """The calendar described by a ``working_day_calendar`` section, validated.

    Args:
        section: The section as YAML reads it: ``extra_holidays`` and
            ``extra_working_days``, each mapping years to lists of dates.

    Raises:
        CalendarError: The section is invalid; the message names the field.
    """
    fields = _CalendarFields(section, CALENDAR_SECTION, ("extra_holidays", "extra_working_days"))
    holidays = _dates_by_year(fields, "extra_holidays")
    working_days = _dates_by_year(fields, "extra_working_days")
    both = sorted(holidays & working_days)
    if both:
        raise fields.error_at(
            CALENDAR_SECTION,
            f"{both[0].isoformat()} is both an extra holiday and an extra working day",
        )
    return WorkingDayCalendar(extra_holidays=holidays, extra_working_days=working_days)


def load_working_day_calendar(path: Path) -> WorkingDayCalendar:
    """The calendar of the ``working_day_calendar`` section of a YAML file (the policy file).

    Only that section is read and validated; the rest of the file is not this module's.

    Raises:
        CalendarError: The file cannot be read, is not YAML, or its section is invalid.
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise CalendarError(f"{path}: cannot read the working-day calendar: {error}") from None
    if not isinstance(document, Mapping):
        raise CalendarError(f"{path}: must be a mapping with a {CALENDAR_SECTION} section")
    return calendar_from_section(document.get(CALENDAR_SECTION))


def _dates_by_year(fields: FieldReader, name: str) -> frozenset[date]:
    path = fields.key_path(name)
    by_year = fields.raw.get(name) or {}
    if not isinstance(by_year, Mapping):
        raise fields.fail(name, f"must map years to lists of dates, got {describe_value(by_year)}")
    days: set[date] = set()
    for year, listed in by_year.items():
        year_path = f"{path}.{year}"
        fields.integer_value(year, year_path, minimum=1)
        if not isinstance(listed, list):
            raise fields.error_at(year_path, f"must be a list of dates, got {describe_value(listed)}")
        for value in listed:
            day = _date(fields, value, year_path)
            if day.year != year:
                raise fields.error_at(year_path, f"{day.isoformat()} is not in {year}")
            days.add(day)
    return frozenset(days)


def _date(fields: FieldReader, value: object, path: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise fields.error_at(path, f"{value!r} is not a date like 2027-01-01") from None
