"""Loading order fixtures: the acceptance format of `../shared/acceptance/orders.yaml`.

A fixture file has two lists, `customers` and `orders` (see that file's header comment and
`order_system/demo_orders.yaml`). Times are absolute ISO 8601 with an offset, or relative
to one `now` taken when loading starts:

    -3d   three days ago          -2h   two hours ago        -30m  thirty minutes ago
    -4wd  four PRC working days ago, at the same time of day (Beijing time)

Working days are those of the shared PRC calendar (`service_common.workdays`: statutory
holidays and make-up working days), with the holiday data of the bot's policy file, so
that fixtures count them as the bot does; never from a calendar of our own.

What the acceptance format leaves out is filled in deterministically:
- each customer's phone number is also a `phone` channel account (so caller ids match);
- a shipped order gets a demo carrier and tracking number derived from its id, and an
  estimated delivery three days after shipping;
- a return without `items` covers every item of its order.

Loading replaces what the database already holds under the same ids (a customer is
replaced together with all of their orders), so fixtures can be loaded again at every
start without `--reset`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Delete

from order_system.models import (
    BUSINESS_TZ,
    CENT,
    ITEM_FLAGS,
    ORDER_STATUSES,
    REFUND_STATUSES,
    RETURN_STATUSES,
    RETURN_TYPES,
    ChannelAccount,
    Customer,
    IdempotencyKey,
    Order,
    OrderItem,
    Payment,
    Refund,
    ReturnItem,
    ReturnRequest,
    Shipment,
)
from service_common.fields import FieldReader, FieldWording
from service_common.workdays import CalendarError, WorkingDayCalendar, load_working_day_calendar

_RELATIVE_TIME = re.compile(r"^([+-])(\d{1,5})(wd|d|h|m)$")
_MOBILE_PHONE = re.compile(r"^1[3-9][0-9]{9}$")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_ACCOUNT_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
_AMOUNT = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,2})?$")

# Demo carriers for shipments, which the acceptance fixtures do not describe.
_DEMO_CARRIERS = (("顺丰速运", "SF"), ("中通快递", "ZTO"), ("圆通速递", "YT"), ("京东物流", "JDX"))
DEMO_DELIVERY_DAYS = 3

# The working-day calendar's data (holidays of years chinese_calendar does not know yet)
# is the bot's policy file's. It is read as a plain file, because this stand-in for the
# shop's system must not import the bot's code.
POLICY_CALENDAR_FILE = Path(__file__).resolve().parents[1] / "bot" / "policy" / "aftersales_policy.yml"


class FixtureError(ValueError):
    """A fixture file is unreadable or invalid; the message names the file and the entry."""


class CalendarLike(Protocol):
    """The part of the working-day calendar that fixtures need."""

    def add_working_days(self, day: date, count: int) -> date:
        """The date `count` PRC working days after `day` (before it when negative)."""
        ...


@dataclass
class FixtureSet:
    """Customers and orders read from fixture files, not yet in a database."""

    customers: list[Customer] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)


class TimeResolver:
    """Turns fixture times (`-3d`, `-4wd`, ISO 8601) into aware datetimes against one `now`."""

    def __init__(self, now: datetime, calendar: CalendarLike) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.now = now
        self.calendar = calendar

    def resolve(self, value: object) -> datetime:
        """The time `value` stands for.

        Raises:
            ValueError: `value` is neither a relative time nor an ISO time with an offset.
        """
        if isinstance(value, datetime):
            return _require_offset(value)
        if not isinstance(value, str):
            raise ValueError(f"expected a time like -3d, -4wd or ISO 8601, got {value!r}")
        match = _RELATIVE_TIME.match(value.strip())
        if match:
            sign, number, unit = match.groups()
            count = int(number) if sign == "+" else -int(number)
            return self._relative(count, unit)
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"expected a time like -3d, -2h, -30m, -4wd or ISO 8601, got {value!r}"
            ) from None
        # Outside the try: "has no UTC offset" says more than "expected a time like".
        return _require_offset(moment)

    def _relative(self, count: int, unit: str) -> datetime:
        if unit == "wd":
            local_now = self.now.astimezone(BUSINESS_TZ)
            day = self.calendar.add_working_days(local_now.date(), count)
            return datetime.combine(day, local_now.timetz())
        step = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}[unit]
        return self.now + count * step


def _require_offset(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value.isoformat()} has no UTC offset (write e.g. +08:00)")
    return value


_POSITIVE_INTEGER = "expected a positive integer, got {value!r}"
_AMOUNT_LIKE = "expected an amount like 199.00, got {value!r}"


class _Entry(FieldReader):
    """One mapping of a fixture file; errors name the file, the entry and the field."""

    wording = FieldWording(
        error=FixtureError,
        key_separator=": ",
        element_path="{path}: {key}[{index}]",
        not_mapping="expected a mapping, got {type}",
        unknown_keys="unknown field(s) {unknown}",
        missing="is required",
        not_text="expected a non-empty string (quote numbers), got {value!r}",
        not_optional_text="expected a string, got {value!r}",
        no_match="{value!r} does not match {pattern}",
        not_boolean="expected true or false, got {value!r}",
        not_integer=_POSITIVE_INTEGER,
        too_small=_POSITIVE_INTEGER,
        not_one_of="{value!r} is not one of {choices}",
        not_amount=_AMOUNT_LIKE,
        invalid_amount=_AMOUNT_LIKE,
        not_finite_amount=_AMOUNT_LIKE,
        not_list="expected a list",
    )


def _amount(entry: _Entry, key: str) -> Decimal:
    """An amount in yuan: up to ten digits and two decimals, no sign."""
    amount = entry.amount(key)
    written = entry.value(key)
    if not _AMOUNT.match(str(written)):
        raise entry.fail(key, _AMOUNT_LIKE.format(value=written))
    return amount.quantize(CENT)


def _time(entry: _Entry, key: str, times: TimeResolver) -> datetime:
    written = entry.value(key)
    try:
        return times.resolve(written)
    except ValueError as exc:
        raise entry.fail(key, str(exc)) from None


def _optional_time(entry: _Entry, key: str, times: TimeResolver) -> datetime | None:
    return _time(entry, key, times) if entry.has(key) else None


def load_calendar(path: Path = POLICY_CALENDAR_FILE) -> WorkingDayCalendar:
    """The PRC working-day calendar, with the holiday data of the policy file at `path`.

    Raises:
        FixtureError: The calendar section of that file cannot be read or is invalid.
    """
    try:
        return load_working_day_calendar(path)
    except CalendarError as error:
        raise FixtureError(f"relative working days need the policy's calendar: {error}") from None


def read_fixture_files(
    paths: Sequence[Path], now: datetime, calendar: CalendarLike
) -> FixtureSet:
    """Reads and validates fixture files into unsaved customers and orders.

    Args:
        paths: Fixture files; ids must be unique across all of them.
        now: The moment relative times are counted from.
        calendar: The PRC working-day calendar (`load_calendar()`).

    Raises:
        FixtureError: A file cannot be read or is invalid; the message says which file,
            which entry and which field.
    """
    times = TimeResolver(now, calendar)
    fixtures = FixtureSet()
    for path in paths:
        _read_one_file(Path(path), times, fixtures)
    _check_unique_ids(fixtures)
    return fixtures


def _read_one_file(path: Path, times: TimeResolver, into: FixtureSet) -> None:
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FixtureError(f"{path}: cannot read fixtures: {exc}") from None
    top = _Entry(document, str(path), ("customers", "orders"))
    # A list, not a dict by id: a duplicate id must reach _check_unique_ids, not vanish.
    customers = [
        _customer(_Entry(raw, _where(path, "customers", index, raw), _CUSTOMER_FIELDS))
        for index, raw in enumerate(top.optional_array("customers"))
    ]
    into.customers.extend(customers)
    known_customers = {customer.id for customer in into.customers}
    for index, raw in enumerate(top.optional_array("orders")):
        entry = _Entry(raw, _where(path, "orders", index, raw), _ORDER_FIELDS)
        into.orders.append(_order(entry, times, known_customers))


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that rejects a key written twice (PyYAML silently keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        self.flatten_mapping(node)
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"found duplicate key {key!r}", key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _where(path: Path, section: str, index: int, raw: object) -> str:
    entry_id = raw.get("id") if isinstance(raw, Mapping) else None
    return f"{path}: {section}[{index}]" + (f" (id {entry_id})" if entry_id is not None else "")


_CUSTOMER_FIELDS = ("id", "name", "phone", "accounts")
_ORDER_FIELDS = (
    "id", "customer", "status", "paid_at", "shipped_at", "delivered_at", "payment",
    "return_shipping_insurance", "items", "returns", "refunds",
)
_ITEM_FIELDS = ("sku", "name", "category", "price", "quantity", "flags")
_RETURN_FIELDS = (
    "id", "type", "status", "items", "reason", "quality_issue", "created_at", "goods_received_at",
)
_REFUND_FIELDS = (
    "id", "amount", "status", "method", "reason", "return_id", "agreed_at",
    "goods_received_at", "completed_at",
)


def _customer(entry: _Entry) -> Customer:
    phone = entry.text("phone", pattern=_MOBILE_PHONE)
    customer = Customer(id=entry.text("id", pattern=_IDENTIFIER), name=entry.text("name"),
                        phone=phone)
    accounts = entry.child("accounts", ("web", "wechat")) if "accounts" in entry.raw else None
    for channel in ("web", "wechat"):
        if accounts is not None and accounts.raw.get(channel) is not None:
            account_id = accounts.text(channel, pattern=_ACCOUNT_ID)
            customer.accounts.append(ChannelAccount(channel=channel, account_id=account_id))
    customer.accounts.append(ChannelAccount(channel="phone", account_id=phone))
    return customer


def _order(entry: _Entry, times: TimeResolver, known_customers: set[str]) -> Order:
    customer_id = entry.text("customer")
    if customer_id not in known_customers:
        raise entry.fail("customer", f"{customer_id!r} is not a customer of the fixtures")
    order = Order(
        id=entry.text("id", pattern=_IDENTIFIER),
        customer_id=customer_id,
        status=entry.choice("status", ORDER_STATUSES),
        paid_at=_optional_time(entry, "paid_at", times),
        shipped_at=_optional_time(entry, "shipped_at", times),
        delivered_at=_optional_time(entry, "delivered_at", times),
        return_shipping_insurance=entry.boolean("return_shipping_insurance", default=False),
    )
    if order.status == "delivered" and order.delivered_at is None:
        raise entry.fail("delivered_at", "is required when the status is delivered")
    payment = entry.child("payment", ("method", "amount"))
    order.payment = Payment(method=payment.text("method"), amount=_amount(payment, "amount"))
    items = entry.raw.get("items")
    if not isinstance(items, list) or not items:
        raise entry.fail("items", "expected a non-empty list")
    order.items = [_item(item) for item in entry.children("items", _ITEM_FIELDS)]
    order.shipment = _demo_shipment(order)
    skus = [item.sku for item in order.items]
    order.returns = [
        _return(request, times, skus)
        for request in entry.optional_children("returns", _RETURN_FIELDS)
    ]
    return_ids = {request.id for request in order.returns}
    order.refunds = [
        _refund(refund, times, return_ids)
        for refund in entry.optional_children("refunds", _REFUND_FIELDS)
    ]
    return order


def _item(entry: _Entry) -> OrderItem:
    flags = entry.optional_array("flags")
    unknown = [flag for flag in flags if flag not in ITEM_FLAGS]
    if unknown:
        raise entry.fail("flags", f"unknown flag(s) {unknown!r}; known: {', '.join(ITEM_FLAGS)}")
    return OrderItem(
        sku=entry.text("sku", pattern=re.compile(r"^[A-Za-z0-9_.-]{1,64}$")),
        name=entry.text("name"),
        category=entry.text("category"),
        price=_amount(entry, "price"),
        quantity=entry.integer("quantity", minimum=1),
        **{flag: flag in flags for flag in ITEM_FLAGS},
    )


def _return(entry: _Entry, times: TimeResolver, order_skus: list[str]) -> ReturnRequest:
    skus = entry.optional_array("items") or list(order_skus)
    unknown = [sku for sku in skus if sku not in order_skus]
    if unknown:
        raise entry.fail("items", f"{unknown!r} are not items of this order")
    return ReturnRequest(
        id=entry.text("id", pattern=_IDENTIFIER),
        type=entry.choice("type", RETURN_TYPES),
        status=entry.choice("status", RETURN_STATUSES),
        reason=entry.optional_text("reason") or "",
        quality_issue=entry.boolean("quality_issue", default=False),
        created_at=_time(entry, "created_at", times),
        goods_received_at=_optional_time(entry, "goods_received_at", times),
        items=[ReturnItem(sku=sku) for sku in dict.fromkeys(skus)],
    )


def _refund(entry: _Entry, times: TimeResolver, return_ids: set[str]) -> Refund:
    return_id = entry.optional_text("return_id") or None
    if return_id is not None and return_id not in return_ids:
        raise entry.fail("return_id", f"{return_id!r} is not a return of this order")
    return Refund(
        id=entry.text("id", pattern=_IDENTIFIER),
        amount=_amount(entry, "amount"),
        status=entry.choice("status", REFUND_STATUSES),
        method=entry.text("method"),
        reason=entry.optional_text("reason") or "",
        return_id=return_id,
        agreed_at=_time(entry, "agreed_at", times),
        goods_received_at=_optional_time(entry, "goods_received_at", times),
        completed_at=_optional_time(entry, "completed_at", times),
    )


def _demo_shipment(order: Order) -> Shipment | None:
    """A deterministic demo shipment for an order that has been shipped."""
    if order.shipped_at is None:
        return None
    digest = hashlib.sha256(order.id.encode()).hexdigest()
    carrier, prefix = _DEMO_CARRIERS[int(digest[:8], 16) % len(_DEMO_CARRIERS)]
    tracking_number = prefix + str(int(digest[8:24], 16))[-12:].zfill(12)
    return Shipment(
        carrier=carrier,
        tracking_number=tracking_number,
        status="delivered" if order.delivered_at is not None else "in_transit",
        shipped_at=order.shipped_at,
        delivered_at=order.delivered_at,
        estimated_delivery=order.shipped_at + timedelta(days=DEMO_DELIVERY_DAYS),
    )


def _check_unique_ids(fixtures: FixtureSet) -> None:
    _require_unique("customer id", [customer.id for customer in fixtures.customers])
    _require_unique("order id", [order.id for order in fixtures.orders])
    _require_unique("return id", [r.id for order in fixtures.orders for r in order.returns])
    _require_unique("refund id", [r.id for order in fixtures.orders for r in order.refunds])
    _require_unique(
        "account",
        [f"{a.channel}:{a.account_id}" for c in fixtures.customers for a in c.accounts],
    )


def _require_unique(what: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise FixtureError(f"{what} {value!r} appears more than once in the fixtures")
        seen.add(value)


def save_fixtures(session: Session, fixtures: FixtureSet) -> None:
    """Writes `fixtures`, replacing whatever the database holds under the same ids."""
    _delete_existing(session, fixtures)
    session.add_all(fixtures.customers)
    session.add_all(fixtures.orders)
    session.flush()


def _delete_existing(session: Session, fixtures: FixtureSet) -> None:
    customer_ids = [customer.id for customer in fixtures.customers]
    order_ids = [order.id for order in fixtures.orders]
    return_ids = [r.id for order in fixtures.orders for r in order.returns]
    refund_ids = [r.id for order in fixtures.orders for r in order.refunds]
    accounts = [(a.channel, a.account_id) for c in fixtures.customers for a in c.accounts]
    stale_orders = select(Order.id).where(
        Order.id.in_(order_ids) | Order.customer_id.in_(customer_ids)
    )
    stale_returns = select(ReturnRequest.id).where(
        ReturnRequest.id.in_(return_ids) | ReturnRequest.order_id.in_(stale_orders)
    )
    # Children first, with explicit statements: SQLite only cascades with foreign keys on.
    _delete(session, delete(Refund).where(
        Refund.id.in_(refund_ids) | Refund.order_id.in_(stale_orders)
    ))
    _delete(session, delete(ReturnItem).where(ReturnItem.return_id.in_(stale_returns)))
    _delete(session, delete(ReturnRequest).where(ReturnRequest.id.in_(stale_returns)))
    for model in (OrderItem, Payment, Shipment):
        _delete(session, delete(model).where(model.order_id.in_(stale_orders)))
    _delete(session, delete(Order).where(Order.id.in_(stale_orders)))
    for channel, account_id in accounts:
        _delete(session, delete(ChannelAccount).where(
            (ChannelAccount.channel == channel) & (ChannelAccount.account_id == account_id)
        ))
    _delete(session, delete(ChannelAccount).where(ChannelAccount.customer_id.in_(customer_ids)))
    _delete(session, delete(Customer).where(Customer.id.in_(customer_ids)))
    # A key whose return or refund was just replaced would otherwise answer every retry
    # with a conflict; forgetting it lets the retry create the request again.
    _delete(session, delete(IdempotencyKey).where(
        (IdempotencyKey.operation == "create_return")
        & IdempotencyKey.resource_id.not_in(select(ReturnRequest.id))
    ))
    _delete(session, delete(IdempotencyKey).where(
        (IdempotencyKey.operation == "create_refund")
        & IdempotencyKey.resource_id.not_in(select(Refund.id))
    ))


def _delete(session: Session, statement: Delete) -> None:
    # "fetch" takes the deleted rows out of the session too, so that loading twice in
    # one session does not clash with the objects the first load left in it.
    session.execute(statement, execution_options={"synchronize_session": "fetch"})


def load_fixtures(
    session: Session, paths: Sequence[Path], now: datetime, calendar: CalendarLike
) -> FixtureSet:
    """Reads `paths` and saves them in `session`'s transaction (see `read_fixture_files`)."""
    fixtures = read_fixture_files(paths, now, calendar)
    save_fixtures(session, fixtures)
    return fixtures


__all__ = [
    "CalendarLike",
    "FixtureError",
    "FixtureSet",
    "TimeResolver",
    "load_calendar",
    "load_fixtures",
    "read_fixture_files",
    "save_fixtures",
]

