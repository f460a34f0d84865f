"""Production mode for real (`scripts/stack.py up --production`): PostgreSQL for the
tracker, order and record stores, Redis for Rasa's locks and the channels' state, two
Rasa workers and two action-server workers, on the local servers; and a second Rasa
process beside it, as a replica would be."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import pytest
import redis
import requests

from tests.fixtures.fake_wechat import FakeWeChat
from tests.fixtures.servers import ACCEPTANCE_ORDERS, REPO_ROOT
from tests.fixtures.stack import Stack, _free_port_base, _read_env, rasa_beside, stack_command

PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REFUND_STATUS_CHAT = ["你好", "我想查一下退款进度", "8800002003", "5555", "谢谢"]


@pytest.fixture(scope="module")
def fresh_database() -> Iterator[str]:
    """A PostgreSQL database name no one uses; `--production` creates it, this drops it."""
    name = f"aftersales_e2e_{uuid.uuid4().hex[:8]}"
    yield name
    admin = psycopg2.connect(PG_ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="module")
def production_environ(fresh_database: str) -> dict[str, str]:
    """What the test gives `--production`: its own database and Redis key prefix."""
    return {
        "PRODUCTION_DATABASE_URL": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{fresh_database}",
        "REDIS_KEY_PREFIX": f"e2e{uuid.uuid4().hex[:6]}",
        # The shared acceptance runner talks REST, which production mode guards with a token.
        "REST_WEBHOOK": "open",
    }


@pytest.fixture(scope="module")
def production_stack(
    tmp_path_factory: pytest.TempPathFactory, production_environ: dict[str, str]
) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("production")
    port_base = _free_port_base()
    started = stack_command(
        directory, port_base, "up", "--production", "--fixtures", str(ACCEPTANCE_ORDERS),
        environ=production_environ,
    )
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        pids = json.loads((directory / "pids.json").read_text())
        yield Stack(directory, _read_env(directory / "env"), pids, FakeWeChat())
    finally:
        stack_command(directory, port_base, "down")
    assert not (directory / "env").exists()


def _say(bot_url: str, sender: str, text: str) -> list[dict[str, object]]:
    """The bot's messages, without the recipient (the conversation id)."""
    reply = requests.post(f"{bot_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60)
    assert reply.status_code == 200, reply.text
    return [{k: v for k, v in message.items() if k != "recipient_id"} for message in reply.json()]


def _records(stack: Stack, sender: str) -> list[tuple[str, str]]:
    records = requests.get(
        stack.env["RECORDS_URL"], params={"conversation_id": sender},
        headers={"Authorization": f"Bearer {stack.env['RECORDS_TOKEN']}"}, timeout=10,
    ).json()["records"]
    return [(r["kind"], r["outcome"]) for r in records]


def test_conversations_orders_and_locks_live_in_postgresql_and_redis(
    production_stack: Stack, fresh_database: str, production_environ: dict[str, str]
) -> None:
    prefix = production_environ["REDIS_KEY_PREFIX"]
    client = redis.Redis.from_url(REDIS_URL)
    previous = client.config_get("notify-keyspace-events")["notify-keyspace-events"]
    client.config_set("notify-keyspace-events", "KA")
    keyspace = client.pubsub()
    keyspace.psubscribe(f"__keyspace@*__:{prefix}*")
    sender = f"pg-{uuid.uuid4().hex[:8]}"
    try:
        assert _say(production_stack.env["BOT_URL"], sender, "我想查询退款进度，订单号8800002003，手机尾号5555")

        with psycopg2.connect(f"host=127.0.0.1 user=postgres dbname={fresh_database}") as conn:
            with conn.cursor() as cursor:
                # The conversation is in PostgreSQL's tracker store ...
                cursor.execute("SELECT count(*) FROM events WHERE sender_id = %s", (sender,))
                assert cursor.fetchone()[0] > 0
                # ... and so are the orders.
                cursor.execute("SELECT count(*) FROM orders")
                assert cursor.fetchone()[0] == 11
        assert _records(production_stack, sender) == [("identity_check", "verified"), ("refund_status", "on_time")]

        # Rasa's conversation lock lived in Redis, under this stack's key prefix.
        touched = set()
        while (message := keyspace.get_message(timeout=1.0)) is not None:
            if message["type"] == "pmessage":
                touched.add(message["channel"].decode().split(":", 1)[1])
        assert f"{prefix}:lock:{sender}" in touched, touched
    finally:
        keyspace.close()
        client.config_set("notify-keyspace-events", previous)
        client.close()


def test_rasa_and_the_action_server_run_two_workers_each(production_stack: Stack) -> None:
    for service in ("rasa", "action_server"):
        workers = subprocess.run(
            ["pgrep", "-P", str(production_stack.pids[service])], capture_output=True, text=True
        ).stdout.split()
        assert len(workers) == 2, service


def test_two_rasa_processes_serving_one_conversation_in_turn_give_the_dialogue_of_one(
    production_stack: Stack, production_environ: dict[str, str], tmp_path: Path
) -> None:
    settings = _stack_settings(production_environ)
    one_process, two_processes = f"one-{uuid.uuid4().hex[:8]}", f"two-{uuid.uuid4().hex[:8]}"
    with rasa_beside(production_stack, tmp_path, settings, REPO_ROOT / "credentials.yml") as replica:
        alone = [_say(production_stack.env["BOT_URL"], one_process, text) for text in REFUND_STATUS_CHAT]
        in_turn = [
            _say(production_stack.env["BOT_URL"] if i % 2 == 0 else replica.url, two_processes, text)
            for i, text in enumerate(REFUND_STATUS_CHAT)
        ]

    assert in_turn == alone
    assert _records(production_stack, two_processes) == _records(production_stack, one_process) == [
        ("identity_check", "verified"), ("refund_status", "on_time"),
    ]


def _stack_settings(production_environ: dict[str, str]) -> dict[str, str]:
    """The stores the stack's Rasa uses, for a replica (what `--production` chose)."""
    from scripts.stack import production_environment

    chosen = production_environment(production_environ)
    names = ("RASA_ENDPOINTS", "TRACKER_DB_HOST", "TRACKER_DB_PORT", "TRACKER_DB_NAME", "TRACKER_DB_USER",
             "TRACKER_DB_PASSWORD", "REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_KEY_PREFIX",
             "CHANNEL_STATE_REDIS_URL", "CHANNEL_STATE_KEY_PREFIX", "WECOM_STATE_DATABASE_URL")
    return {name: chosen[name] for name in names}


def restart_postgresql() -> None:
    """Restarts this machine's PostgreSQL cluster, as an operator (or a crash and its restart) would."""
    subprocess.run(["pg_ctlcluster", "15", "main", "restart", "--mode", "fast"], check=True, timeout=120)
    _wait_until(lambda: subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0, "PostgreSQL")


def restart_redis() -> None:
    """Restarts this machine's Redis with the settings it runs with (it keeps nothing on disk)."""
    client = redis.Redis.from_url(REDIS_URL)
    settings = {name: client.config_get(name)[name] for name in ("bind", "port", "save", "appendonly", "dir", "logfile")}
    try:
        client.shutdown(nosave=True)
    except redis.ConnectionError:
        pass  # it closes the connection as it goes
    client.close()
    subprocess.run(
        ["redis-server", "--daemonize", "yes", *[arg for name, value in settings.items() for arg in (f"--{name}", value)]],
        check=True, timeout=30,
    )
    _wait_until(lambda: _redis_answers(), "Redis")


def _redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL).ping())
    except redis.ConnectionError:
        return False


def _wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not come back within {timeout_s} s")
        time.sleep(0.2)


@pytest.mark.parametrize("restart", [restart_postgresql, restart_redis], ids=["postgresql", "redis"])
def test_a_conversation_goes_on_across_a_restart_of_its_store(
    production_stack: Stack, restart: Callable[[], None]
) -> None:
    bot_url, sender = production_stack.env["BOT_URL"], f"restart-{uuid.uuid4().hex[:8]}"
    before = [_say(bot_url, sender, text) for text in REFUND_STATUS_CHAT[:3]]  # up to the phone digits

    restart()
    after = [_say(bot_url, sender, text) for text in REFUND_STATUS_CHAT[3:]]

    # The same dialogue as with no restart, and each record written once.
    uninterrupted = f"calm-{uuid.uuid4().hex[:8]}"
    assert before + after == [_say(bot_url, uninterrupted, text) for text in REFUND_STATUS_CHAT]
    assert _records(production_stack, sender) == [("identity_check", "verified"), ("refund_status", "on_time")]
