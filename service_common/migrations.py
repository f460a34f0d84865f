"""Schema migrations of a service's tables (Alembic), run from code.

Each service keeps its revisions in its own package (`<service>/migrations/versions/`)
and records its revision in a version table of its own, so both services can share one
database. The Alembic configuration is built here instead of read from an alembic.ini:
migrations run on the service's own engine, so no database URL (and no password) is
written in the repository.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from alembic import command, context
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.types import TypeDecorator

from service_common.db import make_engine


class MigrationError(Exception):
    """The database cannot be brought to the newest revision (e.g. it has a revision this code lacks)."""


def alembic_config(script_location: Path, connection: Connection | None = None) -> Config:
    """An Alembic configuration for the migrations in `script_location`, run on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_to_head(engine: Engine, script_location: Path) -> None:
    """Brings the service's tables in `engine`'s database to the newest revision, in one transaction.

    A new database gets every table, one at the newest revision is left as it is. A
    database made before migrations existed (tables, no version table) is adopted by the
    initial revision, which creates only the tables and indexes that are missing.

    Raises:
        MigrationError: Alembic refused, e.g. the version table names a revision this
            code does not have (a database migrated by newer code).
        sqlalchemy.exc.SQLAlchemyError: The database failed.
    """
    with engine.connect() as connection:
        on_sqlite = connection.dialect.name == "sqlite"
        if on_sqlite:
            # A batch migration on SQLite copies a table and drops the old one; with foreign
            # keys enforced, that drop would cascade-delete the rows that reference it. The
            # pragma is ignored inside a transaction, so it is set before the BEGIN.
            _set_sqlite_foreign_keys(connection, enforced=False)
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    # Two processes starting at once on one database: the second waits for the
                    # first's upgrade (released at its commit) instead of racing its CREATE TABLEs.
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                                       {"key": _advisory_lock_key(script_location)})
                try:
                    command.upgrade(alembic_config(script_location, connection), "head")
                except CommandError as error:
                    raise MigrationError(str(error)) from error
        finally:
            if on_sqlite:
                _set_sqlite_foreign_keys(connection, enforced=True)


def _advisory_lock_key(script_location: Path) -> int:
    """A PostgreSQL advisory-lock key of its own for each service's migrations (64-bit signed)."""
    digest = hashlib.sha256(f"aftersales-migrations:{script_location.parent.name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _set_sqlite_foreign_keys(connection: Connection, *, enforced: bool) -> None:
    # On the DB-API connection: through SQLAlchemy the statement would begin a transaction.
    connection.connection.dbapi_connection.execute(f"PRAGMA foreign_keys = {'ON' if enforced else 'OFF'}")


def run_migrations(metadata: MetaData, version_table: str) -> None:
    """The body of a service's `env.py`: runs what Alembic asked for on the given connection.

    Args:
        metadata: The service's models (`Base.metadata`), compared by autogenerate.
        version_table: The service's own version table.

    Raises:
        RuntimeError: No connection was given (the `alembic` command line is not used:
            see `upgrade_to_head` and `revision_command`).
    """
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("no connection in config.attributes['connection']: see service_common.migrations")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=version_table,
        # SQLite alters most things only by copying the table: autogenerate writes batch operations.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_stored_type,
    )
    with context.begin_transaction():
        context.run_migrations()


def _render_stored_type(type_: str, item: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # A revision stays valid when the models change later: it names the type stored
    # (`sa.DateTime()` for `UtcDateTime`), not the model's Python-side wrapper.
    if type_ == "type" and isinstance(item, TypeDecorator):
        return f"sa.{item.impl!r}"
    return False


def new_revision(script_location: Path, message: str) -> Path:
    """Writes the next revision: what the models have that the newest revision does not yet have.

    The models are compared with a throw-away in-memory SQLite database brought to the
    newest revision, so no real database is needed. Review the file it writes.

    Returns:
        The new revision's file (`versions/<number>_<message>.py`).
    """
    engine = make_engine("sqlite://")
    try:
        with engine.begin() as connection:
            config = alembic_config(script_location, connection)
            command.upgrade(config, "head")
            number = len(list(ScriptDirectory.from_config(config).walk_revisions())) + 1
            script = command.revision(config, message=message, autogenerate=True, rev_id=f"{number:04d}")
    finally:
        engine.dispose()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


def revision_command(script_location: Path, prog: str, argv: list[str] | None = None) -> int:
    """The command line `python -m <service>.migrations "what changes"`; returns the exit status."""
    parser = argparse.ArgumentParser(prog=prog, description="Writes the next schema revision.")
    parser.add_argument("message", help='what the revision changes, e.g. "add the gift-wrap flag"')
    arguments = parser.parse_args(argv)
    print(f"wrote {new_revision(script_location, arguments.message)}: review it before committing")
    return 0
