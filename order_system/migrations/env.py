"""Alembic's entry point for the order system's revisions (run by `service_common.migrations`)."""

from order_system.migrations import VERSION_TABLE
from order_system.models import Base
from service_common.migrations import run_migrations

run_migrations(Base.metadata, VERSION_TABLE)
