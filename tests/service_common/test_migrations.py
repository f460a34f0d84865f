"""The shared migration mechanism, on a small migration environment of its own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from service_common.db import make_engine
from service_common.migrations import MigrationError, new_revision, upgrade_to_head
from tests.fixtures.servers import REPO_ROOT

ENV_PY = '''
import sqlalchemy as sa

from service_common.migrations import run_migrations

metadata = sa.MetaData()
sa.Table("parents", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(20)))
sa.Table(
    "children",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("parents.id", ondelete="CASCADE"), nullable=False),
)
run_migrations(metadata, "alembic_version_test")
'''
INITIAL_REVISION = '''
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table("parents", sa.Column("id", sa.Integer, primary_key=True))
    op.create_table(
        "children",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("parents.id", ondelete="CASCADE"), nullable=False),
    )
'''
# SQLite adds a column in place: `recreate="always"` forces the copy-and-drop of other changes.
ADD_NAME_BY_COPYING = '''
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("parents", recreate="always") as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(20)))
'''


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    (folder / "versions").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "order_system" / "migrations" / "script.py.mako", folder)
    (folder / "env.py").write_text(ENV_PY, encoding="utf-8")
    (folder / "versions" / "0001_initial.py").write_text(INITIAL_REVISION, encoding="utf-8")
    return folder


def test_a_table_copied_on_sqlite_keeps_the_rows_that_reference_it(migrations: Path, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    upgrade_to_head(engine, migrations)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO parents (id) VALUES (1)"))
        connection.execute(text("INSERT INTO children (id, parent_id) VALUES (10, 1)"))
    (migrations / "versions" / "0002_add_name.py").write_text(ADD_NAME_BY_COPYING, encoding="utf-8")

    upgrade_to_head(engine, migrations)

    with engine.connect() as connection:
        assert connection.execute(text("SELECT id, parent_id FROM children")).all() == [(10, 1)]
        assert connection.execute(text("SELECT version_num FROM alembic_version_test")).all() == [("0002",)]
        assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    engine.dispose()


def test_a_database_at_a_revision_this_code_lacks_is_refused(migrations: Path) -> None:
    engine = make_engine("sqlite://")
    upgrade_to_head(engine, migrations)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version_test SET version_num = '0009'"))

    with pytest.raises(MigrationError, match="Can't locate revision identified by '0009'"):
        upgrade_to_head(engine, migrations)
    engine.dispose()


def test_a_new_revision_is_numbered_next_and_holds_what_the_models_add(migrations: Path) -> None:
    path = new_revision(migrations, "add the parent's name")

    assert path == migrations / "versions" / "0002_add_the_parent_s_name.py"
    revision = path.read_text(encoding="utf-8")
    assert "down_revision = '0001'" in revision
    assert (
        "    with op.batch_alter_table('parents', schema=None) as batch_op:\n"
        "        batch_op.add_column(sa.Column('name', sa.String(length=20), nullable=True))\n"
    ) in revision
