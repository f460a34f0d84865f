"""Table-driven tests of the policy engine: one test per case in policy_cases.yaml.

The cases are written for people who know the after-sales rules, not the code; this file
only turns each case's plain fields into engine calls and compares the answer. The last
tests play the acceptance fixtures (../shared/acceptance/orders.yaml) through the engine.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.policy import Decision, Policy, default_policy_path, load_policy

CASES_PATH = Path(__file__).with_name("policy_cases.yaml")
REPO_ROOT = Path(__file__).resolve().parents[3]
ACCEPTANCE_ORDERS_PATH = REPO_ROOT.parent / "shared" / "acceptance" / "orders.yaml"
CALENDAR_LOGGER = "service_common.workdays"
DECISION_CHECKS = frozenset({"return", "exchange", "refund", "complaint", "authority", "service_hours"})


@dataclass(frozen=True)
class CaseItem:
    sku: str
    name: str
    category: str
    flags: frozenset[str]


@dataclass(frozen=True)
class CaseOrder:
    order_id: str
    status: str
    delivered_at: datetime | None
    return_shipping_insurance: bool


@dataclass(frozen=True)
class CaseRefund:
    refund_id: str
    status: str
    method: str
    amount: Decimal
    agreed_at: datetime | None
    goods_received_at: datetime | None
    completed_at: datetime | None
    return_id: str | None


def _load_cases() -> list[dict[str, Any]]:
    cases = yaml.safe_load(CASES_PATH.read_text(encoding="utf-8"))
    assert isinstance(cases, list)
    return cases


CASES = _load_cases()


def _moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    assert moment.tzinfo is not None, f"write a time zone (+08:00) in {value!r}"
    return moment


def _required_moment(value: str) -> datetime:
    moment = _moment(value)
    assert moment is not None
    return moment


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _intact(value: Any) -> bool | None:
    assert value in (True, False, "unknown"), f"intact must be true, false or unknown: {value!r}"
    return None if value == "unknown" else bool(value)


def _policy_for(case: dict[str, Any], shipped: Policy, tmp_path: Path) -> Policy:
    """The shipped policy, or a copy with the case's policy_changes applied."""
    changes = case.get("policy_changes")
    if not changes:
        return shipped
    document = yaml.safe_load(default_policy_path().read_text(encoding="utf-8"))
    rules = {rule["id"]: rule for rule in document["rules"]}
    for key, settings in changes.items():
        target = rules[key] if key in rules else document[key]
        target.update(settings)
    changed_path = tmp_path / "changed_policy.yml"
    changed_path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return load_policy(changed_path)


def _item_decision(case: dict[str, Any], policy: Policy) -> Decision:
    order = CaseOrder(
        order_id="8800000000",
        status=case.get("order_status", "delivered"),
        delivered_at=_moment(case["signed_at"]),
        return_shipping_insurance=case.get("insurance", False),
    )
    item = CaseItem(
        sku="SKU-CASE",
        name="case item",
        category=case.get("category", "general"),
        flags=frozenset(case.get("flags", [])),
    )
    evaluate = policy.return_eligibility if case["check"] == "return" else policy.exchange_eligibility
    return evaluate(
        order,
        item,
        now=_required_moment(case["now"]),
        intact=_intact(case["intact"]),
        quality_issue=case.get("quality_issue", False),
    )


def _refund_decision(case: dict[str, Any], policy: Policy) -> Decision:
    now = _required_moment(case["now"])
    if case.get("refund") == "none":
        return policy.refund_status(None, now=now)
    amount = _money(case["amount"])
    assert amount is not None
    refund = CaseRefund(
        refund_id=case.get("refund_id", "RF-CASE"),
        status=case["status"],
        method=case["method"],
        amount=amount,
        agreed_at=_moment(case.get("agreed_at")),
        goods_received_at=_moment(case.get("goods_received_at")),
        completed_at=_moment(case.get("completed_at")),
        return_id=case.get("return_id"),
    )
    return policy.refund_status(refund, now=now, service_goods=case.get("service_goods", False))


def _decision(case: dict[str, Any], policy: Policy) -> Decision:
    check = case["check"]
    if check in ("return", "exchange"):
        return _item_decision(case, policy)
    if check == "refund":
        return _refund_decision(case, policy)
    if check == "complaint":
        return policy.complaint_deadline(_required_moment(case["created_at"]))
    if check == "authority":
        return policy.authority(kind=case["kind"], amount=_money(case["amount"]))
    assert check == "service_hours"
    return policy.service_hours(_required_moment(case["now"]))


def _observe(case: dict[str, Any], policy: Policy) -> dict[str, Any]:
    check = case["check"]
    if check in DECISION_CHECKS:
        decision = _decision(case, policy)
        _assert_record_ready(decision)
        return {
            "outcome": decision.outcome,
            "reason": decision.reason,
            "rule": decision.rule,
            "facts": dict(decision.facts),
        }
    if check == "handoff_priority":
        return {"priority": policy.handoff_priority(case["reason"])}
    if check == "handoff_response":
        return {"minutes": policy.handoff_response_minutes(case["priority"])}
    if check == "working_days":
        return {"date": policy.calendar.add_working_days(case["from"], case["count"])}
    if check == "is_working_day":
        return {"working_day": policy.calendar.is_working_day(case["day"])}
    assert check == "identity", f"unknown check {check!r}"
    return {"max_failed_attempts": policy.max_identity_attempts}


def _assert_record_ready(decision: Decision) -> None:
    details = decision.to_record_details()
    json.dumps(details)  # a service record's details must be JSON
    assert details.get("reason") == decision.reason
    assert ("reason" in details) == (decision.reason is not None)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_policy_case(
    case: dict[str, Any], policy: Policy, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    expect = dict(case["expect"])
    expected_warnings = expect.pop("warnings", [])
    expected_facts = expect.pop("facts", None)
    caplog.set_level(logging.WARNING, logger=CALENDAR_LOGGER)
    case_policy = _policy_for(case, policy, tmp_path)

    observed = _observe(case, case_policy)

    assert {key: observed[key] for key in expect} == expect
    if expected_facts is not None:
        facts = observed["facts"]
        assert {key: facts.get(key, "<missing>") for key in expected_facts} == expected_facts
    warned_years = [
        record.args[0]
        for record in caplog.records
        if record.name == CALENDAR_LOGGER and record.levelno == logging.WARNING
        and isinstance(record.args, tuple)
    ]
    assert warned_years == expected_warnings


def test_every_case_is_well_formed() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names)), "two cases share a name"
    for case in CASES:
        assert set(case) >= {"name", "check", "expect"}, case["name"]
        if case["check"] in DECISION_CHECKS:
            assert {"outcome", "rule"} <= set(case["expect"]), case["name"]


def test_cases_cover_every_rule(policy: Policy) -> None:
    covered: set[str] = set()
    for case in CASES:
        expect = case["expect"]
        covered.update(filter(None, [expect.get("rule"), expect.get("facts", {}).get("shipping_rule")]))
        if case["check"] in ("handoff_priority", "handoff_response"):
            covered.add("HANDOFF-PRIORITY")
        if case["check"] == "identity":
            covered.add("IDENTITY-VERIFY")
    assert covered == set(policy.rules)


def test_handoff_priorities_order_most_urgent_first(policy: Policy) -> None:
    reasons = ["other", "user_request", "urgent", "repeated_failure", "overdue_refund", "beyond_authority"]
    assert sorted(reasons, key=policy.handoff_priority) == [
        "urgent",
        "beyond_authority",
        "overdue_refund",
        "repeated_failure",
        "user_request",
        "other",
    ]


def test_unknown_handoff_reason_is_refused(policy: Policy) -> None:
    with pytest.raises(ValueError, match=r"handoff reason must be one of urgent, .*: 'angry'"):
        policy.handoff_priority("angry")


def test_unknown_authority_kind_is_refused(policy: Policy) -> None:
    with pytest.raises(ValueError, match="authority kind must be one of refund, compensation: 'gift'"):
        policy.authority(kind="gift", amount=Decimal("1.00"))


def test_naive_now_is_refused(policy: Policy) -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware: 2026-03-10T12:00:00"):
        policy.service_hours(datetime(2026, 3, 10, 12, 0))


def test_fallback_year_warns_once_per_calendar(policy: Policy, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=CALENDAR_LOGGER)
    policy.calendar.is_working_day(date(2027, 1, 1))
    policy.calendar.add_working_days(date(2027, 6, 1), 30)
    warnings = [record for record in caplog.records if record.name == CALENDAR_LOGGER]
    assert len(warnings) == 1
    assert warnings[0].getMessage().startswith(
        "chinese_calendar has no official working-day data for 2027; using Monday to Friday "
        "with the policy's 13 extra_holidays and 0 extra_working_days for that year."
    )


# ---------------------------------------------------------------------------------------
# The acceptance fixtures, with their relative times resolved as the order system does.
# ---------------------------------------------------------------------------------------

RELATIVE_TIME = re.compile(r"^-(\d+)(wd|d|h)$")

EXPECTED_RETURNS = {
    "8800001001": ("eligible", "within_window", "RET-7D-WINDOW"),
    "8800001002": ("not_eligible", "window_expired", "RET-7D-WINDOW"),
    "8800001003": ("not_eligible", "customized", "RET-EXCL-CUSTOMIZED"),
    "8800001004": ("not_eligible", "perishable", "RET-EXCL-PERISHABLE"),
    "8800001005": ("not_eligible", "digital_download", "RET-EXCL-DIGITAL"),
    "8800001006": ("not_eligible", "confirmed_non_returnable", "RET-EXCL-CONFIRMED"),
    "8800001007": ("not_eligible", "not_delivered", "RET-NOT-DELIVERED"),
}
EXPECTED_REFUNDS = {"RF2001": "completed", "RF2002": "overdue", "RF2003": "on_time"}

LOAD_TIMES = ["2026-11-23 12:00+08:00", "2026-10-09 00:05+08:00", "2026-03-16 23:55+08:00"]


def _resolve(value: str | None, now: datetime, policy: Policy) -> datetime | None:
    if value is None:
        return None
    match = RELATIVE_TIME.match(value)
    assert match is not None, f"unexpected relative time {value!r}"
    amount, unit = int(match.group(1)), match.group(2)
    if unit == "h":
        return now - timedelta(hours=amount)
    if unit == "d":
        return now - timedelta(days=amount)
    local = now.astimezone(policy.timezone)
    day = policy.calendar.add_working_days(local.date(), -amount)
    return datetime.combine(day, local.timetz())


def _acceptance_orders() -> list[dict[str, Any]]:
    document = yaml.safe_load(ACCEPTANCE_ORDERS_PATH.read_text(encoding="utf-8"))
    return list(document["orders"])


@pytest.mark.parametrize("loaded_at", LOAD_TIMES)
def test_acceptance_returns(loaded_at: str, policy: Policy) -> None:
    now = _required_moment(loaded_at)
    observed = {}
    for order in _acceptance_orders():
        if order["id"] not in EXPECTED_RETURNS:
            continue
        case_order = CaseOrder(
            order_id=order["id"],
            status=order["status"],
            delivered_at=_resolve(order.get("delivered_at"), now, policy),
            return_shipping_insurance=order.get("return_shipping_insurance", False),
        )
        line = order["items"][0]
        item = CaseItem(line["sku"], line["name"], line["category"], frozenset(line.get("flags", [])))
        decision = policy.return_eligibility(case_order, item, now=now, intact=True, quality_issue=False)
        observed[order["id"]] = (decision.outcome, decision.reason, decision.rule)
        if decision.outcome == "eligible":
            assert decision.facts["shipping_paid_by"] == "consumer"
    assert observed == EXPECTED_RETURNS


@pytest.mark.parametrize("loaded_at", LOAD_TIMES)
def test_acceptance_refunds(loaded_at: str, policy: Policy) -> None:
    now = _required_moment(loaded_at)
    observed = {}
    due_by = {}
    for order in _acceptance_orders():
        for refund in order.get("refunds", []):
            case_refund = CaseRefund(
                refund_id=refund["id"],
                status=refund["status"],
                method=refund["method"],
                amount=Decimal(str(refund["amount"])),
                agreed_at=_resolve(refund.get("agreed_at"), now, policy),
                goods_received_at=_resolve(refund.get("goods_received_at"), now, policy),
                completed_at=_resolve(refund.get("completed_at"), now, policy),
                return_id=refund.get("return_id"),
            )
            decision = policy.refund_status(case_refund, now=now)
            observed[refund["id"]] = decision.outcome
            due_by[refund["id"]] = decision.facts["due_by"]
    assert observed == EXPECTED_REFUNDS
    assert due_by["RF2001"] is None
    assert due_by["RF2003"] is not None
    assert datetime.fromisoformat(due_by["RF2003"]) > now
