"""The record service's tables (engines and transactions come from `service_common.db`)."""

from __future__ import annotations

from sqlalchemy import MetaData, Table
from sqlalchemy.engine import Engine

from record_service.migrations import SCRIPT_LOCATION, VERSION_TABLE
from record_service.models import Base
from service_common.migrations import upgrade_to_head


def migrate(engine: Engine) -> None:
    """Brings the record tables to the newest schema revision; existing records are kept.

    A new database gets every table; an existing one gains the revisions it has not had
    yet (`record_service/migrations/versions/`).
    """
    upgrade_to_head(engine, SCRIPT_LOCATION)


def drop_tables(engine: Engine) -> None:
    """Drops the record service's tables and its version table (and nothing else); for tests only."""
    Base.metadata.drop_all(engine)
    Table(VERSION_TABLE, MetaData()).drop(engine, checkfirst=True)
