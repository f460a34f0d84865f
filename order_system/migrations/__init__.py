"""The order system's schema migrations: Alembic revisions in `versions/`.

`order_system.db.migrate` applies them at start; `python -m order_system.migrations
"what changes"` writes the next one from the models (see CONTRIBUTING.md).
"""

from __future__ import annotations

from pathlib import Path

SCRIPT_LOCATION = Path(__file__).parent
# Not Alembic's default name: the record service may share the database.
VERSION_TABLE = "alembic_version_order_system"
