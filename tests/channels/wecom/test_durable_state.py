"""Durable channel state on SQLite and on the local PostgreSQL: cursors, claims that only
one claimant wins, abandoned claims taken over once, and the TTL.

PostgreSQL is the machine's (trust authentication for `postgres` on 127.0.0.1); another
one can be given as an admin URL in TEST_STATE_POSTGRES_URL. Each test gets a database of
its own, dropped afterwards. The PostgreSQL cases are skipped, saying why, only when no
PostgreSQL answers.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from channels.wecom.durable_state import MAX_KEY_CHARS, ChannelState, ChannelStateError, Claim

ADMIN_URL = os.environ.get("TEST_STATE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """The SQLAlchemy URL of a new, empty PostgreSQL database, dropped after the module."""
    try:
        admin = psycopg2.connect(ADMIN_URL, connect_timeout=5)
    except psycopg2.OperationalError as error:
        pytest.skip(f"PostgreSQL is unreachable at {ADMIN_URL}: {str(error).strip()}")
    admin.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    name = f"channel_state_test_{secrets.token_hex(4)}"
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = admin.get_dsn_parameters()
    try:
        yield f"postgresql+psycopg2://{dsn.get('user', 'postgres')}@{dsn['host']}:{dsn['port']}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh state database: a SQLite file, or a schema-free PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url: str = request.getfixturevalue("postgres_url")
    channel = ChannelState(url, "cleanup")  # creates the tables, then empties them
    with channel._engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM channel_messages")
        connection.exec_driver_sql("DELETE FROM channel_cursors")
    channel.close()
    return url


def test_cursors_are_kept_per_channel_and_stream_across_instances(database_url: str) -> None:
    first = ChannelState(database_url, "wecom")
    assert first.cursor("wk_a") is None and first.streams() == []
    first.save_cursor("wk_a", "")
    first.save_cursor("wk_b", "c1")
    first.save_cursor("wk_b", "c2")
    first.close()
    again = ChannelState(database_url, "wecom")  # a restart: a new process, the same database
    assert (again.cursor("wk_a"), again.cursor("wk_b")) == ("", "c2")
    assert again.streams() == ["wk_a", "wk_b"]
    other = ChannelState(database_url, "wechat")
    assert other.cursor("wk_b") is None and other.streams() == []
    for state in (again, other):
        state.close()


def test_a_message_is_claimed_once_and_finished_for_good(database_url: str) -> None:
    state = ChannelState(database_url, "wecom")
    assert state.claim("msg-1") is Claim.NEW
    assert state.claim("msg-1") is Claim.TAKEN  # claimed by this process, not finished
    state.finish("msg-1")
    assert state.claim("msg-1") is Claim.HANDLED
    assert ChannelState(database_url, "wechat").claim("msg-1") is Claim.NEW  # another channel's ids
    state.close()


def test_an_unfinished_claim_of_a_stopped_process_is_adopted_once(database_url: str) -> None:
    stopped = ChannelState(database_url, "wecom")
    assert stopped.claim("cut-off") is Claim.NEW
    stopped.claim("done")
    stopped.finish("done")
    stopped.close()
    restarted, rival = ChannelState(database_url, "wecom"), ChannelState(database_url, "wecom")
    assert restarted.claim("cut-off") is Claim.ABANDONED
    assert restarted.claim("done") is Claim.HANDLED
    assert rival.claim("cut-off") is Claim.ABANDONED  # both see it abandoned...
    assert restarted.adopt("cut-off") is True
    assert rival.adopt("cut-off") is False  # ...and only one takes it over
    assert restarted.claim("cut-off") is Claim.TAKEN
    restarted.finish("cut-off")
    assert rival.claim("cut-off") is Claim.HANDLED and rival.adopt("cut-off") is False
    for state in (restarted, rival):
        state.close()


def test_concurrent_claims_of_one_message_have_one_winner(database_url: str) -> None:
    states = [ChannelState(database_url, "wecom") for _ in range(4)]
    start = threading.Barrier(8)

    def claim(index: int) -> Claim:
        start.wait()
        return states[index % 4].claim("contested")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(claim, range(8)))
    assert results.count(Claim.NEW) == 1
    assert set(results) <= {Claim.NEW, Claim.TAKEN, Claim.ABANDONED}
    for state in states:
        state.close()


def test_handled_ids_expire_after_the_ttl(database_url: str) -> None:
    clock = Clock()
    state = ChannelState(database_url, "wecom", ttl=timedelta(days=7), clock=clock)
    state.claim("old")
    state.finish("old")
    clock.now += timedelta(days=6)
    state.claim("recent")
    assert state.expire() == 0
    clock.now += timedelta(days=1, seconds=1)
    assert state.expire() == 1
    assert state.claim("old") is Claim.NEW  # forgotten: far beyond any redelivery
    assert state.claim("recent") is Claim.TAKEN
    state.close()


def test_keys_and_cursors_that_do_not_fit_are_refused(tmp_path: Path) -> None:
    state = ChannelState(f"sqlite:///{tmp_path / 'state.db'}", "wecom")
    for bad in ("", "x" * (MAX_KEY_CHARS + 1)):
        with pytest.raises(ChannelStateError):
            state.claim(bad)
        with pytest.raises(ChannelStateError):
            state.save_cursor(bad, "c")
    with pytest.raises(ChannelStateError):
        state.save_cursor("wk", "c" * 257)
    with pytest.raises(ChannelStateError):
        ChannelState(f"sqlite:///{tmp_path / 'state.db'}", "")
    state.close()


def test_the_sqlite_file_and_its_folder_are_created(tmp_path: Path) -> None:
    path = tmp_path / "deeper" / "wecom_state.db"
    ChannelState(f"sqlite:///{path}", "wecom").close()
    assert path.exists()
