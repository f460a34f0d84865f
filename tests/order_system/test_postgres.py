"""The order system on PostgreSQL: the same service, a throwaway database.

The server is the local one (trust authentication for `postgres` on 127.0.0.1); another
one can be given as an admin URL in ORDERS_TEST_POSTGRES_URL. The test creates its own
database and drops it afterwards. It is skipped, saying why, only when no PostgreSQL
answers.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import requests
from psycopg2 import sql

from tests.fixtures.servers import ACCEPTANCE_ORDERS, RunningService, free_port, start_service
from tests.order_system.order_api import VALID_RETURN, OrderApi, error_of, fire_together

ADMIN_URL = os.environ.get(
    "ORDERS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _admin_connection() -> psycopg2.extensions.connection:
    connection = psycopg2.connect(ADMIN_URL, connect_timeout=5)
    connection.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    return connection


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """The SQLAlchemy URL of a new, empty database, dropped after the module."""
    try:
        admin = _admin_connection()
    except psycopg2.OperationalError as error:
        pytest.skip(f"PostgreSQL is unreachable at {ADMIN_URL}: {str(error).strip()}")
    name = f"orders_test_{secrets.token_hex(4)}"
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = admin.get_dsn_parameters()
    user, host, port = dsn.get("user", "postgres"), dsn.get("host", "127.0.0.1"), dsn.get("port", "5432")
    password = admin.info.password
    credentials = f"{user}:{password}" if password else user
    try:
        yield f"postgresql+psycopg2://{credentials}@{host}:{port}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        admin.close()


@pytest.fixture(scope="module")
def postgres_orders(
    postgres_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    folder = tmp_path_factory.mktemp("postgres_orders")
    port = free_port()
    token = "postgres-orders-token"
    service = start_service(
        "order_system",
        ["--fixtures", str(ACCEPTANCE_ORDERS), "--reset"],
        {
            "ORDERS_TOKEN": token,
            "ORDERS_PORT": str(port),
            "ORDERS_DATABASE_URL": postgres_database,
        },
        port,
        Path(folder) / "order_system.log",
        token,
    )
    yield service
    service.stop()


def test_serves_an_order_from_postgres(postgres_orders: RunningService) -> None:
    api = OrderApi(postgres_orders)
    order = api.get("/api/orders/8800001001").json()
    assert (order["order_id"], order["customer_id"], order["status"]) == (
        "8800001001",
        "C001",
        "delivered",
    )
    assert order["payment"] == {"method": "wechat_pay", "amount": "199.00"}
    customer = api.get("/api/customers/by-account", channel="web", account_id="u_zhangwei")
    assert customer.json() == {"customer_id": "C001", "name": "张伟", "masked_phone": "138****8000"}
    recent = api.get("/api/customers/C001/orders").json()["orders"]
    assert [entry["order_id"] for entry in recent] == [
        "8800001001",
        "8800001003",
        "8800001002",
        "8800002001",
    ]
    assert api.post("/api/orders/8800001001/verify-phone", {"last4": "8000"}).json() == {
        "match": True
    }


def test_postgres_honours_the_idempotency_key(postgres_orders: RunningService) -> None:
    api = OrderApi(postgres_orders)
    first = api.post("/api/orders/8800001001/returns", VALID_RETURN, key="pg-ret-1")
    assert first.status_code == 201
    again = api.post("/api/orders/8800001001/returns", VALID_RETURN, key="pg-ret-1")
    assert again.status_code == 200
    assert again.json() == first.json()
    conflict = api.post(
        "/api/orders/8800001001/returns", {**VALID_RETURN, "reason": "别的"}, key="pg-ret-1"
    )
    assert error_of(conflict) == (409, "idempotency_conflict")
    stored = api.get("/api/orders/8800001001/returns").json()["returns"]
    assert [request["return_id"] for request in stored] == [first.json()["return_id"]]


def test_postgres_concurrent_duplicates_create_one_refund(postgres_orders: RunningService) -> None:
    api = OrderApi(postgres_orders)
    body = {"amount": "1000.00", "reason": ""}
    responses = fire_together(
        5, lambda: api.post("/api/orders/8800003001/refunds", body, key="pg-ref-concurrent")
    )
    assert sorted(response.status_code for response in responses) == [200, 200, 200, 200, 201]
    stored = api.get("/api/orders/8800003001/refunds").json()["refunds"]
    assert [refund["refund_id"] for refund in stored] == [responses[0].json()["refund_id"]]


def test_postgres_gone_is_503_not_500(
    postgres_orders: RunningService, postgres_database: str
) -> None:
    """Runs last: it drops the database under the running service."""
    name = postgres_database.rsplit("/", 1)[1]
    admin = _admin_connection()
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        admin.close()
    api = OrderApi(postgres_orders)
    assert error_of(api.get("/api/orders/8800001001")) == (503, "database_unavailable")
    health = requests.get(f"{postgres_orders.url}/health", timeout=10)
    assert error_of(health) == (503, "database_unavailable")
    log = postgres_orders.log_path.read_text(errors="replace")
    assert "Traceback" not in log
