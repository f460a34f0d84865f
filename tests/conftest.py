"""Shared test fixtures: each service's fixtures live in tests/fixtures/, one module per service."""

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
