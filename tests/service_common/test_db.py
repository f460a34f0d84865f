from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, Table, select

from service_common.db import UtcDateTime, make_engine, session_factory, transaction

metadata = MetaData()
stamps = Table("stamps", metadata, Column("id", Integer, primary_key=True), Column("at", UtcDateTime))


def test_an_in_memory_database_is_one_database_for_every_thread() -> None:
    engine = make_engine("sqlite://")
    metadata.create_all(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        session.execute(stamps.insert().values(id=1, at=datetime(2026, 5, 1, tzinfo=timezone.utc)))

    def ids() -> list[int]:
        with transaction(sessions) as session:
            return list(session.execute(select(stamps.c.id)).scalars())

    # The services answer on worker threads: each must see the same in-memory database.
    with ThreadPoolExecutor(max_workers=1) as worker:
        assert worker.submit(ids).result() == [1]


def test_times_come_back_as_utc(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/db/stamps.db")
    metadata.create_all(engine)
    sessions = session_factory(engine)
    beijing = timezone(timedelta(hours=8))
    with transaction(sessions) as session:
        session.execute(stamps.insert().values(id=1, at=datetime(2026, 5, 1, 8, 0, tzinfo=beijing)))
    with transaction(sessions) as session:
        (at,) = session.execute(select(stamps.c.at)).scalars().all()
    assert at == datetime(2026, 5, 1, 0, 0, tzinfo=timezone.utc)
    assert at.tzinfo == timezone.utc
