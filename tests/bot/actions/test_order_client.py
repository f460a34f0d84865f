"""The order client against the real reference order system, loaded with the acceptance orders.

Reads use the shared session fixture `order_system`. Tests that create returns and refunds
use a private order system (same fixtures, own database), so that the shared one keeps
the acceptance data exactly as loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from bot.actions.http_client import (
    CircuitOpenError,
    NotFoundError,
    RequestRejectedError,
    RetryPolicy,
    ServiceUnavailableError,
)
from bot.actions.order_client import (
    Customer,
    Item,
    Order,
    OrderClient,
    OrderNotFoundError,
    Payment,
    Refund,
    ReturnRequest,
)
from bot.actions.settings import ActionSettings, ServiceSettings
from bot.policy import ItemLike, OrderLike, RefundLike, load_policy
from service_common.breaker import CircuitBreaker
from tests.fixtures.servers import ACCEPTANCE_ORDERS, RunningService, free_port, start_service

BEIJING_OFFSET = timedelta(hours=8)
DEMO_CARRIERS = {"顺丰速运", "中通快递", "圆通速递", "京东物流"}


def start_order_system(folder: Path, name: str, *, fixtures: bool = True) -> RunningService:
    port = free_port()
    token = f"{name}-token"
    return start_service(
        "order_system",
        ["--fixtures", str(ACCEPTANCE_ORDERS), "--reset"] if fixtures else ["--reset"],
        {
            "ORDERS_TOKEN": token,
            "ORDERS_PORT": str(port),
            "ORDERS_DATABASE_URL": f"sqlite:///{folder / f'{name}.db'}",
        },
        port,
        folder / f"{name}.log",
        token,
    )


@pytest.fixture
def client(order_system: RunningService) -> Iterator[OrderClient]:
    with OrderClient(order_system.url, order_system.token, retry=RetryPolicy(backoff_s=0.01)) as order_client:
        yield order_client


@pytest.fixture(scope="module")
def private_order_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    service = start_order_system(tmp_path_factory.mktemp("orders"), "private_orders")
    yield service
    service.stop()


@pytest.fixture
def writer(private_order_system: RunningService) -> OrderClient:
    return OrderClient(private_order_system.url, private_order_system.token)


def assert_about(moment: datetime | None, expected: datetime) -> None:
    """`moment` is `expected` give or take the minutes since the fixtures were loaded."""
    assert moment is not None
    assert moment.utcoffset() == BEIJING_OFFSET
    assert expected - timedelta(minutes=30) <= moment <= expected


# --------------------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------------------


def test_customer_by_web_account(client):
    customer = client.customer_by_account("web", "u_zhangwei")

    assert customer == Customer(customer_id="C001", name="张伟", masked_phone="138****8000")
    assert "张伟" not in repr(customer)


def test_customer_by_wechat_account(client):
    customer = client.customer_by_account("wechat", "oWx_lina_02")

    assert customer is not None
    assert customer.customer_id == "C002"


def test_customer_by_phone_in_any_usual_spelling(client):
    customer = client.customer_by_account("phone", "+86 138-0013-8000")

    assert customer is not None
    assert customer.customer_id == "C001"


def test_an_unknown_account_is_none(client):
    assert client.customer_by_account("web", "u_nobody") is None


def test_an_unknown_channel_is_rejected(client):
    with pytest.raises(RequestRejectedError) as raised:
        client.customer_by_account("fax", "u_zhangwei")

    assert (raised.value.status, raised.value.code) == (422, "invalid_channel")


def test_recent_orders_newest_first(client):
    orders = client.recent_orders("C001")

    assert [order.order_id for order in orders] == ["8800001001", "8800001003", "8800001002", "8800002001"]
    first = orders[0]
    assert (first.status, first.amount, first.item_names) == ("delivered", Decimal("199.00"), ("纯棉圆领T恤",))
    assert_about(first.paid_at, datetime.now(timezone.utc) - timedelta(days=6))


def test_recent_orders_with_a_limit(client):
    assert [order.order_id for order in client.recent_orders("C001", limit=2)] == ["8800001001", "8800001003"]


def test_recent_orders_of_an_unknown_customer_is_not_found(client):
    with pytest.raises(NotFoundError) as raised:
        client.recent_orders("C999")

    assert raised.value.code == "customer_not_found"
    assert not isinstance(raised.value, OrderNotFoundError)


def test_recent_orders_limit_out_of_range_is_rejected(client):
    with pytest.raises(RequestRejectedError) as raised:
        client.recent_orders("C001", limit=0)

    assert (raised.value.status, raised.value.code) == (422, "invalid_limit")


# --------------------------------------------------------------------------------------
# Orders
# --------------------------------------------------------------------------------------


def test_get_delivered_order(client):
    order = client.get_order("8800001001")
    now = datetime.now(timezone.utc)

    assert (order.order_id, order.customer_id, order.status) == ("8800001001", "C001", "delivered")
    assert order.return_shipping_insurance is False
    assert order.payment == Payment(method="wechat_pay", amount=Decimal("199.00"))
    assert order.items == (
        Item(
            sku="AP-TS-01",
            name="纯棉圆领T恤",
            category="apparel",
            price=Decimal("199.00"),
            quantity=1,
            flags=frozenset(),
        ),
    )
    assert_about(order.paid_at, now - timedelta(days=6))
    assert_about(order.shipped_at, now - timedelta(days=5))
    assert_about(order.delivered_at, now - timedelta(days=3))
    assert order.shipment is not None
    assert order.shipment.status == "delivered"
    assert order.shipment.delivered_at == order.delivered_at
    assert (order.returns, order.refunds) == ((), ())
    assert order.item("AP-TS-01") == order.items[0]
    assert order.item("NOPE") is None


def test_get_order_with_item_flags(client):
    order = client.get_order("8800001003")

    assert order.items[0].flags == frozenset({"customized"})


def test_get_shipped_order_not_yet_delivered(client):
    order = client.get_order("8800001007")

    assert (order.status, order.delivered_at) == ("shipped", None)
    assert order.payment == Payment(method="alipay", amount=Decimal("1599.00"))
    assert order.shipment is not None
    assert (order.shipment.status, order.shipment.delivered_at) == ("in_transit", None)


def test_get_order_with_return_and_refund(client):
    order = client.get_order("8800002001")
    now = datetime.now(timezone.utc)

    assert order.status == "closed"
    assert [(r.return_id, r.return_type, r.status) for r in order.returns] == [("R2001", "return", "completed")]
    (refund,) = order.refunds
    assert (refund.refund_id, refund.order_id, refund.status, refund.method, refund.amount, refund.return_id) == (
        "RF2001",
        "8800002001",
        "succeeded",
        "wechat_pay",
        Decimal("239.00"),
        None,
    )
    assert_about(refund.agreed_at, now - timedelta(days=14))
    assert_about(refund.completed_at, now - timedelta(days=3))


def test_an_unknown_order_is_order_not_found(client):
    with pytest.raises(OrderNotFoundError) as raised:
        client.get_order("9999999999")

    assert raised.value.code == "order_not_found"
    assert isinstance(raised.value, NotFoundError)


@pytest.mark.parametrize("order_id", ["", "../customers/C001", "88000010 01", "8800001001?x=1", "订单8800001001"])
def test_an_order_id_that_cannot_exist_is_order_not_found(client, order_id):
    with pytest.raises(OrderNotFoundError):
        client.get_order(order_id)


def test_order_results_fit_the_policy_engine(client):
    order = client.get_order("8800001001")
    refund = client.list_refunds("8800002001")[0]
    order_like: OrderLike = order
    item_like: ItemLike = order.items[0]
    refund_like: RefundLike = refund
    policy = load_policy()

    eligibility = policy.return_eligibility(
        order_like, item_like, now=datetime.now(timezone.utc), intact=True, quality_issue=False
    )
    refund_decision = policy.refund_status(refund_like, now=datetime.now(timezone.utc))

    assert (eligibility.outcome, eligibility.reason) == ("eligible", "within_window")
    assert refund_decision.outcome == "completed"


def test_snapshot_is_json_and_has_what_an_agent_needs_without_personal_data(client):
    order = client.get_order("8800002001")

    snapshot = order.snapshot()

    assert json.loads(json.dumps(snapshot, ensure_ascii=False)) == snapshot
    assert snapshot["order_id"] == "8800002001"
    assert snapshot["customer_id"] == "C001"
    assert snapshot["payment"] == {"method": "wechat_pay", "amount": "239.00"}
    assert snapshot["items"] == [
        {"sku": "AP-JK-21", "name": "防风夹克", "category": "apparel", "price": "239.00", "quantity": 1, "flags": []}
    ]
    assert [(r["refund_id"], r["status"], r["amount"]) for r in snapshot["refunds"]] == [
        ("RF2001", "succeeded", "239.00")
    ]
    assert [(r["return_id"], r["status"]) for r in snapshot["returns"]] == [("R2001", "completed")]
    assert snapshot["delivered_at"] == order.delivered_at.isoformat(timespec="seconds")
    text = json.dumps(snapshot, ensure_ascii=False)
    assert "13800138000" not in text
    assert "张伟" not in text


# --------------------------------------------------------------------------------------
# Phone check, shipment, returns, refunds
# --------------------------------------------------------------------------------------


def test_verify_phone_last4(client):
    assert client.verify_phone_last4("8800001001", "8000") is True
    assert client.verify_phone_last4("8800001001", "5678") is False
    assert client.verify_phone_last4("8800001004", "5678") is True


def test_verify_phone_last4_of_an_unknown_order(client):
    with pytest.raises(OrderNotFoundError):
        client.verify_phone_last4("9999999999", "8000")


def test_verify_phone_last4_that_is_not_four_digits_is_rejected(client):
    with pytest.raises(RequestRejectedError) as raised:
        client.verify_phone_last4("8800001001", "80O0")

    assert (raised.value.status, raised.value.code) == (422, "invalid_last4")


def test_shipment_of_a_shipped_order(client):
    shipment = client.get_shipment("8800001007")
    now = datetime.now(timezone.utc)

    assert shipment is not None
    assert shipment.carrier in DEMO_CARRIERS
    assert shipment.tracking_number[:2] in {"SF", "ZT", "YT", "JD"}
    assert (shipment.status, shipment.delivered_at) == ("in_transit", None)
    assert_about(shipment.shipped_at, now - timedelta(days=1))
    assert_about(shipment.estimated_delivery, now + timedelta(days=2))


def test_shipment_of_an_order_never_shipped_is_none(client):
    # 8800001005 is a download: delivered without a parcel.
    assert client.get_shipment("8800001005") is None


def test_shipment_of_an_unknown_order(client):
    with pytest.raises(OrderNotFoundError):
        client.get_shipment("9999999999")


def test_list_returns(client):
    returns = client.list_returns("8800002002")

    assert [(r.return_id, r.order_id, r.return_type, r.status, r.quality_issue) for r in returns] == [
        ("R2002", "8800002002", "return", "received", False)
    ]
    assert returns[0].goods_received_at is not None
    assert client.list_returns("8800001001") == []


def test_list_refunds(client):
    refunds = client.list_refunds("8800002003")

    assert [(r.refund_id, r.status, r.method, r.amount, r.completed_at) for r in refunds] == [
        ("RF2003", "processing", "alipay", Decimal("18.00"), None)
    ]
    assert_about(refunds[0].agreed_at, datetime.now(timezone.utc) - timedelta(hours=2))
    assert client.list_refunds("8800001001") == []


def test_list_returns_and_refunds_of_an_unknown_order(client):
    with pytest.raises(OrderNotFoundError):
        client.list_returns("9999999999")
    with pytest.raises(OrderNotFoundError):
        client.list_refunds("9999999999")


# --------------------------------------------------------------------------------------
# Creating returns and refunds (private order system)
# --------------------------------------------------------------------------------------


def test_create_return_is_idempotent(writer):
    arguments = {
        "skus": ["AP-TS-01"],
        "reason": "尺码不合适",
        "quality_issue": False,
        "idempotency_key": "test-conv-1:return:8800001001",
    }

    first = writer.create_return("8800001001", **arguments)
    second = writer.create_return("8800001001", **arguments)

    assert isinstance(first, ReturnRequest)
    assert second == first
    assert (first.order_id, first.return_type, first.status, first.skus, first.reason, first.quality_issue) == (
        "8800001001",
        "return",
        "requested",
        ("AP-TS-01",),
        "尺码不合适",
        False,
    )
    assert [r.return_id for r in writer.list_returns("8800001001")] == [first.return_id]


def test_a_second_return_of_the_same_item_is_rejected(writer):
    writer.create_return(
        "8800002003", skus=["BK-NB-23"], reason="不想要了", quality_issue=False, idempotency_key="k-2003-a"
    )

    with pytest.raises(RequestRejectedError) as raised:
        writer.create_return(
            "8800002003", skus=["BK-NB-23"], reason="不想要了", quality_issue=False, idempotency_key="k-2003-b"
        )

    assert (raised.value.status, raised.value.code) == (409, "return_exists")


def test_reusing_a_key_for_a_different_return_is_rejected(writer):
    writer.create_return(
        "8800001006", skus=["BT-LIP-06"], reason="颜色不对", quality_issue=True, idempotency_key="k-1006"
    )

    with pytest.raises(RequestRejectedError) as raised:
        writer.create_return(
            "8800001006",
            skus=["BT-LIP-06"],
            return_type="exchange",
            reason="颜色不对",
            quality_issue=True,
            idempotency_key="k-1006",
        )

    assert (raised.value.status, raised.value.code) == (409, "idempotency_conflict")


def test_return_of_an_order_not_delivered_is_rejected(writer):
    with pytest.raises(RequestRejectedError) as raised:
        writer.create_return(
            "8800001007", skus=["EL-HP-07"], reason="不想要了", quality_issue=False, idempotency_key="k-1007"
        )

    assert (raised.value.status, raised.value.code) == (409, "order_not_delivered")


def test_return_of_an_unknown_sku_is_rejected(writer):
    with pytest.raises(RequestRejectedError) as raised:
        writer.create_return(
            "8800001002", skus=["NOT-A-SKU"], reason="x", quality_issue=False, idempotency_key="k-1002"
        )

    assert (raised.value.status, raised.value.code) == (422, "unknown_sku")


def test_return_of_an_unknown_order(writer):
    with pytest.raises(OrderNotFoundError):
        writer.create_return(
            "9999999999", skus=["AP-TS-01"], reason="x", quality_issue=False, idempotency_key="k-9999"
        )


def test_create_refund_is_idempotent(writer):
    arguments = {
        "amount": Decimal("18.50"),
        "reason": "商品破损补偿",
        "return_id": None,
        "idempotency_key": "test-conv-2:refund:8800003001",
    }

    first = writer.create_refund("8800003001", **arguments)
    second = writer.create_refund("8800003001", **arguments)

    assert isinstance(first, Refund)
    assert second == first
    assert (first.order_id, first.amount, first.status, first.method, first.reason, first.return_id) == (
        "8800003001",
        Decimal("18.50"),
        "processing",
        "alipay",
        "商品破损补偿",
        None,
    )
    assert first.agreed_at is not None
    assert [r.refund_id for r in writer.list_refunds("8800003001")] == [first.refund_id]


def test_refund_for_a_return(writer):
    request = writer.create_return(
        "8800001002", skus=["SH-RUN-02"], reason="质量问题", quality_issue=True, idempotency_key="k-1002-ret"
    )

    refund = writer.create_refund(
        "8800001002", amount=Decimal("459"), reason="退货退款", return_id=request.return_id, idempotency_key="k-1002-ref"
    )

    assert (refund.return_id, refund.amount, refund.method, refund.goods_received_at) == (
        request.return_id,
        Decimal("459.00"),
        "alipay",
        None,
    )


def test_refund_for_a_return_of_another_order_is_rejected(writer):
    with pytest.raises(RequestRejectedError) as raised:
        writer.create_refund(
            "8800003001", amount=Decimal("1.00"), reason="x", return_id="R2002", idempotency_key="k-3001-r"
        )

    assert (raised.value.status, raised.value.code) == (422, "unknown_return")


def test_refund_above_what_was_paid_is_rejected(writer):
    with pytest.raises(RequestRejectedError) as raised:
        writer.create_refund(
            "8800001002", amount=Decimal("459.01"), reason="x", return_id=None, idempotency_key="k-1002-r"
        )

    assert (raised.value.status, raised.value.code) == (422, "amount_exceeds_refundable")


def test_refund_with_fractions_of_a_cent_is_refused_before_sending(writer):
    with pytest.raises(ValueError):
        writer.create_refund(
            "8800001002", amount=Decimal("1.005"), reason="x", return_id=None, idempotency_key="k-frac"
        )


# --------------------------------------------------------------------------------------
# Authentication, down service, settings
# --------------------------------------------------------------------------------------


def test_wrong_token_is_rejected_with_401(order_system):
    client = OrderClient(order_system.url, "not-the-token")

    with pytest.raises(RequestRejectedError) as raised:
        client.get_order("8800001001")

    assert (raised.value.status, raised.value.code) == (401, "unauthorized")
    assert "not-the-token" not in str(raised.value)


def test_a_stopped_order_system_is_service_unavailable_then_the_circuit_opens(tmp_path):
    service = start_order_system(tmp_path, "stopped_orders", fixtures=False)
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=60)
    client = OrderClient(service.url, service.token, retry=RetryPolicy(max_retries=1, backoff_s=0.01), breaker=breaker)
    with pytest.raises(OrderNotFoundError):
        client.get_order("8800001001")  # up, and empty
    service.stop()

    for _ in range(2):
        with pytest.raises(ServiceUnavailableError) as raised:
            client.get_order("8800001001")
        assert str(raised.value) == "order system get_order: could not connect"
    with pytest.raises(CircuitOpenError):
        client.customer_by_account("web", "u_zhangwei")


def test_from_settings_uses_the_settings(order_system):
    settings = ActionSettings(
        orders=ServiceSettings(
            url=order_system.url + "/",
            token=order_system.token,
            connect_timeout_s=1.5,
            read_timeout_s=4.0,
            max_retries=1,
            backoff_s=0.05,
            breaker_failures=3,
            breaker_cooldown_s=12.0,
        ),
        records=ServiceSettings(url="http://127.0.0.1:1", token="unused"),
    )

    client = OrderClient.from_settings(settings)

    assert client.base_url == order_system.url
    assert client.timeout == (1.5, 4.0)
    assert client.retry == RetryPolicy(max_retries=1, backoff_s=0.05)
    assert (client.breaker.failure_threshold, client.breaker.cooldown_s) == (3, 12.0)
    assert client.get_order("8800001001").order_id == "8800001001"
    assert order_system.token not in repr(client)


def test_order_results_are_immutable(client):
    order: Order = client.get_order("8800001001")

    with pytest.raises(AttributeError):
        order.status = "closed"  # type: ignore[misc]
