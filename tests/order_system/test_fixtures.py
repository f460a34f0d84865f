"""Loading order fixtures: relative times, validation, replacing on reload."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SAWarning
from sqlalchemy.orm import Session, sessionmaker

from bot.policy import Policy, load_policy
from order_system.db import make_engine, migrate, session_factory, transaction
from order_system.fixtures import (
    FixtureError,
    TimeResolver,
    load_calendar,
    load_fixtures,
    read_fixture_files,
)
from order_system.models import (
    ChannelAccount,
    Customer,
    IdempotencyKey,
    Order,
    OrderItem,
    Refund,
    ReturnItem,
    ReturnRequest,
    Shipment,
)
from order_system.repository import NewReturn, OrderRepository
from service_common.workdays import WorkingDayCalendar
from tests.fixtures.servers import ACCEPTANCE_ORDERS, REPO_ROOT

BEIJING = ZoneInfo("Asia/Shanghai")
# Wednesday 9 October 2024, 10:00 in Beijing: the National Day holiday (1-7 October) is
# just over; Sunday 29 September was a make-up working day, Saturday 28 September was not.
AFTER_NATIONAL_DAY = datetime(2024, 10, 9, 10, 0, tzinfo=BEIJING)
DEMO_ORDERS = REPO_ROOT / "order_system" / "demo_orders.yaml"


@pytest.fixture(scope="module")
def calendar() -> WorkingDayCalendar:
    return load_calendar()


@pytest.fixture
def times(calendar: WorkingDayCalendar) -> TimeResolver:
    return TimeResolver(AFTER_NATIONAL_DAY, calendar)


@pytest.fixture
def engine() -> Iterator[Engine]:
    database = make_engine("sqlite://")
    migrate(database)
    yield database
    database.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker:
    return session_factory(engine)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


ONE_CUSTOMER = """\
customers:
  - id: C1
    name: 测试
    phone: "13812345678"
    accounts: {web: u_test}
orders:
  - id: "9000000001"
    customer: C1
    status: delivered
    paid_at: -3d
    shipped_at: -2d
    delivered_at: -4wd
    payment: {method: alipay, amount: 10.00}
    items:
      - {sku: S-1, name: 笔, category: stationery, price: 10.00, quantity: 1}
"""


# ------------------------------------------------------------------------------ times


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("-3d", datetime(2024, 10, 6, 10, 0, tzinfo=BEIJING)),
        ("-2h", datetime(2024, 10, 9, 8, 0, tzinfo=BEIJING)),
        ("-30m", datetime(2024, 10, 9, 9, 30, tzinfo=BEIJING)),
        ("+1d", datetime(2024, 10, 10, 10, 0, tzinfo=BEIJING)),
        # 8 Oct (Tue), then the holiday 1-7 Oct is skipped: 30 Sep (Mon), 29 Sep (Sun,
        # make-up working day); 28 Sep (Sat) is a day off, so the fourth is 27 Sep.
        ("-1wd", datetime(2024, 10, 8, 10, 0, tzinfo=BEIJING)),
        ("-2wd", datetime(2024, 9, 30, 10, 0, tzinfo=BEIJING)),
        ("-3wd", datetime(2024, 9, 29, 10, 0, tzinfo=BEIJING)),
        ("-4wd", datetime(2024, 9, 27, 10, 0, tzinfo=BEIJING)),
        ("2024-05-01T10:00:00+08:00", datetime(2024, 5, 1, 2, 0, tzinfo=timezone.utc)),
    ],
)
def test_relative_times(times: TimeResolver, value: str, expected: datetime) -> None:
    assert times.resolve(value) == expected


def test_working_days_count_in_beijing_time(calendar: WorkingDayCalendar) -> None:
    # 17:30 UTC on Tuesday 8 October is already 01:30 on Wednesday 9 October in Beijing:
    # one working day earlier is Tuesday 8 October, not Monday 30 September.
    now = datetime(2024, 10, 8, 17, 30, tzinfo=timezone.utc)
    resolved = TimeResolver(now, calendar).resolve("-1wd")
    assert resolved == datetime(2024, 10, 8, 1, 30, tzinfo=BEIJING)


@pytest.mark.parametrize("value", ["-3", "3d", "-3w", "- 3d", "-3D", "yesterday", "2024-05-01T10:00:00", 3, None])
def test_bad_times_are_rejected(times: TimeResolver, value: object) -> None:
    with pytest.raises(ValueError) as error:
        times.resolve(value)
    assert ("has no UTC offset" in str(error.value)) == (value == "2024-05-01T10:00:00")


def test_time_resolver_needs_an_aware_now(calendar: WorkingDayCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TimeResolver(datetime(2024, 10, 9, 10, 0), calendar)


def test_fixture_times_are_resolved_against_one_now(
    tmp_path: Path, calendar: WorkingDayCalendar
) -> None:
    fixtures = read_fixture_files([write(tmp_path, "a.yaml", ONE_CUSTOMER)], AFTER_NATIONAL_DAY, calendar)
    [order] = fixtures.orders
    assert order.paid_at == datetime(2024, 10, 6, 10, 0, tzinfo=BEIJING)
    assert order.shipped_at == datetime(2024, 10, 7, 10, 0, tzinfo=BEIJING)
    assert order.delivered_at == datetime(2024, 9, 27, 10, 0, tzinfo=BEIJING)


# ------------------------------------------------------------------------------ invalid files


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        (
            '    accounts: {web: u_test}\n',
            '    accounts: {web: u_test}\n    colour: red\n',
            "customers[0] (id C1): unknown field(s) colour",
        ),
        (
            "    paid_at: -3d\n",
            "    paid_at: three days ago\n",
            "orders[0] (id 9000000001): paid_at: expected a time like -3d, -2h, -30m, -4wd or "
            "ISO 8601, got 'three days ago'",
        ),
        (
            "    paid_at: -3d\n",
            "    paid_at: 2024-05-01T10:00:00\n",
            "orders[0] (id 9000000001): paid_at: 2024-05-01T10:00:00 has no UTC offset "
            "(write e.g. +08:00)",
        ),
        (
            "    customer: C1\n",
            "    customer: C404\n",
            "orders[0] (id 9000000001): customer: 'C404' is not a customer of the fixtures",
        ),
        (
            "    status: delivered\n",
            "    status: lost\n",
            "orders[0] (id 9000000001): status: 'lost' is not one of created, paid, shipped, "
            "delivered, cancelled, closed",
        ),
        (
            "    delivered_at: -4wd\n",
            "",
            "orders[0] (id 9000000001): delivered_at: is required when the status is delivered",
        ),
        (
            "price: 10.00, quantity: 1}",
            "price: 10.00, quantity: 1, flags: [fragile]}",
            "orders[0] (id 9000000001): items[0]: flags: unknown flag(s) ['fragile']",
        ),
        (
            "price: 10.00, quantity: 1}",
            "price: ten, quantity: 1}",
            "orders[0] (id 9000000001): items[0]: price: expected an amount like 199.00, got 'ten'",
        ),
        (
            '    phone: "13812345678"\n',
            "    phone: 13812345678\n",
            "customers[0] (id C1): phone: expected a non-empty string (quote numbers), got 13812345678",
        ),
    ],
)
def test_invalid_fixture_files_are_rejected_clearly(
    tmp_path: Path, calendar: WorkingDayCalendar, replace: str, by: str, message: str
) -> None:
    assert replace in ONE_CUSTOMER
    path = write(tmp_path, "bad.yaml", ONE_CUSTOMER.replace(replace, by, 1))
    with pytest.raises(FixtureError) as error:
        read_fixture_files([path], AFTER_NATIONAL_DAY, calendar)
    assert str(error.value).startswith(f"{path}: "), str(error.value)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("second_file", "message"),
    [
        (  # the same order id in another file
            'orders:\n  - {id: "9000000001", customer: C1, status: paid, paid_at: -1d,\n'
            "     payment: {method: alipay, amount: 1}, items: [{sku: X, name: x, category: c,"
            " price: 1, quantity: 1}]}\n",
            "order id '9000000001' appears more than once in the fixtures",
        ),
        (  # the same customer id in another file
            'customers:\n  - {id: C1, name: 又一个, phone: "13900000000"}\n',
            "customer id 'C1' appears more than once in the fixtures",
        ),
        (  # the same customer id twice in one file
            'customers:\n  - {id: C2, name: 甲, phone: "13900000001"}\n'
            '  - {id: C2, name: 乙, phone: "13900000002"}\n',
            "customer id 'C2' appears more than once in the fixtures",
        ),
        (  # another customer with the same web account
            'customers:\n  - {id: C3, name: 丙, phone: "13900000003", accounts: {web: u_test}}\n',
            "account 'web:u_test' appears more than once in the fixtures",
        ),
    ],
)
def test_duplicate_ids_are_rejected(
    tmp_path: Path, calendar: WorkingDayCalendar, second_file: str, message: str
) -> None:
    first = write(tmp_path, "first.yaml", ONE_CUSTOMER)
    second = write(tmp_path, "second.yaml", second_file)
    with pytest.raises(FixtureError) as error:
        read_fixture_files([first, second], AFTER_NATIONAL_DAY, calendar)
    assert str(error.value) == message


def test_duplicate_yaml_key_is_rejected(tmp_path: Path, calendar: WorkingDayCalendar) -> None:
    path = write(tmp_path, "dup.yaml", ONE_CUSTOMER.replace("    paid_at: -3d\n", "    paid_at: -3d\n    paid_at: -2d\n"))
    with pytest.raises(FixtureError) as error:
        read_fixture_files([path], AFTER_NATIONAL_DAY, calendar)
    assert str(error.value).startswith(f"{path}: cannot read fixtures: ")
    assert "found duplicate key 'paid_at'" in str(error.value)
    assert "line 11, column 5" in str(error.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just a list\n", "expected a mapping, got list"),
        ("customers: {id: C1}\n", "customers: expected a list"),
        ("orders: [\n", "cannot read fixtures"),
        ("shops: []\n", "unknown field(s) shops"),
    ],
)
def test_malformed_documents_are_rejected(
    tmp_path: Path, calendar: WorkingDayCalendar, text: str, message: str
) -> None:
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(FixtureError, match="^" + str(path)) as error:
        read_fixture_files([path], AFTER_NATIONAL_DAY, calendar)
    assert message in str(error.value)


def test_missing_file_is_rejected(tmp_path: Path, calendar: WorkingDayCalendar) -> None:
    with pytest.raises(FixtureError, match=r"cannot read fixtures: .*No such file"):
        read_fixture_files([tmp_path / "missing.yaml"], AFTER_NATIONAL_DAY, calendar)


def test_service_refuses_to_start_on_an_invalid_fixture_file(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", ONE_CUSTOMER.replace("    customer: C1\n", "    customer: C404\n"))
    result = subprocess.run(
        [sys.executable, "-m", "order_system", "--fixtures", str(path)],
        cwd=REPO_ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "ORDERS_TOKEN": "t",
            "ORDERS_DATABASE_URL": f"sqlite:///{tmp_path / 'orders.db'}",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"invalid fixtures: {path}: orders[0] (id 9000000001): customer: 'C404' is not a customer" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------ loading


def count(session: Session, model: type) -> int:
    return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def table_counts(sessions: sessionmaker) -> dict[str, int]:
    with sessions() as session:
        return {
            model.__name__: count(session, model)
            for model in (Customer, ChannelAccount, Order, OrderItem, Shipment, ReturnRequest,
                          ReturnItem, Refund)
        }


ACCEPTANCE_COUNTS = {
    "Customer": 3,
    "ChannelAccount": 8,  # 3 web, 2 wechat, 3 phone
    "Order": 11,
    "OrderItem": 11,
    "Shipment": 10,  # 8800001005 (a download) was never shipped
    "ReturnRequest": 2,
    "ReturnItem": 2,
    "Refund": 3,
}


def test_acceptance_fixtures_load(sessions: sessionmaker, calendar: WorkingDayCalendar) -> None:
    with transaction(sessions) as session:
        loaded = load_fixtures(session, [ACCEPTANCE_ORDERS], AFTER_NATIONAL_DAY, calendar)
    assert [customer.id for customer in loaded.customers] == ["C001", "C002", "C003"]
    assert table_counts(sessions) == ACCEPTANCE_COUNTS
    with sessions() as session:
        refund = session.get(Refund, "RF2002")
        assert refund.amount == Decimal("899.00")
        # -4wd from Wednesday 9 October 2024 10:00: Friday 27 September.
        assert refund.goods_received_at == datetime(2024, 9, 27, 2, 0, tzinfo=timezone.utc)
        accounts = session.execute(
            select(ChannelAccount.channel, ChannelAccount.account_id)
            .where(ChannelAccount.customer_id == "C001")
            .order_by(ChannelAccount.channel)
        ).all()
        assert [tuple(account) for account in accounts] == [
            ("phone", "13800138000"),
            ("web", "u_zhangwei"),
            ("wechat", "oWx_zhangwei_01"),
        ]


def test_loading_twice_replaces(sessions: sessionmaker, calendar: WorkingDayCalendar) -> None:
    with transaction(sessions) as session:
        load_fixtures(session, [ACCEPTANCE_ORDERS], AFTER_NATIONAL_DAY, calendar)
    later = AFTER_NATIONAL_DAY + timedelta(days=1)
    with transaction(sessions) as session:
        load_fixtures(session, [ACCEPTANCE_ORDERS], later, calendar)
    assert table_counts(sessions) == ACCEPTANCE_COUNTS
    with sessions() as session:
        # The times are those of the second load.
        assert session.get(Order, "8800001001").delivered_at == later - timedelta(days=3)


def test_loading_twice_in_one_session_replaces(
    sessions: sessionmaker, calendar: WorkingDayCalendar
) -> None:
    # A clash with the first load's objects in the session is only an SAWarning.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with transaction(sessions) as session:
            # Held, so that the first load's objects stay in the session's identity map.
            first = load_fixtures(session, [ACCEPTANCE_ORDERS], AFTER_NATIONAL_DAY, calendar)
            load_fixtures(session, [ACCEPTANCE_ORDERS], AFTER_NATIONAL_DAY, calendar)
    assert len(first.orders) == 11
    assert [str(warning.message) for warning in caught if warning.category is SAWarning] == []
    assert table_counts(sessions) == ACCEPTANCE_COUNTS


def test_reloading_drops_what_was_created_since_and_its_idempotency_key(
    sessions: sessionmaker, calendar: WorkingDayCalendar
) -> None:
    with transaction(sessions) as session:
        load_fixtures(session, [ACCEPTANCE_ORDERS], AFTER_NATIONAL_DAY, calendar)
    request = NewReturn(type="return", skus=("AP-TS-01",), reason="", quality_issue=False)
    with transaction(sessions) as session:
        created, is_new = OrderRepository(session).create_return("8800001001", request, "key-1")
        assert is_new
    with transaction(sessions) as session:
        load_fixtures(session, [ACCEPTANCE_ORDERS], AFTER_NATIONAL_DAY, calendar)
    assert table_counts(sessions) == ACCEPTANCE_COUNTS
    with sessions() as session:
        assert count(session, IdempotencyKey) == 0
    # A retry after the reload creates the request again instead of a conflict.
    with transaction(sessions) as session:
        again, is_new = OrderRepository(session).create_return("8800001001", request, "key-1")
        assert is_new
        assert again.id != created.id


def test_reloading_keeps_other_customers(
    tmp_path: Path, sessions: sessionmaker, calendar: WorkingDayCalendar
) -> None:
    with transaction(sessions) as session:
        load_fixtures(session, [ACCEPTANCE_ORDERS, write(tmp_path, "a.yaml", ONE_CUSTOMER)],
                      AFTER_NATIONAL_DAY, calendar)
    with transaction(sessions) as session:
        load_fixtures(session, [ACCEPTANCE_ORDERS], AFTER_NATIONAL_DAY, calendar)
    with sessions() as session:
        assert count(session, Customer) == 4
        assert count(session, Order) == 12
        assert session.get(Order, "9000000001").customer_id == "C1"


# ------------------------------------------------------------------------------ demo orders

# Each demo order, the last four digits of its customer's phone, and what the policy
# engine decides about it: one order per kind of conversation a newcomer can try.
DEMO_CASES = {
    "6600001001": ("1111", ("RET-7D-WINDOW", "eligible", "within_window")),
    "6600001002": ("1111", ("RET-7D-WINDOW", "not_eligible", "window_expired")),
    "6600001003": ("2222", ("RET-EXCL-CUSTOMIZED", "not_eligible", "customized")),
    "6600001004": ("2222", ("RET-NOT-DELIVERED", "not_eligible", "not_delivered")),
    "6600001005": ("2222", ("RET-EXCL-PERISHABLE", "not_eligible", "perishable")),
    "6600001006": ("3333", ("RET-EXCL-DIGITAL", "not_eligible", "digital_download")),
    "6600001007": ("3333", ("RET-EXCL-CONFIRMED", "not_eligible", "confirmed_non_returnable")),
    "6600002001": ("3333", ("REFUND-DEADLINE", "completed", None)),
    "6600002002": ("3333", ("REFUND-DEADLINE", "overdue", None)),
    "6600002003": ("1111", ("REFUND-DEADLINE", "on_time", None)),  # the README's example
}


@dataclass(frozen=True)
class PolicyItem:
    sku: str
    name: str
    category: str
    flags: frozenset[str]


@dataclass(frozen=True)
class PolicyOrder:
    order_id: str
    status: str
    delivered_at: datetime | None
    return_shipping_insurance: bool


@dataclass(frozen=True)
class PolicyRefund:
    refund_id: str
    status: str
    method: str
    amount: Decimal
    agreed_at: datetime | None
    goods_received_at: datetime | None
    completed_at: datetime | None
    return_id: str | None


def policy_decision(policy: Policy, order: Order, now: datetime) -> tuple[str, str, str | None]:
    """What the policy decides about a demo order: its refund if it has one, else a return."""
    if order.refunds:
        [refund] = order.refunds
        decision = policy.refund_status(
            PolicyRefund(
                refund.id, refund.status, refund.method, refund.amount, refund.agreed_at,
                refund.goods_received_at, refund.completed_at, refund.return_id,
            ),
            now=now,
        )
    else:
        [item] = order.items
        decision = policy.return_eligibility(
            PolicyOrder(order.id, order.status, order.delivered_at, order.return_shipping_insurance),
            PolicyItem(item.sku, item.name, item.category, frozenset(item.flags)),
            now=now,
            intact=True,
            quality_issue=False,
        )
    return decision.rule, decision.outcome, decision.reason


@pytest.mark.parametrize(
    "now",
    [AFTER_NATIONAL_DAY, datetime(2025, 3, 3, 23, 30, tzinfo=BEIJING)],
    ids=["after-national-day", "monday-late-evening"],
)
def test_demo_orders_cover_each_kind_of_case(sessions: sessionmaker, now: datetime) -> None:
    policy = load_policy()
    with transaction(sessions) as session:
        loaded = load_fixtures(session, [DEMO_ORDERS], now, policy.calendar)
    assert {order.id for order in loaded.orders} == set(DEMO_CASES)
    with transaction(sessions) as session:
        repository = OrderRepository(session)
        for order_id, (last4, decision) in DEMO_CASES.items():
            assert repository.phone_last4_matches(order_id, last4), order_id
            assert policy_decision(policy, repository.order(order_id), now) == decision, order_id
