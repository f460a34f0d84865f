"""The reference order system's HTTP API, against the real process.

Reading tests use the shared session service (`order_system`, acceptance orders). Tests
that create returns and refunds run against a service of their own, so that the shared
one keeps the acceptance orders exactly as the fixture file describes them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fixtures.servers import (
    ACCEPTANCE_ORDERS,
    RunningService,
    free_port,
    start_service,
)
from tests.order_system.contract import assert_matches_description
from tests.order_system.order_api import VALID_RETURN, OrderApi, error_of, fire_together

TIMEOUT_S = 10
ZHANG_WEI_PHONE = "13800138000"
# The service resolved the fixtures' relative times when it started, a few seconds or
# minutes before a test looks at them.
CLOCK_SLACK = timedelta(minutes=15)

ORDER_ROUTES = [
    ("GET", "/api/orders/{order_id}"),
    ("GET", "/api/orders/{order_id}/shipment"),
    ("GET", "/api/orders/{order_id}/returns"),
    ("GET", "/api/orders/{order_id}/refunds"),
    ("POST", "/api/orders/{order_id}/verify-phone"),
    ("POST", "/api/orders/{order_id}/returns"),
    ("POST", "/api/orders/{order_id}/refunds"),
]
API_ROUTES = [
    ("GET", "/api/customers/by-account?channel=web&account_id=u_zhangwei"),
    ("GET", "/api/customers/C001/orders"),
    *[(method, path.format(order_id="8800001001")) for method, path in ORDER_ROUTES],
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrderApi]:
    """A service of this module's own: its relative fixture times resolve when the module
    starts, not when the session's shared order system did (minutes earlier)."""
    yield from _own_order_system(tmp_path_factory, "read_orders")


@pytest.fixture(scope="module")
def writable_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrderApi]:
    """A service of this module's own, for the tests that create returns and refunds."""
    yield from _own_order_system(tmp_path_factory, "writable_orders")


def _own_order_system(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[OrderApi]:
    folder = tmp_path_factory.mktemp(name)
    port = free_port()
    token = f"{name}-token"
    service = start_service(
        "order_system",
        ["--fixtures", str(ACCEPTANCE_ORDERS), "--reset"],
        {
            "ORDERS_TOKEN": token,
            "ORDERS_PORT": str(port),
            "ORDERS_DATABASE_URL": f"sqlite:///{folder / 'orders.db'}",
        },
        port,
        folder / "order_system.log",
        token,
    )
    yield OrderApi(service)
    service.stop()


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() == timedelta(hours=8), value
    return moment


def assert_ago(value: str, expected: timedelta) -> None:
    """`value` lies `expected` before now, give or take the service's start-up."""
    age = datetime.now(timezone.utc) - parse_time(value)
    assert expected - timedelta(seconds=1) <= age <= expected + CLOCK_SLACK, (value, expected)


# ------------------------------------------------------------------------------ auth


def test_health_needs_no_token(order_system: RunningService) -> None:
    response = requests.get(f"{order_system.url}/health", timeout=TIMEOUT_S)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert_matches_description("/health", "get", 200, response.json())


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "test-orders-token", "Bearer ", "Basic dGVzdDp0ZXN0"],
)
def test_api_routes_need_the_token(
    order_system: RunningService, method: str, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = requests.request(
        method, order_system.url + path, headers=headers, json={}, timeout=TIMEOUT_S
    )
    assert response.json() == {
        "error": {"code": "unauthorized", "message": "a valid bearer token is required"}
    }
    assert response.status_code == 401


# ------------------------------------------------------------------------------ reading


def test_delivered_tshirt_order(api: OrderApi) -> None:
    response = api.get("/api/orders/8800001001")
    assert response.status_code == 200
    order = response.json()
    assert_matches_description("/api/orders/{order_id}", "get", 200, order)
    assert order["order_id"] == "8800001001"
    assert order["customer_id"] == "C001"
    assert order["status"] == "delivered"
    assert order["return_shipping_insurance"] is False
    assert order["payment"] == {"method": "wechat_pay", "amount": "199.00"}
    assert order["items"] == [
        {
            "sku": "AP-TS-01",
            "name": "纯棉圆领T恤",
            "category": "apparel",
            "price": "199.00",
            "quantity": 1,
            "flags": [],
        }
    ]
    assert_ago(order["paid_at"], timedelta(days=6))
    assert_ago(order["shipped_at"], timedelta(days=5))
    assert_ago(order["delivered_at"], timedelta(days=3))
    assert order["shipment"]["status"] == "delivered"
    assert order["shipment"]["delivered_at"] == order["delivered_at"]
    assert order["returns"] == []
    assert order["refunds"] == []


def test_item_flags_are_served(api: OrderApi) -> None:
    order = api.get("/api/orders/8800001003").json()
    assert [(item["sku"], item["flags"]) for item in order["items"]] == [
        ("GF-ENG-03", ["customized"])
    ]


def test_closed_order_with_its_return_and_refund(api: OrderApi) -> None:
    order = api.get("/api/orders/8800002001").json()
    assert order["status"] == "closed"

    returns = api.get("/api/orders/8800002001/returns")
    assert returns.status_code == 200
    assert_matches_description("/api/orders/{order_id}/returns", "get", 200, returns.json())
    [request] = returns.json()["returns"]
    assert {key: request[key] for key in ("return_id", "order_id", "type", "status", "skus")} == {
        "return_id": "R2001",
        "order_id": "8800002001",
        "type": "return",
        "status": "completed",
        "skus": ["AP-JK-21"],
    }
    assert_ago(request["created_at"], timedelta(days=14))
    assert_ago(request["goods_received_at"], timedelta(days=3))

    refunds = api.get("/api/orders/8800002001/refunds")
    assert refunds.status_code == 200
    assert_matches_description("/api/orders/{order_id}/refunds", "get", 200, refunds.json())
    [refund] = refunds.json()["refunds"]
    assert {
        key: refund[key] for key in ("refund_id", "order_id", "amount", "status", "method")
    } == {
        "refund_id": "RF2001",
        "order_id": "8800002001",
        "amount": "239.00",
        "status": "succeeded",
        "method": "wechat_pay",
    }
    assert_ago(refund["agreed_at"], timedelta(days=14))
    assert_ago(refund["completed_at"], timedelta(days=3))
    assert order["returns"] == returns.json()["returns"]
    assert order["refunds"] == refunds.json()["refunds"]


def test_shipped_order_has_a_parcel_in_transit(api: OrderApi) -> None:
    response = api.get("/api/orders/8800001007/shipment")
    assert response.status_code == 200
    assert_matches_description("/api/orders/{order_id}/shipment", "get", 200, response.json())
    shipment = response.json()["shipment"]
    assert shipment["status"] == "in_transit"
    assert shipment["delivered_at"] is None
    assert_ago(shipment["shipped_at"], timedelta(days=1))
    assert parse_time(shipment["estimated_delivery"]) - parse_time(shipment["shipped_at"]) == (
        timedelta(days=3)
    )
    prefixes = {"顺丰速运": "SF", "中通快递": "ZTO", "圆通速递": "YT", "京东物流": "JDX"}
    prefix = prefixes[shipment["carrier"]]
    assert shipment["tracking_number"].startswith(prefix)
    assert len(shipment["tracking_number"]) == len(prefix) + 12
    assert api.get("/api/orders/8800001007").json()["status"] == "shipped"


def test_order_never_shipped_has_no_parcel(api: OrderApi) -> None:
    response = api.get("/api/orders/8800001005/shipment")
    assert response.status_code == 200
    assert response.json() == {"shipment": None}


@pytest.mark.parametrize(
    ("channel", "account_id", "customer"),
    [
        ("web", "u_zhangwei", {"customer_id": "C001", "name": "张伟", "masked_phone": "138****8000"}),
        ("wechat", "oWx_lina_02", {"customer_id": "C002", "name": "李娜", "masked_phone": "139****5678"}),
        ("phone", "13700005555", {"customer_id": "C003", "name": "王芳", "masked_phone": "137****5555"}),
        ("phone", "+86 138-0013-8000", {"customer_id": "C001", "name": "张伟", "masked_phone": "138****8000"}),
    ],
)
def test_customer_by_channel_account(
    api: OrderApi, channel: str, account_id: str, customer: dict[str, str]
) -> None:
    response = api.get("/api/customers/by-account", channel=channel, account_id=account_id)
    assert response.status_code == 200
    assert response.json() == customer
    assert_matches_description("/api/customers/by-account", "get", 200, response.json())


def test_unknown_account_is_404(api: OrderApi) -> None:
    response = api.get("/api/customers/by-account", channel="wechat", account_id="u_zhangwei")
    assert error_of(response) == (404, "customer_not_found")


def test_recent_orders_newest_first(api: OrderApi) -> None:
    response = api.get("/api/customers/C001/orders")
    assert response.status_code == 200
    assert_matches_description("/api/customers/{customer_id}/orders", "get", 200, response.json())
    orders = response.json()["orders"]
    # paid 6, 9, 14 and 20 days ago
    assert [order["order_id"] for order in orders] == [
        "8800001001",
        "8800001003",
        "8800001002",
        "8800002001",
    ]
    assert orders[0] == {
        "order_id": "8800001001",
        "status": "delivered",
        "paid_at": orders[0]["paid_at"],
        "amount": "199.00",
        "item_names": ["纯棉圆领T恤"],
    }
    limited = api.get("/api/customers/C001/orders", limit="2").json()["orders"]
    assert [order["order_id"] for order in limited] == ["8800001001", "8800001003"]


def test_unknown_customer_orders_is_404(api: OrderApi) -> None:
    assert error_of(api.get("/api/customers/C999/orders")) == (404, "customer_not_found")


@pytest.mark.parametrize(
    ("order_id", "last4", "match"),
    [
        ("8800001001", "8000", True),
        ("8800001001", "0008", False),
        ("8800001001", "0000", False),
        ("8800001007", "5555", True),
        ("8800001007", "8000", False),
    ],
)
def test_verify_phone(api: OrderApi, order_id: str, last4: str, match: bool) -> None:
    response = api.post(f"/api/orders/{order_id}/verify-phone", {"last4": last4})
    assert response.status_code == 200
    assert response.json() == {"match": match}
    assert_matches_description("/api/orders/{order_id}/verify-phone", "post", 200, response.json())


def test_phone_number_is_never_in_a_response_or_the_log(api: OrderApi) -> None:
    responses = [
        api.get("/api/customers/by-account", channel="web", account_id="u_zhangwei"),
        api.get("/api/customers/by-account", channel="phone", account_id=ZHANG_WEI_PHONE),
        api.get("/api/customers/C001/orders", limit="50"),
        api.post("/api/orders/8800001001/verify-phone", {"last4": "8000"}),
        api.post("/api/orders/8800001001/verify-phone", {"last4": ZHANG_WEI_PHONE}),
        api.post("/api/orders/8800001001/verify-phone", {"phone": ZHANG_WEI_PHONE}),
    ]
    for order_id in ("8800001001", "8800001002", "8800001003", "8800002001"):
        for suffix in ("", "/shipment", "/returns", "/refunds"):
            responses.append(api.get(f"/api/orders/{order_id}{suffix}"))
    assert [response.status_code for response in responses[:6]] == [200, 200, 200, 200, 422, 422]
    for response in responses:
        assert ZHANG_WEI_PHONE not in response.text, response.url
        assert "138 0013 8000" not in response.text
    assert ZHANG_WEI_PHONE not in api.service.log_path.read_text(errors="replace")


@pytest.mark.parametrize(("method", "path"), ORDER_ROUTES)
def test_unknown_order_is_404(api: OrderApi, method: str, path: str) -> None:
    url = path.format(order_id="8800009999")
    if method == "GET":
        response = api.get(url)
    elif url.endswith("verify-phone"):
        response = api.post(url, {"last4": "8000"})
    elif url.endswith("returns"):
        body = {"type": "return", "skus": ["AP-TS-01"], "reason": "", "quality_issue": False}
        response = api.post(url, body, key="unknown-order-return")
    else:
        response = api.post(url, {"amount": "1.00", "reason": ""}, key="unknown-order-refund")
    assert response.json() == {"error": {"code": "order_not_found", "message": "no such order"}}
    assert response.status_code == 404


# ------------------------------------------------------------------------------ bad input

@pytest.mark.parametrize(
    ("path", "data", "status", "code"),
    [
        ("/api/orders/8800001001/verify-phone", b'{"last4": "80', 400, "malformed_json"),
        ("/api/orders/8800001001/verify-phone", b"\xff\xfe{}", 400, "malformed_json"),
        ("/api/orders/8800001001/verify-phone", b"[1, 2]", 422, "invalid_body"),
        ("/api/orders/8800001001/verify-phone", b'"8000"', 422, "invalid_body"),
        ("/api/orders/8800001001/verify-phone", b"null", 422, "invalid_body"),
        ("/api/orders/8800001001/verify-phone", b"", 422, "invalid_body"),
        ("/api/orders/8800001001/verify-phone", b'{"last4": "12a4"}', 422, "invalid_last4"),
        ("/api/orders/8800001001/verify-phone", b'{"last4": 8000}', 422, "invalid_last4"),
        ("/api/orders/8800001001/verify-phone", b'{"last4": "800"}', 422, "invalid_last4"),
        ("/api/orders/8800001001/verify-phone", b'{"last4": "80000"}', 422, "invalid_last4"),
        ("/api/orders/8800001001/verify-phone", b'{"last4": " 8000"}', 422, "invalid_last4"),
        ("/api/orders/8800001001/verify-phone", '{"last4": "８０００"}'.encode(), 422, "invalid_last4"),
        ("/api/orders/8800001001/verify-phone", b'{"last4": null}', 422, "invalid_last4"),
        ("/api/orders/8800001001/verify-phone", b"{}", 422, "invalid_last4"),
        ("/api/orders/8800001001/verify-phone", b'{"last4": "8000", "x": 1}', 422, "unknown_field"),
        pytest.param(
            "/api/orders/8800001001/verify-phone",
            b"[" * 5000 + b"]" * 5000,
            400,
            "malformed_json",
            id="nested-too-deep",
        ),
    ],
)
def test_bad_verify_phone_bodies(
    api: OrderApi, path: str, data: bytes, status: int, code: str
) -> None:
    assert error_of(api.post(path, data=data)) == (status, code)


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/api/customers/C001/orders", {"limit": "abc"}, 422, "invalid_limit"),
        ("/api/customers/C001/orders", {"limit": "0"}, 422, "invalid_limit"),
        ("/api/customers/C001/orders", {"limit": "51"}, 422, "invalid_limit"),
        ("/api/customers/C001/orders", {"limit": "-1"}, 422, "invalid_limit"),
        ("/api/customers/C001/orders", {"limit": "2.5"}, 422, "invalid_limit"),
        ("/api/customers/C001/orders", {"limit": "9" * 400}, 422, "invalid_limit"),
        ("/api/customers/by-account", {"channel": "sms", "account_id": "x"}, 422, "invalid_channel"),
        ("/api/customers/by-account", {"account_id": "u_zhangwei"}, 422, "invalid_channel"),
        ("/api/customers/by-account", {"channel": "web"}, 422, "invalid_account_id"),
        ("/api/customers/by-account", {"channel": "web", "account_id": "张伟"}, 422, "invalid_account_id"),
        ("/api/customers/by-account", {"channel": "web", "account_id": "a" * 129}, 422, "invalid_account_id"),
        ("/api/customers/by-account", {"channel": "web", "account_id": "' OR 1=1 --"}, 422, "invalid_account_id"),
        ("/api/customers/by-account", {"channel": "web", "account_id": "'OR'1'='1"}, 404, "customer_not_found"),
    ],
)
def test_bad_query_parameters(
    api: OrderApi, path: str, params: dict[str, str], status: int, code: str
) -> None:
    assert error_of(api.get(path, **params)) == (status, code)


@pytest.mark.parametrize(
    ("raw_path", "status", "code"),
    [
        ("/api/orders/..%2F..%2Fetc%2Fpasswd", 404, "order_not_found"),
        ("/api/orders/8800001001%27%20OR%20%271%27=%271", 404, "order_not_found"),
        ("/api/orders/%00", 404, "order_not_found"),
        ("/api/orders/%ff%fe", 404, "order_not_found"),
        ("/api/orders/" + "8" * 33, 404, "order_not_found"),
        ("/api/orders/8800001001;drop", 404, "order_not_found"),
        ("/api/orders/../../health", 404, "not_found"),
        ("/api/customers/C001%2F..%2FC002/orders", 404, "customer_not_found"),
        ("/api/customers/%2e%2e/orders", 404, "customer_not_found"),
        ("/api/orders/8800001001/cancel", 404, "not_found"),
        ("/api/nothing", 404, "not_found"),
    ],
)
def test_path_injection_is_not_found(api: OrderApi, raw_path: str, status: int, code: str) -> None:
    # A prepared request keeps the path exactly as written (requests would normalise ../).
    session = requests.Session()
    request = requests.Request("GET", api.url, headers=api.auth).prepare()
    request.url = api.url + raw_path
    response = session.send(request, timeout=TIMEOUT_S)
    assert error_of(response) == (status, code)


def test_wrong_method_is_405(api: OrderApi) -> None:
    response = requests.delete(f"{api.url}/api/orders/8800001001", headers=api.auth, timeout=TIMEOUT_S)
    assert error_of(response) == (405, "method_not_allowed")


def test_oversized_body_is_413(api: OrderApi) -> None:
    body = b'{"last4": "' + b"8" * (70 * 1024) + b'"}'
    response = api.post("/api/orders/8800001001/verify-phone", data=body)
    assert error_of(response) == (413, "payload_too_large")


@pytest.mark.parametrize(
    ("body", "key", "status", "code"),
    [
        (VALID_RETURN, None, 400, "idempotency_key_required"),
        (VALID_RETURN, "", 400, "idempotency_key_required"),
        (VALID_RETURN, "has space", 400, "invalid_idempotency_key"),
        (VALID_RETURN, "k" * 129, 400, "invalid_idempotency_key"),
        ({**VALID_RETURN, "type": "swap"}, "bad-1", 422, "invalid_type"),
        ({**VALID_RETURN, "skus": []}, "bad-2", 422, "invalid_skus"),
        ({**VALID_RETURN, "skus": "AP-TS-01"}, "bad-3", 422, "invalid_skus"),
        ({**VALID_RETURN, "skus": [1]}, "bad-4", 422, "invalid_skus"),
        ({**VALID_RETURN, "quality_issue": "no"}, "bad-5", 422, "invalid_quality_issue"),
        ({**VALID_RETURN, "reason": "x" * 501}, "bad-6", 422, "invalid_reason"),
        ({**VALID_RETURN, "reason": "a\x00b"}, "bad-7", 422, "invalid_reason"),
        ({**VALID_RETURN, "reason": "\ud800"}, "bad-8", 422, "invalid_reason"),
        ({**VALID_RETURN, "customer_id": "C002"}, "bad-9", 422, "unknown_field"),
        ({**VALID_RETURN, "skus": ["NOPE-1"]}, "bad-10", 422, "unknown_sku"),
    ],
)
def test_bad_create_return_requests(
    api: OrderApi, body: dict[str, Any], key: str | None, status: int, code: str
) -> None:
    # None of these reach the database, so the shared service stays untouched.
    response = api.post("/api/orders/8800001001/returns", body, key=key)
    assert error_of(response) == (status, code)


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b'{"amount": "0", "reason": ""}', 422, "invalid_amount"),
        (b'{"amount": "-1.00", "reason": ""}', 422, "invalid_amount"),
        (b'{"amount": "1.001", "reason": ""}', 422, "invalid_amount"),
        (b'{"amount": "1e3", "reason": ""}', 422, "invalid_amount"),
        (b'{"amount": true, "reason": ""}', 422, "invalid_amount"),
        (b'{"amount": 1e400, "reason": ""}', 422, "invalid_amount"),
        (b'{"amount": NaN, "reason": ""}', 422, "invalid_amount"),
        (b'{"amount": 99999999999999999999999999999, "reason": ""}', 422, "invalid_amount"),
        (b'{"amount": "1.00", "reason": "", "return_id": 5}', 422, "invalid_return_id"),
        (b'{"amount": "1.00", "reason": "", "return_id": "R2001"}', 422, "unknown_return"),
        (b'{"amount": "1.00"}', 422, "invalid_reason"),
        (b'{"amount": "2899.01", "reason": ""}', 422, "amount_exceeds_refundable"),
    ],
)
def test_bad_create_refund_requests(api: OrderApi, data: bytes, status: int, code: str) -> None:
    response = api.post("/api/orders/8800003001/refunds", key="bad-refund", data=data)
    assert error_of(response) == (status, code)


# ------------------------------------------------------------------------------ creating


def test_create_return_then_replay_returns_the_same(writable_api: OrderApi) -> None:
    first = writable_api.post("/api/orders/8800001001/returns", VALID_RETURN, key="ret-1")
    assert first.status_code == 201
    created = first.json()
    assert_matches_description("/api/orders/{order_id}/returns", "post", 201, created)
    assert {key: created[key] for key in ("order_id", "type", "status", "skus", "reason")} == {
        "order_id": "8800001001",
        "type": "return",
        "status": "requested",
        "skus": ["AP-TS-01"],
        "reason": "不合适",
    }
    assert created["return_id"].startswith("R")
    assert_ago(created["created_at"], timedelta(0))

    again = writable_api.post("/api/orders/8800001001/returns", VALID_RETURN, key="ret-1")
    assert again.status_code == 200
    assert again.json() == created
    stored = writable_api.get("/api/orders/8800001001/returns").json()["returns"]
    assert [request["return_id"] for request in stored] == [created["return_id"]]

    different = writable_api.post(
        "/api/orders/8800001001/returns", {**VALID_RETURN, "reason": "变心了"}, key="ret-1"
    )
    assert error_of(different) == (409, "idempotency_conflict")

    second = writable_api.post("/api/orders/8800001001/returns", VALID_RETURN, key="ret-2")
    assert error_of(second) == (409, "return_exists")
    assert len(writable_api.get("/api/orders/8800001001/returns").json()["returns"]) == 1


def test_concurrent_duplicate_returns_create_one(writable_api: OrderApi) -> None:
    body = {"type": "exchange", "skus": ["SH-RUN-02"], "reason": "尺码小", "quality_issue": False}
    responses = fire_together(
        5, lambda: writable_api.post("/api/orders/8800001002/returns", body, key="ret-concurrent")
    )
    assert sorted(response.status_code for response in responses) == [200, 200, 200, 200, 201]
    assert len({response.json()["return_id"] for response in responses}) == 1
    stored = writable_api.get("/api/orders/8800001002/returns").json()["returns"]
    assert [request["return_id"] for request in stored] == [responses[0].json()["return_id"]]


def test_return_on_an_undelivered_order_is_409(writable_api: OrderApi) -> None:
    body = {"type": "return", "skus": ["EL-HP-07"], "reason": "", "quality_issue": False}
    response = writable_api.post("/api/orders/8800001007/returns", body, key="ret-undelivered")
    assert error_of(response) == (409, "order_not_delivered")
    assert writable_api.get("/api/orders/8800001007/returns").json() == {"returns": []}


def test_create_refund_then_replay_returns_the_same(writable_api: OrderApi) -> None:
    body = {"amount": "100.00", "reason": "屏幕划痕补偿"}
    first = writable_api.post("/api/orders/8800003001/refunds", body, key="ref-1")
    assert first.status_code == 201
    created = first.json()
    assert_matches_description("/api/orders/{order_id}/refunds", "post", 201, created)
    assert {key: created[key] for key in ("order_id", "amount", "status", "method", "return_id")} == {
        "order_id": "8800003001",
        "amount": "100.00",
        "status": "processing",
        "method": "alipay",
        "return_id": None,
    }
    again = writable_api.post("/api/orders/8800003001/refunds", body, key="ref-1")
    assert again.status_code == 200
    assert again.json() == created
    # The same amount written as a number is the same request.
    as_number = writable_api.post(
        "/api/orders/8800003001/refunds", {"amount": 100, "reason": "屏幕划痕补偿"}, key="ref-1"
    )
    assert as_number.status_code == 200
    assert as_number.json() == created
    different = writable_api.post(
        "/api/orders/8800003001/refunds", {**body, "amount": "100.01"}, key="ref-1"
    )
    assert error_of(different) == (409, "idempotency_conflict")
    stored = writable_api.get("/api/orders/8800003001/refunds").json()["refunds"]
    assert [refund["refund_id"] for refund in stored] == [created["refund_id"]]


def test_concurrent_duplicate_refunds_create_one(writable_api: OrderApi) -> None:
    body = {"amount": "400.00", "reason": ""}
    responses = fire_together(
        5, lambda: writable_api.post("/api/orders/8800001002/refunds", body, key="ref-concurrent")
    )
    assert sorted(response.status_code for response in responses) == [200, 200, 200, 200, 201]
    stored = writable_api.get("/api/orders/8800001002/refunds").json()["refunds"]
    assert [refund["refund_id"] for refund in stored] == [responses[0].json()["refund_id"]]


def test_refund_above_refundable_is_422(writable_api: OrderApi) -> None:
    # 56.00 paid, RF2003 (18.00) still processing: 38.00 can be refunded.
    too_much = writable_api.post(
        "/api/orders/8800002003/refunds", {"amount": "38.01", "reason": ""}, key="ref-too-much"
    )
    assert too_much.json() == {
        "error": {
            "code": "amount_exceeds_refundable",
            "message": "at most 38.00 can still be refunded",
        }
    }
    assert too_much.status_code == 422
    exact = writable_api.post(
        "/api/orders/8800002003/refunds", {"amount": "38.00", "reason": ""}, key="ref-rest"
    )
    assert exact.status_code == 201
    one_cent = writable_api.post(
        "/api/orders/8800002003/refunds", {"amount": "0.01", "reason": ""}, key="ref-cent"
    )
    assert error_of(one_cent) == (422, "amount_exceeds_refundable")


def test_concurrent_refunds_never_exceed_the_payment(writable_api: OrderApi) -> None:
    # 1599.00 paid: only one of three 1000.00 refunds (different keys) fits.
    responses = fire_together(
        3,
        lambda: writable_api.post(
            "/api/orders/8800001007/refunds",
            {"amount": "1000.00", "reason": ""},
            key=f"ref-race-{threading.get_ident()}",
        ),
    )
    assert sorted(response.status_code for response in responses) == [201, 422, 422]
    assert len(writable_api.get("/api/orders/8800001007/refunds").json()["refunds"]) == 1


def test_a_key_used_for_a_return_cannot_create_a_refund(writable_api: OrderApi) -> None:
    response = writable_api.post(
        "/api/orders/8800001001/refunds", {"amount": "1.00", "reason": ""}, key="ret-1"
    )
    assert error_of(response) == (409, "idempotency_conflict")


def test_service_logged_no_unexpected_error(writable_api: OrderApi, api: OrderApi) -> None:
    for log_path in (writable_api.service.log_path, api.service.log_path):
        log = Path(log_path).read_text(errors="replace")
        assert "Traceback" not in log
        assert "unexpected error" not in log
