"""The record service's schema migrations: new, current, pre-migration and PostgreSQL databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine

from record_service.db import migrate
from record_service.migrations import SCRIPT_LOCATION, VERSION_TABLE
from record_service.models import Base, ServiceRecord
from service_common.db import make_engine, session_factory, transaction
from tests.fixtures.migrations import (
    current_revision,
    head_revision,
    schema_differences,
    throwaway_postgres_database,
)

RECORD_TABLES = {
    "chatwoot_links",
    "chatwoot_relayed_messages",
    "complaint_evidence",
    "complaint_tickets",
    "desk_audit",
    "handoff_claims",
    "handoff_contacts",
    "handoff_deliveries",
    "handoff_tickets",
    "record_idempotency_keys",
    "service_records",
    "unanswered_reviews",
}
# The tables of a record database made before the handoff desk existed.
BEFORE_THE_DESK = [
    Base.metadata.tables[name]
    for name in ("service_records", "complaint_tickets", "complaint_evidence", "handoff_tickets",
                 "record_idempotency_keys")
]
NOW = datetime(2024, 5, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def engine() -> Iterator[Engine]:
    database = make_engine("sqlite://")
    yield database
    database.dispose()


def add_record(engine: Engine, conversation_id: str) -> None:
    with transaction(session_factory(engine)) as session:
        session.add(ServiceRecord(
            conversation_id=conversation_id, kind="identity_check", outcome="verified",
            rule="identity.phone_last4", details={"channel": "web"}, created_at=NOW,
        ))


def conversations(engine: Engine) -> list[str]:
    with transaction(session_factory(engine)) as session:
        return list(session.scalars(select(ServiceRecord.conversation_id).order_by(ServiceRecord.id)))


def test_the_initial_revision_is_the_head() -> None:
    assert head_revision(SCRIPT_LOCATION) == "0001"


def test_an_empty_database_gets_the_tables_of_the_models(engine: Engine) -> None:
    migrate(engine)

    assert set(inspect(engine).get_table_names()) == RECORD_TABLES | {VERSION_TABLE}
    assert set(Base.metadata.tables) == RECORD_TABLES
    assert schema_differences(engine, Base.metadata, VERSION_TABLE) == []
    assert current_revision(engine, VERSION_TABLE) == head_revision(SCRIPT_LOCATION)


def test_migrating_a_current_database_again_changes_nothing(engine: Engine) -> None:
    migrate(engine)
    add_record(engine, "c1")

    migrate(engine)

    assert conversations(engine) == ["c1"]
    assert current_revision(engine, VERSION_TABLE) == head_revision(SCRIPT_LOCATION)
    assert schema_differences(engine, Base.metadata, VERSION_TABLE) == []


def test_a_database_made_by_create_all_is_adopted_and_keeps_its_records(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    add_record(engine, "c1")
    assert current_revision(engine, VERSION_TABLE) is None

    migrate(engine)
    add_record(engine, "c2")

    assert conversations(engine) == ["c1", "c2"]
    assert current_revision(engine, VERSION_TABLE) == head_revision(SCRIPT_LOCATION)
    assert schema_differences(engine, Base.metadata, VERSION_TABLE) == []


def test_a_database_from_before_the_desk_gains_the_desk_tables(engine: Engine) -> None:
    Base.metadata.create_all(engine, tables=BEFORE_THE_DESK)
    add_record(engine, "c1")

    migrate(engine)

    assert set(inspect(engine).get_table_names()) == RECORD_TABLES | {VERSION_TABLE}
    assert conversations(engine) == ["c1"]
    assert schema_differences(engine, Base.metadata, VERSION_TABLE) == []


def test_on_postgresql_a_database_made_by_create_all_is_adopted_and_matches_the_models() -> None:
    with throwaway_postgres_database() as url:
        engine = make_engine(url)
        try:
            Base.metadata.create_all(engine, tables=BEFORE_THE_DESK)
            add_record(engine, "c1")

            migrate(engine)
            migrate(engine)

            assert set(inspect(engine).get_table_names()) == RECORD_TABLES | {VERSION_TABLE}
            assert schema_differences(engine, Base.metadata, VERSION_TABLE) == []
            assert current_revision(engine, VERSION_TABLE) == head_revision(SCRIPT_LOCATION)
            assert conversations(engine) == ["c1"]
        finally:
            engine.dispose()


def test_on_postgresql_a_new_database_matches_the_models() -> None:
    with throwaway_postgres_database() as url:
        engine = make_engine(url)
        try:
            migrate(engine)

            assert schema_differences(engine, Base.metadata, VERSION_TABLE) == []
            assert current_revision(engine, VERSION_TABLE) == head_revision(SCRIPT_LOCATION)
        finally:
            engine.dispose()
