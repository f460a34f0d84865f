"""The production configuration for real: PostgreSQL for the tracker, order and record
stores, Redis for Rasa's lock store (endpoints.production.yml), on the local servers."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import redis
import requests

from tests.fixtures.servers import ACCEPTANCE_ORDERS, REPO_ROOT
from tests.fixtures.stack import _free_port_base, _read_env

PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A PostgreSQL database of its own, dropped afterwards."""
    name = f"aftersales_e2e_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(PG_ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def redis_keyspace_events() -> Iterator[tuple[redis.Redis, str]]:
    """Keyspace notifications on, for keys under a fresh prefix; restored afterwards."""
    client = redis.Redis.from_url(REDIS_URL)
    previous = client.config_get("notify-keyspace-events")["notify-keyspace-events"]
    client.config_set("notify-keyspace-events", "KA")
    try:
        yield client, f"e2e{uuid.uuid4().hex[:6]}"
    finally:
        client.config_set("notify-keyspace-events", previous)
        client.close()


def test_stack_on_postgresql_and_redis(
    fresh_database: str, redis_keyspace_events: tuple[redis.Redis, str], tmp_path: Path
) -> None:
    redis_client, prefix = redis_keyspace_events
    keyspace = redis_client.pubsub()
    keyspace.psubscribe(f"__keyspace@*__:{prefix}*")
    port_base = _free_port_base()
    pg_url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{fresh_database}"
    env = {
        **os.environ,
        "STACK_DIR": str(tmp_path),
        "PORT_BASE": str(port_base),
        "RASA_ENDPOINTS": "endpoints.production.yml",
        "ORDERS_DATABASE_URL": pg_url,
        "RECORDS_DATABASE_URL": pg_url,
        "TRACKER_DB_HOST": "127.0.0.1",
        "TRACKER_DB_PORT": "5432",
        "TRACKER_DB_NAME": fresh_database,
        "TRACKER_DB_USER": "postgres",
        "TRACKER_DB_PASSWORD": "",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "6379",
        "REDIS_DB": "0",
        "REDIS_KEY_PREFIX": prefix,
    }
    started = subprocess.run(
        [sys.executable, "scripts/stack.py", "up", "--fixtures", str(ACCEPTANCE_ORDERS)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        settings = _read_env(tmp_path / "env")
        sender = f"pg-{uuid.uuid4().hex[:8]}"
        reply = requests.post(
            f"{settings['BOT_URL']}/webhooks/rest/webhook",
            json={"sender": sender, "message": "我想查询退款进度，订单号8800002003，手机尾号5555"},
            timeout=60,
        )
        assert reply.status_code == 200 and reply.json(), reply.text

        with psycopg2.connect(f"host=127.0.0.1 user=postgres dbname={fresh_database}") as conn:
            with conn.cursor() as cursor:
                # The conversation is in PostgreSQL's tracker store ...
                cursor.execute("SELECT count(*) FROM events WHERE sender_id = %s", (sender,))
                assert cursor.fetchone()[0] > 0
                # ... and so are the orders.
                cursor.execute("SELECT count(*) FROM orders")
                assert cursor.fetchone()[0] == 11
        records = requests.get(
            settings["RECORDS_URL"], params={"conversation_id": sender},
            headers={"Authorization": f"Bearer {settings['RECORDS_TOKEN']}"}, timeout=10,
        ).json()["records"]
        assert [(r["kind"], r["outcome"]) for r in records] == [
            ("identity_check", "verified"), ("refund_status", "on_time"),
        ]

        # Rasa's conversation lock lived in Redis, under this stack's key prefix.
        touched = set()
        while (message := keyspace.get_message(timeout=1.0)) is not None:
            if message["type"] == "pmessage":
                touched.add(message["channel"].decode().split(":", 1)[1])
        assert f"{prefix}:lock:{sender}" in touched, touched
    finally:
        keyspace.close()
        subprocess.run([sys.executable, "scripts/stack.py", "down"], cwd=REPO_ROOT, env=env,
                       capture_output=True, timeout=120)
    assert not (tmp_path / "env").exists()
