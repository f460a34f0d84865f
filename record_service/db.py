"""The record service's tables (engines and transactions come from `service_common.db`)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from record_service.models import Base


def create_tables(engine: Engine) -> None:
    """Creates the record tables that are missing; existing records are never touched."""
    Base.metadata.create_all(engine)


def drop_tables(engine: Engine) -> None:
    """Drops the record service's tables (and nothing else); for tests only."""
    Base.metadata.drop_all(engine)
