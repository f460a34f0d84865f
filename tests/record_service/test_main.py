"""The record service process: start-up checks and durability across a kill."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from tests.fixtures.servers import REPO_ROOT, RunningService, free_port, start_service

TOKEN = "durability-token"


def start_record_service(database_url: str, log_path: Path) -> RunningService:
    port = free_port()
    env = {"RECORDS_TOKEN": TOKEN, "RECORDS_PORT": str(port), "RECORDS_DATABASE_URL": database_url}
    return start_service("record_service", [], env, port, log_path, TOKEN)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'nested' / 'records.db'}"


@pytest.fixture
def started() -> Iterator[list[RunningService]]:
    """Services a test starts; all are stopped afterwards."""
    services: list[RunningService] = []
    yield services
    for service in services:
        service.stop()


def headers(key: str | None = None) -> dict[str, str]:
    base = {"Authorization": f"Bearer {TOKEN}"}
    return base if key is None else {**base, "Idempotency-Key": key}


def test_missing_token_stops_the_service_with_status_2(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if name != "RECORDS_TOKEN"}
    env["RECORDS_DATABASE_URL"] = f"sqlite:///{tmp_path / 'records.db'}"
    env["RECORDS_PORT"] = str(free_port())

    result = subprocess.run(
        [sys.executable, "-m", "record_service"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    output = result.stdout + result.stderr
    assert "RECORDS_TOKEN is not set" in output
    assert "Traceback" not in output
    assert not (tmp_path / "records.db").exists()


def test_non_integer_port_stops_the_service_with_status_2() -> None:
    env = {**os.environ, "RECORDS_TOKEN": TOKEN, "RECORDS_PORT": "fifty"}

    result = subprocess.run(
        [sys.executable, "-m", "record_service"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "RECORDS_PORT must be an integer, got 'fifty'" in result.stdout + result.stderr


def test_records_survive_a_process_killed_right_after_answering(
    database_url: str, tmp_path: Path, started: list[RunningService]
) -> None:
    first = start_record_service(database_url, tmp_path / "first.log")
    started.append(first)
    record = {
        "conversation_id": "durable-1",
        "kind": "identity_check",
        "order_id": "A1001",
        "outcome": "verified",
        "rule": None,
        "details": {"method": "account"},
    }
    created = requests.post(
        f"{first.url}/api/records", json=record, headers=headers("d-1"), timeout=10
    )
    complaint = requests.post(
        f"{first.url}/api/complaints",
        json={
            "conversation_id": "durable-1",
            "channel": "web",
            "order_id": "A1001",
            "category": "other",
            "description": "测试持久化",
            "contact_phone": None,
            "due_at": (datetime.now(timezone.utc) + timedelta(hours=23)).isoformat(),
            "rule": "complaint_24h",
        },
        headers=headers("d-2"),
        timeout=10,
    )
    assert (created.status_code, complaint.status_code) == (201, 201)

    first.process.kill()  # SIGKILL: no shutdown handler runs
    first.process.wait(timeout=10)
    second = start_record_service(database_url, tmp_path / "second.log")
    started.append(second)

    listed = requests.get(
        f"{second.url}/api/records", params={"conversation_id": "durable-1"}, headers=headers(), timeout=10
    )
    assert listed.json() == {"records": [created.json(), complaint.json()["record"]]}
    ticket_id = complaint.json()["ticket"]["ticket_id"]
    ticket = requests.get(f"{second.url}/api/complaints/{ticket_id}", headers=headers(), timeout=10)
    assert ticket.json() == complaint.json()["ticket"]
    # The idempotency keys survived too: a retry after the restart creates nothing new.
    replay = requests.post(f"{second.url}/api/records", json=record, headers=headers("d-1"), timeout=10)
    assert (replay.status_code, replay.json()) == (200, created.json())


def test_a_webhook_url_without_its_secret_stops_the_service_with_status_2(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("RECORDS_")}
    env.update({
        "RECORDS_TOKEN": TOKEN,
        "RECORDS_PORT": str(free_port()),
        "RECORDS_DATABASE_URL": f"sqlite:///{tmp_path / 'records.db'}",
        "RECORDS_HANDOFF_WEBHOOK_URL": "https://desk.shop.example/hooks/handoff",
    })

    result = subprocess.run(
        [sys.executable, "-m", "record_service"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )

    assert result.returncode == 2
    output = result.stdout + result.stderr
    assert "RECORDS_HANDOFF_WEBHOOK_SECRET is not set" in output
    assert "Traceback" not in output
    assert not (tmp_path / "records.db").exists()


def test_a_database_from_before_the_desk_gains_its_tables_at_start(
    tmp_path: Path, started: list[RunningService]
) -> None:
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import inspect

    from record_service.models import (
        Base,
        ComplaintEvidence,
        ComplaintTicket,
        HandoffTicket,
        IdempotencyKey,
        ServiceRecord,
    )
    from service_common.db import make_engine, session_factory, transaction
    from tests.fixtures.desk import LI_TOKEN, start_desk_service

    url = f"sqlite:///{tmp_path / 'records.db'}"
    engine = make_engine(url)
    before_the_desk = [ServiceRecord, ComplaintTicket, ComplaintEvidence, HandoffTicket, IdempotencyKey]
    Base.metadata.create_all(engine, tables=[model.__table__ for model in before_the_desk])  # type: ignore[attr-defined]
    now = datetime.now(timezone.utc)
    with transaction(session_factory(engine)) as session:
        session.add(HandoffTicket(
            ticket_id="HO24050199999999", conversation_id="old-conversation", channel="web", reason="urgent",
            priority=1, status="queued", created_at=now, due_at=now + timedelta(hours=1),
            context={"summary": "旧工单", "transcript": [], "slots": {}},
        ))
    service = start_desk_service(tmp_path, "records.log", {"RECORDS_BOT_URL": "http://127.0.0.1:9",
                                                           "RECORDS_BOT_TOKEN": "unused"}, database_url=url)
    started.append(service)

    queue = requests.get(f"{service.url}/desk/api/tickets", headers={"Authorization": f"Bearer {LI_TOKEN}"},
                         timeout=10)

    assert queue.status_code == 200
    assert "HO24050199999999" in [ticket["ticket_id"] for ticket in queue.json()["tickets"]]
    tables = set(inspect(engine).get_table_names())
    assert {"handoff_contacts", "handoff_claims", "desk_audit", "handoff_deliveries", "chatwoot_links",
            "chatwoot_relayed_messages"} <= tables
    engine.dispose()
