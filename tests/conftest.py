"""Shared test fixtures: each service's fixtures live in tests/fixtures/, one module per service."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.fixtures.servers",
    "tests.fixtures.stack",
    "tests.fixtures.actions",
    "tests.fixtures.fake_wechat",
    "tests.fixtures.fake_rasa",
    "tests.fixtures.fake_chatwoot",
    "tests.fixtures.fake_wecom",
    "tests.fixtures.credentials",
    "tests.fixtures.browser",
]

# Fixtures whose tests get a marker here, directly or through another fixture, so that
# a new test using one cannot be left in the fast tier by mistake: the whole stack
# started with scripts/stack.py (`running_stack` in tests/fixtures/stack.py,
# `production_stack` in tests/acceptance/test_production_stores.py) is `stack`,
# Chromium (`browser`, tests/fixtures/browser.py) is `slow`.
MARKER_OF_FIXTURE = {"running_stack": "stack", "production_stack": "stack", "browser": "slow"}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks each test with the marker of every fixture in MARKER_OF_FIXTURE it uses."""
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            if fixture in MARKER_OF_FIXTURE:
                item.add_marker(MARKER_OF_FIXTURE[fixture])
