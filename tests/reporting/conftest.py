"""The report tests' fixtures: a fake record service on a local port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reporting.fake_records_service import FakeRecordsService, serving


@pytest.fixture
def records_service() -> Iterator[FakeRecordsService]:
    """An empty fake record service, served while the test runs (fill its lists)."""
    with serving(FakeRecordsService()) as fake:
        yield fake
