"""Loading and validating the policy file: the shipped file loads, broken ones are refused.

Each broken variant starts from the shipped file and changes one thing, the way a
merchant editing it might, and asserts the whole error message the merchant would read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.policy import PolicyError, default_policy_path, load_policy

ALL_RULE_IDS = {
    "RET-7D-WINDOW",
    "RET-NOT-DELIVERED",
    "RET-EXCL-CUSTOMIZED",
    "RET-EXCL-PERISHABLE",
    "RET-EXCL-DIGITAL",
    "RET-EXCL-PERIODICAL",
    "RET-EXCL-CONFIRMED",
    "RET-INTACT",
    "QUALITY-RETURN",
    "EXCHANGE-NON-QUALITY",
    "SHIPPING-PAYER",
    "REFUND-DEADLINE",
    "COMPLAINT-24H",
    "AUTHORITY-LIMIT",
    "SERVICE-HOURS",
    "IDENTITY-VERIFY",
    "HANDOFF-PRIORITY",
}

Mutation = Callable[[dict[str, Any], dict[str, dict[str, Any]]], None]


def _shipped_text() -> str:
    return default_policy_path().read_text(encoding="utf-8")


def _write_text(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "aftersales_policy.yml"
    path.write_text(text, encoding="utf-8")
    return path


def _write_variant(tmp_path: Path, mutate: Mutation) -> Path:
    """Writes the shipped policy with ``mutate(document, rules_by_id)`` applied."""
    document = yaml.safe_load(_shipped_text())
    rules_by_id = {rule["id"]: rule for rule in document["rules"]}
    mutate(document, rules_by_id)
    return _write_text(tmp_path, yaml.safe_dump(document, allow_unicode=True, sort_keys=False))


def _load_error(path: Path) -> str:
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    return str(raised.value)


def _set(rule_id: str, name: str, value: Any) -> Mutation:
    def mutate(_: dict[str, Any], rules: dict[str, dict[str, Any]]) -> None:
        rules[rule_id][name] = value

    return mutate


# ---- the shipped file ----------------------------------------------------------------


def test_default_policy_path_is_beside_the_engine() -> None:
    assert default_policy_path().name == "aftersales_policy.yml"
    assert default_policy_path().parent.name == "policy"


def test_shipped_policy_loads_with_its_settings() -> None:
    policy = load_policy()
    settings = policy.settings
    assert set(policy.rules) == ALL_RULE_IDS
    assert str(policy.timezone) == "Asia/Shanghai"
    assert settings.return_window_days == 7
    assert settings.quality.return_days == 7
    assert settings.quality.exchange_or_repair_days == 15
    assert settings.exchange_window_days == 7
    assert settings.refund.with_return_working_days == 1
    assert settings.refund.without_return_working_days == 1
    assert settings.refund.service_goods_working_days == 1
    assert dict(settings.refund.arrival_working_days) == {"wechat_pay": 0, "alipay": 0, "bank_card": 7}
    assert settings.complaint.feedback_hours == 24
    assert settings.complaint.first_investigation_hours == 48
    assert settings.complaint.resolution_hours == 72
    assert settings.authority.max_refund_amount == Decimal("1000.00")
    assert settings.authority.max_compensation_amount == Decimal("0.00")
    assert settings.service_hours.open_at == time(9, 0)
    assert settings.service_hours.close_at == time(21, 0)
    assert settings.service_hours.outside_hours == "callback"
    assert policy.max_identity_attempts == 3
    assert all(settings.exclusions_enforced.values())
    assert settings.shipping.merchant_pays_when_insured is True
    assert settings.shipping.free_return_promise is False


def test_shipped_rules_have_chinese_titles_and_sources() -> None:
    policy = load_policy()
    assert policy.rules["RET-7D-WINDOW"].title == "七日无理由退货"
    assert policy.rules["COMPLAINT-24H"].source == "DB23 §8.4、§8.6；002 §7.5.1.2；004 §7.2"
    for rule in policy.rules.values():
        assert rule.title and rule.source, rule.id


def test_load_policy_accepts_a_string_path(tmp_path: Path) -> None:
    path = _write_text(tmp_path, _shipped_text())
    assert load_policy(str(path)).max_identity_attempts == 3


# ---- broken files --------------------------------------------------------------------


def test_missing_rule_id_is_refused(tmp_path: Path) -> None:
    def drop_id(_: dict[str, Any], rules: dict[str, dict[str, Any]]) -> None:
        del rules["RET-7D-WINDOW"]["id"]

    message = _load_error(_write_variant(tmp_path, drop_id))
    assert message == "rules[2]: missing 'id' (every rule needs the id decisions cite)"


def test_duplicate_rule_id_is_refused(tmp_path: Path) -> None:
    message = _load_error(_write_variant(tmp_path, _set("RET-EXCL-CUSTOMIZED", "id", "RET-7D-WINDOW")))
    assert message == "rules[3]: duplicate rule id RET-7D-WINDOW (each id may appear once)"


def test_missing_rule_is_refused(tmp_path: Path) -> None:
    def drop_rule(document: dict[str, Any], _: dict[str, dict[str, Any]]) -> None:
        document["rules"] = [rule for rule in document["rules"] if rule["id"] != "RET-INTACT"]

    message = _load_error(_write_variant(tmp_path, drop_rule))
    assert message == "rules: missing RET-INTACT (decisions cite every rule)"


def test_unknown_rule_id_is_refused(tmp_path: Path) -> None:
    message = _load_error(_write_variant(tmp_path, _set("RET-INTACT", "id", "RET-INTACT-2")))
    assert message.startswith("rules[8]: unknown rule id 'RET-INTACT-2' (the engine knows RET-NOT-DELIVERED, ")


def test_complaint_feedback_over_24_hours_is_refused(tmp_path: Path) -> None:
    message = _load_error(_write_variant(tmp_path, _set("COMPLAINT-24H", "feedback_hours", 36)))
    assert message == "COMPLAINT-24H.feedback_hours: 36 is more than the 24 hours the standard allows"


def test_complaint_resolution_before_investigation_is_refused(tmp_path: Path) -> None:
    message = _load_error(_write_variant(tmp_path, _set("COMPLAINT-24H", "resolution_hours", 40)))
    assert message == "COMPLAINT-24H.resolution_hours: 40 must be 48 or more"


def test_negative_return_window_is_refused(tmp_path: Path) -> None:
    message = _load_error(_write_variant(tmp_path, _set("RET-7D-WINDOW", "window_days", -1)))
    assert message == "RET-7D-WINDOW.window_days: -1 must be 0 or more"


def test_return_window_shorter_than_the_law_is_refused(tmp_path: Path) -> None:
    message = _load_error(_write_variant(tmp_path, _set("RET-7D-WINDOW", "window_days", 5)))
    assert message == "RET-7D-WINDOW.window_days: 5 is less than the 7 days the law gives the consumer"


def test_window_written_as_text_is_refused(tmp_path: Path) -> None:
    message = _load_error(_write_variant(tmp_path, _set("RET-7D-WINDOW", "window_days", "七天")))
    assert message == "RET-7D-WINDOW.window_days: must be a whole number, got text ('七天')"


def test_quality_exchange_window_shorter_than_return_window_is_refused(tmp_path: Path) -> None:
    message = _load_error(_write_variant(tmp_path, _set("QUALITY-RETURN", "exchange_or_repair_days", 6)))
    assert message == "QUALITY-RETURN.exchange_or_repair_days: 6 is less than return_days (7)"


def test_service_hours_under_8_hours_are_refused(tmp_path: Path) -> None:
    message = _load_error(_write_variant(tmp_path, _set("SERVICE-HOURS", "close_at", "16:59")))
    assert message == (
        "SERVICE-HOURS: 09:00-16:59 is less than the 8 hours a day the standard requires (002 §4.2)"
    )


def test_service_hours_of_exactly_8_hours_load(tmp_path: Path) -> None:
    policy = load_policy(_write_variant(tmp_path, _set("SERVICE-HOURS", "close_at", "17:00")))
    assert policy.settings.service_hours.close_at == time(17, 0)


def test_unquoted_service_time_is_refused(tmp_path: Path) -> None:
    text = _shipped_text().replace('close_at: "21:00"', "close_at: 21:00")
    message = _load_error(_write_text(tmp_path, text))
    # YAML 1.1 reads an unquoted 21:00 as the base-60 number 1260.
    assert message == 'SERVICE-HOURS.close_at: 1260 is not a time like "09:00" (quote it)'


def test_unknown_outside_hours_action_is_refused(tmp_path: Path) -> None:
    message = _load_error(_write_variant(tmp_path, _set("SERVICE-HOURS", "outside_hours", "ignore")))
    assert message == "SERVICE-HOURS.outside_hours: 'ignore' is not one of callback"


def test_unknown_item_flag_is_refused(tmp_path: Path) -> None:
    message = _load_error(_write_variant(tmp_path, _set("RET-EXCL-CUSTOMIZED", "item_flag", "handmade")))
    assert message == (
        "RET-EXCL-CUSTOMIZED.item_flag: 'handmade' is not a known item flag (known: "
        "confirmed_non_returnable, customized, digital_download, periodical, perishable)"
    )


def test_item_flag_of_another_rule_is_refused(tmp_path: Path) -> None:
    message = _load_error(_write_variant(tmp_path, _set("RET-EXCL-CUSTOMIZED", "item_flag", "perishable")))
    assert message == "RET-EXCL-CUSTOMIZED.item_flag: must be 'customized' for RET-EXCL-CUSTOMIZED, got 'perishable'"


def test_misspelt_setting_is_refused(tmp_path: Path) -> None:
    def misspell(_: dict[str, Any], rules: dict[str, dict[str, Any]]) -> None:
        rules["EXCHANGE-NON-QUALITY"]["windw_days"] = rules["EXCHANGE-NON-QUALITY"].pop("window_days")

    message = _load_error(_write_variant(tmp_path, misspell))
    assert message == (
        "EXCHANGE-NON-QUALITY: unknown setting 'windw_days' (known: id, source, title, window_days)"
    )


def test_missing_setting_is_refused(tmp_path: Path) -> None:
    def drop(_: dict[str, Any], rules: dict[str, dict[str, Any]]) -> None:
        del rules["IDENTITY-VERIFY"]["max_failed_attempts"]

    message = _load_error(_write_variant(tmp_path, drop))
    assert message == "IDENTITY-VERIFY.max_failed_attempts: missing"


def test_enforced_written_as_text_is_refused(tmp_path: Path) -> None:
    message = _load_error(_write_variant(tmp_path, _set("RET-EXCL-PERISHABLE", "enforced", "是")))
    assert message == "RET-EXCL-PERISHABLE.enforced: must be true or false, got text ('是')"


def test_refund_deadline_longer_than_the_standard_is_refused(tmp_path: Path) -> None:
    message = _load_error(_write_variant(tmp_path, _set("REFUND-DEADLINE", "with_return_working_days", 2)))
    assert message == (
        "REFUND-DEADLINE.with_return_working_days: 2 is more than the 1 working day the standard allows"
    )


def test_negative_arrival_days_are_refused(tmp_path: Path) -> None:
    message = _load_error(
        _write_variant(tmp_path, _set("REFUND-DEADLINE", "arrival_working_days", {"bank_card": -2}))
    )
    assert message == "REFUND-DEADLINE.arrival_working_days.bank_card: -2 must be 0 or more"


def test_amount_with_three_decimals_is_refused(tmp_path: Path) -> None:
    message = _load_error(_write_variant(tmp_path, _set("AUTHORITY-LIMIT", "max_refund_amount", "99.999")))
    assert message == "AUTHORITY-LIMIT.max_refund_amount: 99.999 has more than two decimals (fen)"


def test_negative_amount_is_refused(tmp_path: Path) -> None:
    message = _load_error(_write_variant(tmp_path, _set("AUTHORITY-LIMIT", "max_compensation_amount", -5)))
    assert message == "AUTHORITY-LIMIT.max_compensation_amount: -5 must be an amount of 0 or more"


def test_zero_identity_attempts_are_refused(tmp_path: Path) -> None:
    message = _load_error(_write_variant(tmp_path, _set("IDENTITY-VERIFY", "max_failed_attempts", 0)))
    assert message == "IDENTITY-VERIFY.max_failed_attempts: 0 must be 1 or more"


def test_handoff_priorities_missing_a_reason_are_refused(tmp_path: Path) -> None:
    def drop(_: dict[str, Any], rules: dict[str, dict[str, Any]]) -> None:
        del rules["HANDOFF-PRIORITY"]["priorities"]["system_error"]

    message = _load_error(_write_variant(tmp_path, drop))
    assert message == "HANDOFF-PRIORITY.priorities.system_error: missing"


def test_urgent_not_first_is_refused(tmp_path: Path) -> None:
    def tie(_: dict[str, Any], rules: dict[str, dict[str, Any]]) -> None:
        rules["HANDOFF-PRIORITY"]["priorities"]["user_request"] = 1

    message = _load_error(_write_variant(tmp_path, tie))
    assert message == (
        "HANDOFF-PRIORITY.priorities.urgent: must come strictly first (004 §3.1: urgent matters first)"
    )


def test_urgent_handoffs_slower_than_five_minutes_are_refused(tmp_path: Path) -> None:
    def slow(_: dict[str, Any], rules: dict[str, dict[str, Any]]) -> None:
        rules["HANDOFF-PRIORITY"]["response_minutes"][1] = 10

    message = _load_error(_write_variant(tmp_path, slow))
    assert message == (
        "HANDOFF-PRIORITY.response_minutes.1: urgent matters must start within 5 minutes (004 §3.1)"
    )


def test_response_minutes_keyed_by_a_reason_are_refused(tmp_path: Path) -> None:
    def by_reason(_: dict[str, Any], rules: dict[str, dict[str, Any]]) -> None:
        rules["HANDOFF-PRIORITY"]["response_minutes"]["urgent"] = 5

    message = _load_error(_write_variant(tmp_path, by_reason))
    assert message == (
        "HANDOFF-PRIORITY.response_minutes: 'urgent' is not a priority (a whole number, 1 or more)"
    )


def test_extra_holiday_in_the_wrong_year_is_refused(tmp_path: Path) -> None:
    def misplace(document: dict[str, Any], _: dict[str, dict[str, Any]]) -> None:
        document["working_day_calendar"]["extra_holidays"][2027].append(date(2028, 1, 1))

    message = _load_error(_write_variant(tmp_path, misplace))
    assert message == "working_day_calendar.extra_holidays.2027: 2028-01-01 is not in 2027"


def test_day_both_holiday_and_working_day_is_refused(tmp_path: Path) -> None:
    def clash(document: dict[str, Any], _: dict[str, dict[str, Any]]) -> None:
        document["working_day_calendar"]["extra_working_days"][2027] = [date(2027, 10, 2)]

    message = _load_error(_write_variant(tmp_path, clash))
    assert message == (
        "working_day_calendar: 2027-10-02 is both an extra holiday and an extra working day"
    )


def test_unknown_timezone_is_refused(tmp_path: Path) -> None:
    def retime(document: dict[str, Any], _: dict[str, dict[str, Any]]) -> None:
        document["timezone"] = "Asia/Beijing"

    message = _load_error(_write_variant(tmp_path, retime))
    assert message == "timezone: 'Asia/Beijing' is not a known time zone (use Asia/Shanghai)"


def test_unsupported_version_is_refused(tmp_path: Path) -> None:
    def bump(document: dict[str, Any], _: dict[str, dict[str, Any]]) -> None:
        document["version"] = 2

    message = _load_error(_write_variant(tmp_path, bump))
    assert message == "version: 2 is not supported (this engine reads version 1)"


def test_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    message = _load_error(_write_text(tmp_path, "- RET-7D-WINDOW\n- RET-INTACT\n"))
    assert message == "policy file: must be a mapping of settings, got a list"


def test_empty_file_is_refused(tmp_path: Path) -> None:
    message = _load_error(_write_text(tmp_path, ""))
    assert message == "policy file: must be a mapping of settings, got nothing"


def test_rules_that_are_not_a_list_are_refused(tmp_path: Path) -> None:
    def flatten(document: dict[str, Any], _: dict[str, dict[str, Any]]) -> None:
        document["rules"] = {"RET-7D-WINDOW": {"window_days": 7}}

    message = _load_error(_write_variant(tmp_path, flatten))
    assert message == "rules: must be a list of rules, got a mapping"


def test_yaml_syntax_error_is_refused_with_its_line(tmp_path: Path) -> None:
    lines = _shipped_text().splitlines(keepends=True)
    broken_line = next(i for i, line in enumerate(lines) if line.strip() == "window_days: 7")
    lines[broken_line] = "    window_days: 7: 8\n"
    message = _load_error(_write_text(tmp_path, "".join(lines)))
    assert message.startswith(f"aftersales_policy.yml: not valid YAML (line {broken_line + 1}, ")


def test_key_written_twice_is_refused(tmp_path: Path) -> None:
    text = _shipped_text().replace("    window_days: 7\n", "    window_days: 7\n    window_days: 10\n", 1)
    message = _load_error(_write_text(tmp_path, text))
    line = text.splitlines().index("    window_days: 10") + 1
    assert message == (
        f"aftersales_policy.yml: not valid YAML (line {line}, column 5): "
        "the key 'window_days' is written twice"
    )


def test_missing_file_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yml"
    message = _load_error(missing)
    assert message == f"{missing}: cannot read the policy file: [Errno 2] No such file or directory: '{missing}'"
