"""Runs the record service.

    python -m record_service

Brings the tables to the newest schema revision (records are never dropped: the archive
is append-only), then serves the API with one worker. Settings come from the environment
(see `record_service/settings.py`); a missing RECORDS_TOKEN stops it with exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys

from sqlalchemy.exc import SQLAlchemyError

from record_service.app import create_app
from record_service.db import migrate
from record_service.settings import Settings
from service_common.db import make_engine
from service_common.env import MissingSettingError
from service_common.migrations import MigrationError
from service_common.pii import install_pii_masking

logger = logging.getLogger("record_service")


def main(argv: list[str] | None = None) -> int:
    """Prepares the database and serves until stopped; returns the exit status."""
    install_pii_masking()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    argparse.ArgumentParser(prog="python -m record_service", description=__doc__.split("\n")[0]).parse_args(
        argv
    )
    try:
        settings = Settings.from_env()
    except MissingSettingError as error:
        logger.error("%s", error)
        return 2
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
    except (SQLAlchemyError, MigrationError) as error:
        logger.error("cannot prepare the record database %s: %s", settings, error)
        return 1
    app = create_app(settings, engine)
    app.run(host=settings.host, port=settings.port, workers=1, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
