"""Runs the reference order system.

    python -m order_system [--fixtures FILE ...] [--reset]

Brings the tables to the newest schema revision (`--reset` drops them first), loads the
fixture files if any (replacing entries with the same ids), then serves the API with one
worker. Settings come from the environment (see `order_system/settings.py`).
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from order_system.app import create_app
from order_system.db import make_engine, migrate, session_factory, transaction
from order_system.fixtures import FixtureError, load_calendar, load_fixtures
from order_system.settings import Settings
from service_common.env import MissingSettingError
from service_common.migrations import MigrationError
from service_common.pii import install_pii_masking

logger = logging.getLogger("order_system")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: `--fixtures` (repeatable, several files each) and `--reset`."""
    parser = argparse.ArgumentParser(prog="python -m order_system", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--fixtures",
        nargs="+",
        action="extend",
        type=Path,
        default=[],
        metavar="FILE",
        help="order fixture files to load (acceptance format), e.g. order_system/demo_orders.yaml",
    )
    parser.add_argument(
        "--reset", action="store_true", help="drop and recreate the order tables first"
    )
    return parser.parse_args(argv)


def prepare_database(engine: Engine, fixtures: list[Path], *, reset: bool) -> None:
    """Migrates the tables to the newest revision (dropping them first with `reset`), loads `fixtures`.

    Raises:
        FixtureError: A fixture file is invalid, or the working-day calendar section of
            the policy file is.
    """
    migrate(engine, reset=reset)
    if not fixtures:
        return
    calendar = load_calendar()
    with transaction(session_factory(engine)) as session:
        loaded = load_fixtures(session, fixtures, datetime.now(timezone.utc), calendar)
    logger.info(
        "loaded %d customers and %d orders from %s",
        len(loaded.customers),
        len(loaded.orders),
        ", ".join(str(path) for path in fixtures),
    )


def main(argv: list[str] | None = None) -> int:
    """Prepares the database and serves until stopped; returns the exit status."""
    install_pii_masking()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    arguments = parse_arguments(argv)
    try:
        settings = Settings.from_env()
    except MissingSettingError as error:
        logger.error("%s", error)
        return 2
    try:
        # Inside the try: a URL with an unknown scheme fails here, not at the first query.
        engine = make_engine(settings.database_url)
        prepare_database(engine, arguments.fixtures, reset=arguments.reset)
    except FixtureError as error:
        logger.error("invalid fixtures: %s", error)
        return 2
    except (SQLAlchemyError, MigrationError) as error:
        logger.error("cannot prepare the order database %s: %s", settings, error)
        return 1
    try:
        listener = bind_listener(settings.host, settings.port)
    except OSError as error:
        logger.error("cannot listen on %s:%d: %s", settings.host, settings.port, error)
        return 1
    app = create_app(settings, engine)
    # Sanic logs a failure to bind and returns normally; binding first makes a taken port
    # a non-zero exit that `make up` and the test fixtures notice.
    app.run(sock=listener, workers=1, access_log=False, motd=False)
    return 0


def bind_listener(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host:port` (Sanic starts listening on it).

    Raises:
        OSError: The address is taken or cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError:
        listener.close()
        raise
    return listener


if __name__ == "__main__":
    sys.exit(main())
