"""The record service on the local PostgreSQL (the production database)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import requests

from tests.fixtures.servers import RunningService, free_port, start_service

PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
PG_URL = os.environ.get(
    "TEST_RECORDS_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/records_test"
)
DATABASE = "records_test"
TOKEN = "pg-records-token"


def _admin_connection() -> psycopg2.extensions.connection:
    try:
        connection = psycopg2.connect(PG_ADMIN_DSN, connect_timeout=5)
    except psycopg2.OperationalError as error:
        pytest.skip(f"PostgreSQL is unreachable with TEST_POSTGRES_DSN={PG_ADMIN_DSN!r}: {error}")
    connection.autocommit = True
    return connection


@pytest.fixture
def records_database() -> Iterator[str]:
    """A fresh `records_test` database, dropped afterwards."""
    admin = _admin_connection()
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {DATABASE}")
    try:
        yield PG_URL
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.close()


def _start(database_url: str, log_path: Path) -> RunningService:
    port = free_port()
    env = {"RECORDS_TOKEN": TOKEN, "RECORDS_PORT": str(port), "RECORDS_DATABASE_URL": database_url}
    return start_service("record_service", [], env, port, log_path, TOKEN)


def test_records_and_tickets_on_postgresql(records_database: str, tmp_path: Path) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    service = _start(records_database, tmp_path / "pg1.log")
    try:
        record = {
            "conversation_id": "pg-conv",
            "kind": "refund_status",
            "order_id": "A2001",
            "outcome": "overdue",
            "rule": "refund_deadline",
            "details": {"refund_id": "RF1", "status": "processing", "method": "wechat_pay", "备注": "超期"},
        }
        created = requests.post(
            f"{service.url}/api/records", json=record, headers={**auth, "Idempotency-Key": "pg-1"}, timeout=10
        )
        replay = requests.post(
            f"{service.url}/api/records", json=record, headers={**auth, "Idempotency-Key": "pg-1"}, timeout=10
        )
        conflict = requests.post(
            f"{service.url}/api/records",
            json={**record, "outcome": "on_time"},
            headers={**auth, "Idempotency-Key": "pg-1"},
            timeout=10,
        )
        handoff = requests.post(
            f"{service.url}/api/handoffs",
            json={
                "conversation_id": "pg-conv",
                "channel": "phone",
                "order_id": "A2001",
                "reason": "overdue_refund",
                "priority": 8,
                "status": "callback_scheduled",
                "due_at": "2099-03-01T10:00:00+08:00",
                "callback_at": "2099-03-01T09:30:00+08:00",
                "rule": "refund_deadline",
                "context": {"summary": "退款超期", "transcript": [], "slots": {"order_id": "A2001"}},
            },
            headers={**auth, "Idempotency-Key": "pg-2"},
            timeout=10,
        )

        assert (created.status_code, replay.status_code, conflict.status_code) == (201, 200, 409)
        assert replay.json() == created.json()
        assert created.json()["details"] == record["details"]
        assert handoff.status_code == 201
        ticket = handoff.json()["ticket"]
        assert (ticket["due_at"], ticket["callback_at"]) == (
            "2099-03-01T02:00:00+00:00",
            "2099-03-01T01:30:00+00:00",
        )
        assert ticket["context"] == {
            "summary": "退款超期",
            "transcript": [],
            "slots": {"order_id": "A2001"},
            "order_snapshot": None,
            "contact_masked": None,
        }
    finally:
        service.stop()

    restarted = _start(records_database, tmp_path / "pg2.log")
    try:
        listed = requests.get(
            f"{restarted.url}/api/records", params={"conversation_id": "pg-conv"}, headers=auth, timeout=10
        )
        queue = requests.get(
            f"{restarted.url}/api/handoffs", params={"status": "callback_scheduled"}, headers=auth, timeout=10
        )
    finally:
        restarted.stop()

    assert listed.json() == {"records": [created.json(), handoff.json()["record"]]}
    assert [t["ticket_id"] for t in queue.json()["tickets"]] == [ticket["ticket_id"]]
