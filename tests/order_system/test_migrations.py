"""The order system's schema migrations: new, current, pre-migration and PostgreSQL databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine

from order_system.db import make_engine, migrate, session_factory, transaction
from order_system.migrations import SCRIPT_LOCATION, VERSION_TABLE
from order_system.models import Base, ChannelAccount, Customer
from tests.fixtures.migrations import (
    current_revision,
    head_revision,
    schema_differences,
    throwaway_postgres_database,
)

ORDER_TABLES = {
    "channel_accounts",
    "customers",
    "order_idempotency_keys",
    "order_items",
    "orders",
    "payments",
    "refunds",
    "return_items",
    "return_requests",
    "shipments",
}


@pytest.fixture
def engine() -> Iterator[Engine]:
    database = make_engine("sqlite://")
    yield database
    database.dispose()


def add_customer(engine: Engine, customer_id: str, phone: str = "13800000000") -> None:
    with transaction(session_factory(engine)) as session:
        session.add(Customer(id=customer_id, name="张三", phone=phone))
        session.add(ChannelAccount(channel="phone", account_id=phone, customer_id=customer_id))


def customer_ids(engine: Engine) -> list[str]:
    with transaction(session_factory(engine)) as session:
        return list(session.scalars(select(Customer.id).order_by(Customer.id)))


def test_the_initial_revision_is_the_head() -> None:
    assert head_revision(SCRIPT_LOCATION) == "0001"


def test_an_empty_database_gets_the_tables_of_the_models(engine: Engine) -> None:
    migrate(engine)

    assert set(inspect(engine).get_table_names()) == ORDER_TABLES | {VERSION_TABLE}
    assert set(Base.metadata.tables) == ORDER_TABLES
    assert schema_differences(engine, Base.metadata, VERSION_TABLE) == []
    assert current_revision(engine, VERSION_TABLE) == head_revision(SCRIPT_LOCATION)


def test_migrating_a_current_database_again_changes_nothing(engine: Engine) -> None:
    migrate(engine)
    add_customer(engine, "C1")

    migrate(engine)

    assert customer_ids(engine) == ["C1"]
    assert current_revision(engine, VERSION_TABLE) == head_revision(SCRIPT_LOCATION)
    assert schema_differences(engine, Base.metadata, VERSION_TABLE) == []


def test_a_database_made_by_create_all_is_adopted_and_keeps_its_data(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    add_customer(engine, "C1")
    assert current_revision(engine, VERSION_TABLE) is None

    migrate(engine)
    add_customer(engine, "C2", "13900000000")

    assert customer_ids(engine) == ["C1", "C2"]
    assert current_revision(engine, VERSION_TABLE) == head_revision(SCRIPT_LOCATION)
    assert schema_differences(engine, Base.metadata, VERSION_TABLE) == []


def test_reset_drops_the_orders_and_migrates_again(engine: Engine) -> None:
    migrate(engine)
    add_customer(engine, "C1")

    migrate(engine, reset=True)

    assert customer_ids(engine) == []
    assert current_revision(engine, VERSION_TABLE) == head_revision(SCRIPT_LOCATION)
    assert schema_differences(engine, Base.metadata, VERSION_TABLE) == []


def test_on_postgresql_the_migrated_database_matches_the_models() -> None:
    with throwaway_postgres_database() as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            migrate(engine)
            add_customer(engine, "C1")

            assert set(inspect(engine).get_table_names()) == ORDER_TABLES | {VERSION_TABLE}
            assert schema_differences(engine, Base.metadata, VERSION_TABLE) == []
            assert current_revision(engine, VERSION_TABLE) == head_revision(SCRIPT_LOCATION)
            assert customer_ids(engine) == ["C1"]
        finally:
            engine.dispose()


def test_processes_starting_at_once_on_postgresql_migrate_one_after_the_other() -> None:
    with throwaway_postgres_database() as url:
        engines = [make_engine(url) for _ in range(4)]
        start = threading.Barrier(len(engines))
        failures: list[BaseException] = []

        def start_service(engine: Engine) -> None:
            start.wait()
            try:
                migrate(engine)
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=start_service, args=(engine,)) for engine in engines]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)

            assert failures == []
            assert current_revision(engines[0], VERSION_TABLE) == head_revision(SCRIPT_LOCATION)
            assert schema_differences(engines[0], Base.metadata, VERSION_TABLE) == []
        finally:
            for engine in engines:
                engine.dispose()
