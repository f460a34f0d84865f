"""The report's period: whole days in Beijing time, and reading the times of the inputs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
MAX_SPAN_DAYS = 366  # a leap year; longer periods are better served by several reports
_DAY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Period:
    """Whole days from `first_day` to `last_day` inclusive, in Beijing time.

    Attributes:
        first_day: The first day of the period.
        last_day: The last day of the period (inclusive).

    Raises:
        ValueError: `first_day` is after `last_day`, or the period is longer than 366 days.
    """

    first_day: date
    last_day: date

    def __post_init__(self) -> None:
        if self.first_day > self.last_day:
            raise ValueError(f"the period starts after it ends: {self.first_day} is after {self.last_day}")
        if self.last_day == date.max:  # the period's end is the next day's midnight
            raise ValueError(f"the period must end before {date.max}")
        if self.day_count > MAX_SPAN_DAYS:
            raise ValueError(f"the period spans {self.day_count} days; at most {MAX_SPAN_DAYS} are allowed")

    @classmethod
    def parse(cls, first_day: str, last_day: str) -> Period:
        """The period between two "YYYY-MM-DD" days, both included.

        Raises:
            ValueError: A day is not a "YYYY-MM-DD" date, or the period is invalid (see the class).
        """
        return cls(_parse_day(first_day), _parse_day(last_day))

    @property
    def day_count(self) -> int:
        """How many days the period has."""
        return (self.last_day - self.first_day).days + 1

    def days(self) -> list[date]:
        """Every day of the period, in order."""
        return [self.first_day + timedelta(days=offset) for offset in range(self.day_count)]

    def start_utc(self) -> datetime:
        """The period's first instant (first_day 00:00 in Beijing), as an aware UTC datetime."""
        return datetime.combine(self.first_day, time(), BEIJING).astimezone(timezone.utc)

    def end_utc(self) -> datetime:
        """The instant right after the period (last_day + 1, 00:00 in Beijing), in UTC; excluded."""
        next_day = self.last_day + timedelta(days=1)
        return datetime.combine(next_day, time(), BEIJING).astimezone(timezone.utc)

    def contains(self, moment: datetime) -> bool:
        """Whether an aware instant falls inside the period."""
        return self.start_utc() <= moment < self.end_utc()


def _parse_day(text: str) -> date:
    # fromisoformat alone would also take other forms in later Pythons: insist on YYYY-MM-DD
    if not _DAY_PATTERN.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not a date in the form YYYY-MM-DD")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def parse_time(value: object) -> datetime | None:
    """An aware datetime from ISO 8601 text ("...+00:00" or "...Z"); None when missing or malformed.

    A time without an offset is taken as UTC, the record service's zone.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):  # Python 3.10's fromisoformat does not read "Z"
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def beijing_date(moment: datetime) -> date:
    """The Beijing calendar day of an aware instant."""
    return moment.astimezone(BEIJING).date()


def beijing_iso(moment: datetime) -> str:
    """An aware instant as ISO 8601 in Beijing time ("2026-12-04T18:00:00+08:00")."""
    return moment.astimezone(BEIJING).isoformat()
