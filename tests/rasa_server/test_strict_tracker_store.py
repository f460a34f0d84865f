import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore, SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_server.strict_tracker_store import (
    InvalidConversationId,
    StrictTrackerStore,
    TrackerStoreFailed,
    TrackerStoreUnavailable,
    _create_tracker_store,
    check_reachable,
)
from tests.fixtures.servers import REPO_ROOT


class BrokenStore(InMemoryTrackerStore):
    """A store whose database has gone away."""

    async def save(self, tracker: DialogueStateTracker) -> None:
        raise ConnectionError("database gone")

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        raise ConnectionError("database gone")


def unreachable_postgres() -> SQLTrackerStore:
    # Rasa's constructor only logs that it could not create its tables and returns.
    return SQLTrackerStore(dialect="postgresql", host="127.0.0.1", port=1, db="aftersales", username="postgres")


def test_a_reachable_sqlite_store_passes_the_start_check(tmp_path: Path) -> None:
    store = SQLTrackerStore(dialect="sqlite", db=str(tmp_path / "tracker.db"))

    check_reachable(store)
    assert isinstance(_create_tracker_store(store, Domain.empty()), StrictTrackerStore)


def test_an_unreachable_database_stops_the_start_with_its_name() -> None:
    with pytest.raises(TrackerStoreUnavailable, match=r"postgresql://postgres@127.0.0.1:1/aftersales cannot be reached"):
        _create_tracker_store(unreachable_postgres(), Domain.empty())


def test_a_database_without_rasa_s_table_is_refused(tmp_path: Path) -> None:
    store = SQLTrackerStore(dialect="sqlite", db=str(tmp_path / "tracker.db"))
    with store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE events")

    with pytest.raises(TrackerStoreUnavailable, match="has no `events` table"):
        check_reachable(store)


def test_without_a_configured_store_the_in_memory_one_is_a_choice_not_a_fallback() -> None:
    store = _create_tracker_store(None, Domain.empty())

    assert isinstance(store, StrictTrackerStore)
    assert isinstance(store._tracker_store, InMemoryTrackerStore)


async def test_a_failed_save_fails_the_turn_instead_of_landing_in_memory() -> None:
    tracker = DialogueStateTracker.from_events("shopper", [UserUttered("我要投诉")])
    rasa_default: TrackerStore = FailSafeTrackerStore(BrokenStore(Domain.empty()))
    strict = StrictTrackerStore(BrokenStore(Domain.empty()))

    await rasa_default.save(tracker)  # Rasa's own: swallowed, kept in memory only
    with pytest.raises(ConnectionError, match="database gone"):
        await strict.save(tracker)
    with pytest.raises(ConnectionError, match="database gone"):
        await strict.retrieve("shopper")
    assert await rasa_default.retrieve("shopper") is None  # Rasa's own: a new conversation


def local_postgres() -> SQLTrackerStore:
    return SQLTrackerStore(dialect="postgresql", host="127.0.0.1", port=5432, db="test", username="postgres")


def drop_pooled_connection(store: SQLTrackerStore) -> None:
    """Closes, from the server's side, the connection the store's pool holds: what a
    PostgreSQL restart does to every pooled connection."""
    with store.engine.connect() as connection:
        backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    admin = sa.create_engine("postgresql://postgres@127.0.0.1:5432/test")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"SELECT pg_terminate_backend({int(backend)})")
    admin.dispose()


async def test_a_connection_the_database_closed_costs_no_turn() -> None:
    tracker = DialogueStateTracker.from_events(f"shopper-{uuid.uuid4().hex}", [UserUttered("我要投诉")])
    rasa_default = local_postgres()
    strict = _create_tracker_store(local_postgres(), Domain.empty())
    inner = strict._tracker_store
    assert isinstance(inner, SQLTrackerStore)

    drop_pooled_connection(rasa_default)
    drop_pooled_connection(inner)

    with pytest.raises(sa.exc.OperationalError):
        await rasa_default.save(tracker)  # Rasa's own engine hands out the dead connection
    await strict.save(tracker)
    saved = await strict.retrieve(tracker.sender_id)
    assert saved is not None and saved.latest_message is not None
    assert saved.latest_message.text == "我要投诉"


async def test_a_read_on_a_connection_the_database_closed_is_read_again() -> None:
    tracker = DialogueStateTracker.from_events(f"shopper-{uuid.uuid4().hex}", [UserUttered("退款到哪了")])
    strict = _create_tracker_store(local_postgres(), Domain.empty())
    inner = strict._tracker_store
    assert isinstance(inner, SQLTrackerStore)
    await strict.save(tracker)

    drop_pooled_connection(inner)
    read = await strict.retrieve(tracker.sender_id)

    assert read is not None and read.latest_message is not None
    assert read.latest_message.text == "退款到哪了"


class ExitingStore(InMemoryTrackerStore):
    """What Rasa's `SQLTrackerStore.session_scope` does on any ValueError: exit the process."""

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        raise SystemExit(1)


@pytest.mark.parametrize("sender", ["a\x00b", "line\nbreak", "x" * 256, "\ud800"])
async def test_a_conversation_id_no_store_can_hold_fails_only_its_turn(tmp_path: Path, sender: str) -> None:
    strict = _create_tracker_store(SQLTrackerStore(dialect="sqlite", db=str(tmp_path / "t.db")), Domain.empty())

    with pytest.raises(InvalidConversationId):
        await strict.retrieve(sender)
    with pytest.raises(InvalidConversationId):
        await strict.save(DialogueStateTracker.from_events(sender, []))


async def test_rasa_s_exit_inside_the_store_fails_the_turn_not_the_server() -> None:
    strict = StrictTrackerStore(ExitingStore(Domain.empty()))

    with pytest.raises(TrackerStoreFailed):
        await strict.retrieve("shopper")


@pytest.mark.slow  # starts Rasa
@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_server_does_not_start_without_its_database(workers: str) -> None:
    started = subprocess.run(
        [sys.executable, "-m", "rasa_server", "run", "--model", "bot/models/aftersales.tar.gz",
         "--endpoints", "endpoints.production.yml",
         "--credentials", str(REPO_ROOT / "tests" / "fixtures" / "rest_only_credentials.yml")],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(REPO_ROOT), "TRACKER_DB_HOST": "127.0.0.1",
             "TRACKER_DB_PORT": "1", "TRACKER_DB_NAME": "aftersales", "TRACKER_DB_USER": "postgres",
             "TRACKER_DB_PASSWORD": "", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379", "REDIS_DB": "0",
             "REDIS_KEY_PREFIX": "strict-store-test", "ACTION_SERVER_URL": "http://127.0.0.1:1/webhook",
             "ACTION_SERVER_TOKEN": "unused", "RASA_TELEMETRY_ENABLED": "false", "SANIC_WORKERS": workers},
        capture_output=True,
        text=True,
        timeout=300,
    )

    output = started.stdout + started.stderr
    # It ends instead of serving: with one process Rasa's CLI exits with 1; with several
    # Sanic workers each worker dies and Sanic's main process then exits with 0 (the stack's
    # health check reports it).
    assert started.returncode == (1 if workers == "1" else 0)
    assert "TrackerStoreUnavailable" in output
    assert "127.0.0.1:1/aftersales cannot be reached" in output
