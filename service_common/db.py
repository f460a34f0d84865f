"""Database plumbing shared by the order system and the record service.

Engines are made on demand (never at import time), transactions are one `with` block,
and times are stored as UTC on every backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

# How long a SQLite writer waits for another one before giving up.
SQLITE_BUSY_TIMEOUT_S = 15.0


def make_engine(database_url: str, **engine_options: Any) -> Engine:
    """An engine for `database_url` (SQLite or PostgreSQL), ready for threads.

    SQLite transactions start with `BEGIN IMMEDIATE` so that a read-check-write sequence
    (is this idempotency key new? is there money left to refund?) cannot interleave with
    another writer's; PostgreSQL gets the same guarantee from row locks and primary keys.

    Args:
        database_url: A SQLAlchemy URL, e.g. `sqlite:///.stack/orders.db` or
            `postgresql+psycopg2://postgres@127.0.0.1:5432/test`.
        **engine_options: Passed on to `sqlalchemy.create_engine`.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        engine_options.setdefault("pool_pre_ping", True)
        return create_engine(url, future=True, **engine_options)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        # Each connection to ":memory:" is a new, empty database: share one connection.
        engine_options.setdefault("poolclass", StaticPool)
    engine = create_engine(
        url,
        future=True,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        **engine_options,
    )
    _begin_sqlite_transactions_immediately(engine)
    return engine


def _begin_sqlite_transactions_immediately(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN until the first write, so a
    # transaction's reads could see data another writer is about to change. Taking over
    # BEGIN is the recipe from SQLAlchemy's SQLite dialect documentation.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker:
    """A factory of 2.0-style sessions bound to `engine`."""
    return sessionmaker(engine, future=True, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker) -> Iterator[Session]:
    """A session whose transaction commits when the block ends and rolls back on error."""
    with sessions() as session, session.begin():
        yield session


class UtcDateTime(TypeDecorator):
    """A timezone-aware datetime, stored as UTC on every backend.

    SQLite has no time zones and PostgreSQL returns them in the session's zone; converting
    on the way in and out makes both give back the same aware UTC value.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give a time zone")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            return value.astimezone(timezone.utc)
        return value.replace(tzinfo=timezone.utc)
