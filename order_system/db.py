"""The order system's tables (engines and transactions come from `service_common.db`)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from order_system.models import Base
from service_common.db import SQLITE_BUSY_TIMEOUT_S, make_engine, session_factory, transaction

# The shared helpers are re-exported: the order system's modules and tests import them from here.
__all__ = [
    "SQLITE_BUSY_TIMEOUT_S",
    "create_tables",
    "drop_tables",
    "make_engine",
    "session_factory",
    "transaction",
]


def create_tables(engine: Engine, *, reset: bool = False) -> None:
    """Creates the tables that are missing; with `reset`, drops all of them first."""
    if reset:
        Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)


def drop_tables(engine: Engine) -> None:
    """Drops the order system's tables (and nothing else)."""
    Base.metadata.drop_all(engine)
