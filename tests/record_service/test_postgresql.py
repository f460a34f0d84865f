"""The record service on the local PostgreSQL (the production database)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import pytest
import requests

from tests.fixtures.desk import (
    LI_TOKEN,
    WANG_TOKEN,
    agent_headers,
    create_handoff,
    handoff_body,
    new_id,
    start_desk_service,
)
from tests.fixtures.fake_rasa import FakeRasa
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


def test_the_desk_on_postgresql(records_database: str, tmp_path: Path, fake_rasa: FakeRasa) -> None:
    env = {
        "RECORDS_BOT_URL": fake_rasa.url,
        "RECORDS_BOT_TOKEN": fake_rasa.token,
        # Nobody listens there: the deliveries stay pending, which is what is checked.
        "RECORDS_HANDOFF_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/handoffs",
        "RECORDS_HANDOFF_WEBHOOK_SECRET": "pg-webhook-secret-0123456789",
    }
    service = start_desk_service(tmp_path, "desk1.log", env, database_url=records_database)
    try:
        tickets = []
        for _ in range(4):
            conversation_id = new_id("pg")
            fake_rasa.seed(conversation_id, "wechat", [("user", "转人工")])
            tickets.append(create_handoff(service, handoff_body(conversation_id))["ticket_id"])
        with ThreadPoolExecutor(max_workers=8) as pool:
            claims = list(pool.map(
                lambda job: (job[0], job[1], requests.post(
                    f"{service.url}/desk/api/tickets/{job[0]}/claim", headers=agent_headers(job[1]), timeout=15
                ).status_code),
                [(ticket_id, token) for ticket_id in tickets for token in (WANG_TOKEN, LI_TOKEN)],
            ))
        winners = {ticket_id: token for ticket_id, token, status in claims if status == 200}
        first = tickets[0]
        reply = requests.post(f"{service.url}/desk/api/tickets/{first}/reply", json={"text": "您好"},
                              headers=agent_headers(winners[first]), timeout=15)
        reveal = requests.post(f"{service.url}/desk/api/tickets/{first}/reveal-contact",
                               headers=agent_headers(winners[first]), timeout=15)
        resolved = requests.post(f"{service.url}/desk/api/tickets/{first}/resolve",
                                 headers=agent_headers(winners[first]), timeout=15)
    finally:
        service.stop()

    assert sorted(status for _, _, status in claims) == [200] * 4 + [409] * 4
    assert set(winners) == set(tickets)
    assert (reply.status_code, reveal.json(), resolved.status_code) == (200, {"contact_phone": "13800138000"}, 200)

    restarted = start_desk_service(tmp_path, "desk2.log", env, database_url=records_database)
    try:
        queue = requests.get(f"{restarted.url}/desk/api/tickets", params={"status": "assigned,resolved"},
                             headers=agent_headers(LI_TOKEN), timeout=15).json()["tickets"]
        audit = requests.get(f"{restarted.url}/desk/api/tickets/{first}/audit",
                             headers=agent_headers(LI_TOKEN), timeout=15).json()["entries"]
        pending = requests.get(f"{restarted.url}/api/desk/deliveries", params={"status": "pending"},
                               headers={"Authorization": f"Bearer {restarted.token}"}, timeout=15).json()
    finally:
        restarted.stop()

    assert {t["ticket_id"]: t["status"] for t in queue} == {
        first: "resolved", **{t: "assigned" for t in tickets[1:]}}
    assert [e["action"] for e in audit] == ["claim", "reply", "reveal_contact", "resolve"]
    assert "13800138000" not in str(audit)
    assert {d["ticket_id"] for d in pending["deliveries"]} == set(tickets)
