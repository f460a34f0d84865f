"""The order system's tables (engines and transactions come from `service_common.db`)."""

from __future__ import annotations

from sqlalchemy import MetaData, Table
from sqlalchemy.engine import Engine

from order_system.migrations import SCRIPT_LOCATION, VERSION_TABLE
from order_system.models import Base
from service_common.db import SQLITE_BUSY_TIMEOUT_S, make_engine, session_factory, transaction
from service_common.migrations import upgrade_to_head

# The shared helpers are re-exported: the order system's modules and tests import them from here.
__all__ = [
    "SQLITE_BUSY_TIMEOUT_S",
    "drop_tables",
    "make_engine",
    "migrate",
    "session_factory",
    "transaction",
]


def migrate(engine: Engine, *, reset: bool = False) -> None:
    """Brings the order tables to the newest schema revision; with `reset`, drops them first.

    A new database gets every table; an existing one keeps its data and gains the
    revisions it has not had yet (`order_system/migrations/versions/`).
    """
    if reset:
        drop_tables(engine)
    upgrade_to_head(engine, SCRIPT_LOCATION)


def drop_tables(engine: Engine) -> None:
    """Drops the order system's tables and its version table (and nothing else)."""
    Base.metadata.drop_all(engine)
    Table(VERSION_TABLE, MetaData()).drop(engine, checkfirst=True)
