"""Loading the after-sales policy: reads and validates ``aftersales_policy.yml`` into a :class:`Policy`.

Every number of the file is checked against the standards it rests on (the file may be
stricter, never looser); an error names the field and says why, for the merchant who
edits the file. The working-day calendar section is read by
:mod:`service_common.workdays`, which the order system's fixtures use too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.policy.evaluation import Policy
from bot.policy.model import (
    AUTHORITY_LIMIT,
    CENTS,
    COMPLAINT_24H,
    EXCHANGE_NON_QUALITY,
    EXCLUSION_RULE_FLAGS,
    HANDOFF_PRIORITY,
    HANDOFF_REASONS,
    IDENTITY_VERIFY,
    ITEM_FLAGS,
    LEGAL_RETURN_WINDOW_DAYS,
    OUTSIDE_HOURS_ACTIONS,
    QUALITY_RETURN,
    REFUND_DEADLINE,
    RET_7D_WINDOW,
    RET_INTACT,
    RET_NOT_DELIVERED,
    SERVICE_HOURS,
    SHIPPING_PAYER,
    STANDARD_MAX_COMPLAINT_FEEDBACK_HOURS,
    STANDARD_MAX_REFUND_WORKING_DAYS,
    STANDARD_MIN_SERVICE_HOURS_PER_DAY,
    URGENT_HANDOFF_MAX_MINUTES,
    AuthoritySettings,
    ComplaintSettings,
    HandoffReason,
    PolicyError,
    PolicySettings,
    QualitySettings,
    RefundSettings,
    RuleInfo,
    ServiceHoursSettings,
    ShippingSettings,
)
from service_common.fields import SETTINGS_FILE_WORDING, FieldReader, describe_value
from service_common.workdays import CalendarError, WorkingDayCalendar, calendar_from_section

POLICY_FILE_NAME = "aftersales_policy.yml"
POLICY_VERSION = 1


def default_policy_path() -> Path:
    """Path of the shipped policy file, beside this module."""
    return Path(__file__).with_name(POLICY_FILE_NAME)


def load_policy(path: str | Path | None = None) -> Policy:
    """Reads and validates a policy file.

    Args:
        path: The YAML file; the shipped ``aftersales_policy.yml`` when None.

    Returns:
        The validated policy.

    Raises:
        PolicyError: The file cannot be read, is not YAML, or breaks a rule; the
            message names the field and says why.
    """
    policy_path = Path(path) if path is not None else default_policy_path()
    try:
        text = policy_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(f"{policy_path}: cannot read the policy file: {error}") from error
    return _policy_from_document(_parse_yaml(text, policy_path.name))


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that rejects a key written twice (PyYAML silently keeps the last)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Any:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} is written twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _parse_yaml(text: str, file_name: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise PolicyError(f"{file_name}: not valid YAML{where}: {error.problem}") from error
    except yaml.YAMLError as error:
        raise PolicyError(f"{file_name}: not valid YAML: {error}") from error


class _Fields(FieldReader):
    """Typed reads from one mapping of the policy file; errors name the field."""

    wording = replace(
        SETTINGS_FILE_WORDING,
        error=PolicyError,
        not_amount="must be an amount in yuan like 500.00, got {described}",
        invalid_amount="{value!r} is not an amount in yuan like 500.00",
        not_finite_amount="{value} must be an amount of 0 or more",
    )


_Choice = TypeVar("_Choice", bound=str)


def _choice(fields: _Fields, name: str, choices: Iterable[_Choice]) -> _Choice:
    # Not FieldReader.choice, which strips text: the file names the action exactly as listed.
    value = fields.value(name)
    options = tuple(choices)
    if value not in options:
        raise fields.fail(name, f"{value!r} is not one of {', '.join(options)}")
    return options[options.index(value)]


def _money(fields: _Fields, name: str) -> Decimal:
    amount = fields.amount(name)
    written = fields.value(name)
    if amount < 0:
        raise fields.fail(name, f"{written} must be an amount of 0 or more")
    if amount != amount.quantize(CENTS):
        raise fields.fail(name, f"{written} has more than two decimals (fen)")
    return amount.quantize(CENTS)


def _clock_time(fields: _Fields, name: str) -> time:
    value = fields.value(name)
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise fields.fail(name, f'{value!r} is not a time like "09:00" (quote it)') from None


_COMMON_RULE_FIELDS = ("id", "title", "source")


def _policy_from_document(document: Any) -> Policy:
    top = _Fields(document, "policy file", ("version", "timezone", "rules", "working_day_calendar"))
    version = top.value("version")
    if version != POLICY_VERSION:
        raise PolicyError(
            f"version: {version!r} is not supported (this engine reads version {POLICY_VERSION})"
        )
    timezone = _timezone(top.text("timezone"))
    entries = _rule_entries(top.value("rules"))
    rules = {rule_id: _rule_info(fields) for rule_id, fields in entries.items()}
    settings = _settings(entries)
    calendar = _calendar(top.value("working_day_calendar"))
    return Policy(timezone=timezone, calendar=calendar, rules=rules, settings=settings)


def _timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError(
            f"timezone: {name!r} is not a known time zone (use Asia/Shanghai)"
        ) from None


# Extra settings each rule may hold besides id, title and source.
_RULE_SETTINGS: Mapping[str, tuple[str, ...]] = {
    RET_NOT_DELIVERED: (),
    RET_7D_WINDOW: ("window_days",),
    **{rule_id: ("item_flag", "enforced") for rule_id in EXCLUSION_RULE_FLAGS},
    RET_INTACT: ("required",),
    QUALITY_RETURN: ("return_days", "exchange_or_repair_days"),
    EXCHANGE_NON_QUALITY: ("window_days",),
    SHIPPING_PAYER: ("merchant_pays_when_insured", "free_return_promise"),
    REFUND_DEADLINE: (
        "without_return_working_days",
        "with_return_working_days",
        "service_goods_working_days",
        "arrival_working_days",
    ),
    COMPLAINT_24H: ("feedback_hours", "first_investigation_hours", "resolution_hours"),
    AUTHORITY_LIMIT: ("max_refund_amount", "max_compensation_amount"),
    SERVICE_HOURS: ("open_at", "close_at", "outside_hours"),
    IDENTITY_VERIFY: ("max_failed_attempts",),
    HANDOFF_PRIORITY: ("priorities", "response_minutes", "other_response_minutes"),
}


def _rule_entries(raw_rules: Any) -> dict[str, _Fields]:
    if not isinstance(raw_rules, list):
        raise PolicyError(f"rules: must be a list of rules, got {describe_value(raw_rules)}")
    entries: dict[str, _Fields] = {}
    for position, entry in enumerate(raw_rules, start=1):
        where = f"rules[{position}]"
        if not isinstance(entry, Mapping):
            raise PolicyError(f"{where}: must be a mapping with an id, got {describe_value(entry)}")
        rule_id = entry.get("id")
        if not isinstance(rule_id, str) or not rule_id:
            raise PolicyError(f"{where}: missing 'id' (every rule needs the id decisions cite)")
        if rule_id in entries:
            raise PolicyError(f"{where}: duplicate rule id {rule_id} (each id may appear once)")
        if rule_id not in _RULE_SETTINGS:
            raise PolicyError(
                f"{where}: unknown rule id {rule_id!r} "
                f"(the engine knows {', '.join(_RULE_SETTINGS)})"
            )
        entries[rule_id] = _Fields(entry, rule_id, _COMMON_RULE_FIELDS + _RULE_SETTINGS[rule_id])
    missing = [rule_id for rule_id in _RULE_SETTINGS if rule_id not in entries]
    if missing:
        raise PolicyError(f"rules: missing {', '.join(missing)} (decisions cite every rule)")
    return entries


def _rule_info(fields: _Fields) -> RuleInfo:
    return RuleInfo(id=fields.text("id"), title=fields.text("title"), source=fields.text("source"))


def _settings(entries: Mapping[str, _Fields]) -> PolicySettings:
    priorities = _handoff_priorities(entries[HANDOFF_PRIORITY])
    return PolicySettings(
        return_window_days=_return_window_days(entries[RET_7D_WINDOW]),
        exclusions_enforced={
            rule_id: _exclusion_enforced(entries[rule_id], flag)
            for rule_id, flag in EXCLUSION_RULE_FLAGS.items()
        },
        intact_required=entries[RET_INTACT].boolean("required"),
        quality=_quality(entries[QUALITY_RETURN]),
        exchange_window_days=entries[EXCHANGE_NON_QUALITY].integer("window_days", minimum=0),
        shipping=ShippingSettings(
            merchant_pays_when_insured=entries[SHIPPING_PAYER].boolean(
                "merchant_pays_when_insured"
            ),
            free_return_promise=entries[SHIPPING_PAYER].boolean("free_return_promise"),
        ),
        refund=_refund(entries[REFUND_DEADLINE]),
        complaint=_complaint(entries[COMPLAINT_24H]),
        authority=AuthoritySettings(
            max_refund_amount=_money(entries[AUTHORITY_LIMIT], "max_refund_amount"),
            max_compensation_amount=_money(entries[AUTHORITY_LIMIT], "max_compensation_amount"),
        ),
        service_hours=_service_hours(entries[SERVICE_HOURS]),
        max_identity_attempts=entries[IDENTITY_VERIFY].integer("max_failed_attempts", minimum=1),
        handoff_priorities=priorities,
        handoff_response_minutes=_handoff_response_minutes(entries[HANDOFF_PRIORITY], priorities),
        handoff_other_response_minutes=entries[HANDOFF_PRIORITY].integer(
            "other_response_minutes", minimum=1
        ),
    )


def _return_window_days(fields: _Fields) -> int:
    days = fields.integer("window_days", minimum=0)
    if days < LEGAL_RETURN_WINDOW_DAYS:
        raise PolicyError(
            f"{fields.key_path('window_days')}: {days} is less than the "
            f"{LEGAL_RETURN_WINDOW_DAYS} days the law gives the consumer"
        )
    return days


def _exclusion_enforced(fields: _Fields, expected_flag: str) -> bool:
    flag = fields.value("item_flag")
    path = fields.key_path("item_flag")
    if flag not in ITEM_FLAGS:
        raise PolicyError(
            f"{path}: {flag!r} is not a known item flag (known: {', '.join(sorted(ITEM_FLAGS))})"
        )
    if flag != expected_flag:
        raise PolicyError(f"{path}: must be {expected_flag!r} for {fields.path}, got {flag!r}")
    return fields.boolean("enforced")


def _quality(fields: _Fields) -> QualitySettings:
    return_days = fields.integer("return_days", minimum=0)
    if return_days < LEGAL_RETURN_WINDOW_DAYS:
        raise PolicyError(
            f"{fields.key_path('return_days')}: {return_days} is less than the "
            f"{LEGAL_RETURN_WINDOW_DAYS} days the law gives for quality returns"
        )
    exchange_days = fields.integer("exchange_or_repair_days", minimum=0)
    if exchange_days < return_days:
        raise PolicyError(
            f"{fields.key_path('exchange_or_repair_days')}: {exchange_days} is less than "
            f"return_days ({return_days})"
        )
    return QualitySettings(return_days=return_days, exchange_or_repair_days=exchange_days)


def _refund(fields: _Fields) -> RefundSettings:
    def deadline(name: str) -> int:
        days = fields.integer(name, minimum=0)
        if days > STANDARD_MAX_REFUND_WORKING_DAYS:
            raise PolicyError(
                f"{fields.key_path(name)}: {days} is more than the "
                f"{STANDARD_MAX_REFUND_WORKING_DAYS} working day the standard allows"
            )
        return days

    arrival_path = fields.key_path("arrival_working_days")
    arrival = fields.value("arrival_working_days")
    if not isinstance(arrival, Mapping) or not arrival:
        raise PolicyError(
            f"{arrival_path}: must map payment methods to working days, got {describe_value(arrival)}"
        )
    return RefundSettings(
        without_return_working_days=deadline("without_return_working_days"),
        with_return_working_days=deadline("with_return_working_days"),
        service_goods_working_days=deadline("service_goods_working_days"),
        arrival_working_days={
            str(method): fields.integer_value(days, f"{arrival_path}.{method}", minimum=0)
            for method, days in arrival.items()
        },
    )


def _complaint(fields: _Fields) -> ComplaintSettings:
    feedback = fields.integer("feedback_hours", minimum=1)
    if feedback > STANDARD_MAX_COMPLAINT_FEEDBACK_HOURS:
        raise PolicyError(
            f"{fields.key_path('feedback_hours')}: {feedback} is more than the "
            f"{STANDARD_MAX_COMPLAINT_FEEDBACK_HOURS} hours the standard allows"
        )
    investigation = fields.integer("first_investigation_hours", minimum=feedback)
    resolution = fields.integer("resolution_hours", minimum=investigation)
    return ComplaintSettings(feedback, investigation, resolution)


def _service_hours(fields: _Fields) -> ServiceHoursSettings:
    open_at = _clock_time(fields, "open_at")
    close_at = _clock_time(fields, "close_at")
    minutes_open = (close_at.hour * 60 + close_at.minute) - (open_at.hour * 60 + open_at.minute)
    if minutes_open < STANDARD_MIN_SERVICE_HOURS_PER_DAY * 60:
        raise PolicyError(
            f"{fields.path}: {open_at:%H:%M}-{close_at:%H:%M} is less than the "
            f"{STANDARD_MIN_SERVICE_HOURS_PER_DAY} hours a day the standard requires (002 §4.2)"
        )
    return ServiceHoursSettings(
        open_at=open_at,
        close_at=close_at,
        outside_hours=_choice(fields, "outside_hours", OUTSIDE_HOURS_ACTIONS),
    )


def _handoff_priorities(fields: _Fields) -> dict[HandoffReason, int]:
    priorities_fields = fields.child("priorities", HANDOFF_REASONS)
    priorities = {
        reason: priorities_fields.integer(reason, minimum=1) for reason in HANDOFF_REASONS
    }
    most_urgent = min(priorities.values())
    others_as_urgent = [r for r, p in priorities.items() if p == most_urgent and r != "urgent"]
    if priorities["urgent"] != most_urgent or others_as_urgent:
        raise priorities_fields.fail(
            "urgent", "must come strictly first (004 §3.1: urgent matters first)"
        )
    return priorities


def _handoff_response_minutes(
    fields: _Fields, priorities: Mapping[HandoffReason, int]
) -> dict[int, int]:
    path = fields.key_path("response_minutes")
    raw = fields.value("response_minutes")
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{path}: must be a mapping of priority to minutes, got {describe_value(raw)}")
    minutes: dict[int, int] = {}
    for level, value in raw.items():
        if not isinstance(level, int) or isinstance(level, bool) or level < 1:
            raise PolicyError(f"{path}: {level!r} is not a priority (a whole number, 1 or more)")
        minutes[level] = fields.integer_value(value, f"{path}.{level}", minimum=1)
    urgent = priorities["urgent"]
    if minutes.get(urgent, URGENT_HANDOFF_MAX_MINUTES + 1) > URGENT_HANDOFF_MAX_MINUTES:
        raise PolicyError(
            f"{path}.{urgent}: urgent matters must start within {URGENT_HANDOFF_MAX_MINUTES} "
            "minutes (004 §3.1)"
        )
    return minutes


def _calendar(section: Any) -> WorkingDayCalendar:
    try:
        return calendar_from_section(section)
    except CalendarError as error:
        raise PolicyError(str(error)) from None
