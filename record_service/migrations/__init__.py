"""The record service's schema migrations: Alembic revisions in `versions/`.

`record_service.db.migrate` applies them at start; `python -m record_service.migrations
"what changes"` writes the next one from the models (see CONTRIBUTING.md).
"""

from __future__ import annotations

from pathlib import Path

SCRIPT_LOCATION = Path(__file__).parent
# Not Alembic's default name: the order system may share the database.
VERSION_TABLE = "alembic_version_record_service"
