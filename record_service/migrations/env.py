"""Alembic's entry point for the record service's revisions (run by `service_common.migrations`)."""

from record_service.migrations import VERSION_TABLE
from record_service.models import Base
from service_common.migrations import run_migrations

run_migrations(Base.metadata, VERSION_TABLE)
