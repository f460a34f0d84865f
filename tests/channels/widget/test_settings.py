"""The widget channel's settings from credentials.yml: valid values pass, anything else stops the start."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from rasa.core.run import create_http_input_channels
from rasa.shared.exceptions import RasaException

from channels.common.shared_state import SharedState
from channels.widget import WidgetInput
from channels.widget.settings import WidgetConfigError, WidgetSettings, parse_flag, parse_origins
from tests.fixtures.credentials import CREDENTIALS_ENVIRONMENT

REPO_ROOT = Path(__file__).resolve().parents[3]
SECRET = secrets.token_urlsafe(32)  # generated: no secret-looking literal in the repo
VALID: dict[str, Any] = {
    "secret": SECRET,
    "allowed_origins": "https://shop.example.com, http://127.0.0.1:5005",
    "demo_page": "false",
}
# Every variable credentials.yml needs (the other channels' too), for building the channels.
ENVIRONMENT = {
    **CREDENTIALS_ENVIRONMENT,
    "WIDGET_SECRET": SECRET,
    "WIDGET_ALLOWED_ORIGINS": "https://Shop.Example.com",
    "WIDGET_DEMO_PAGE": "true",
}


def test_valid_credentials() -> None:
    settings = WidgetSettings.from_credentials(VALID)
    assert settings == WidgetSettings(
        secret=SECRET, allowed_origins=("https://shop.example.com", "http://127.0.0.1:5005"), demo_page=False
    )
    assert SECRET not in repr(settings)


def test_origins_are_compared_as_browsers_send_them() -> None:
    settings = WidgetSettings.from_credentials({**VALID, "allowed_origins": "HTTPS://Shop.Example.com:8443"})
    assert settings.origin_allowed("https://shop.example.com:8443")
    assert not settings.origin_allowed("https://shop.example.com")
    assert not settings.origin_allowed("http://shop.example.com:8443")
    assert not settings.origin_allowed("https://shop.example.com.evil.example:8443")


def test_an_origin_list_may_use_commas_or_spaces_and_repeat_itself() -> None:
    assert parse_origins("http://a.example,http://b.example http://a.example  http://[::1]:5005") == (
        "http://a.example",
        "http://b.example",
        "http://[::1]:5005",
    )


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("YES", True), ("1", True), (True, True),
                                                 ("false", False), ("", False), (None, False), ("off", False)])
def test_yes_no_values(value: Any, expected: bool) -> None:
    assert parse_flag(value, "WIDGET_DEMO_PAGE") is expected


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"secret": ""}, "WIDGET_SECRET"),
        ({"secret": None}, "WIDGET_SECRET"),
        ({"secret": "x" * 31}, "WIDGET_SECRET"),
        ({"secret": " " + "x" * 40}, "WIDGET_SECRET"),
        ({"allowed_origins": ""}, "WIDGET_ALLOWED_ORIGINS"),
        ({"allowed_origins": " , "}, "WIDGET_ALLOWED_ORIGINS"),
        ({"allowed_origins": "*"}, "WIDGET_ALLOWED_ORIGINS"),
        ({"allowed_origins": "https://shop.example.com/"}, "WIDGET_ALLOWED_ORIGINS"),
        ({"allowed_origins": "https://shop.example.com/chat"}, "WIDGET_ALLOWED_ORIGINS"),
        ({"allowed_origins": "shop.example.com"}, "WIDGET_ALLOWED_ORIGINS"),
        ({"allowed_origins": "ftp://shop.example.com"}, "WIDGET_ALLOWED_ORIGINS"),
        ({"demo_page": "maybe"}, "WIDGET_DEMO_PAGE"),
    ],
)
def test_a_missing_or_malformed_value_stops_the_start_naming_it(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(WidgetConfigError, match=named):
        WidgetSettings.from_credentials({**VALID, **changes})


def test_rasa_builds_the_channel_from_credentials_yml(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    channels = create_http_input_channels(None, str(REPO_ROOT / "credentials.yml"))
    widget = next(channel for channel in channels if isinstance(channel, WidgetInput))
    assert widget.settings == WidgetSettings(SECRET, ("https://shop.example.com",), demo_page=True)
    assert widget.url_prefix() == "widget"


def test_the_shared_state_is_where_the_environment_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHANNEL_STATE_REDIS_URL", raising=False)
    monkeypatch.delenv("CHANNEL_STATE_KEY_PREFIX", raising=False)
    channel = WidgetInput.from_credentials(VALID)
    assert isinstance(channel, WidgetInput) and channel.shared_state == SharedState(None, "aftersales")
    monkeypatch.setenv("CHANNEL_STATE_REDIS_URL", "redis://redis:6379/1")
    monkeypatch.setenv("CHANNEL_STATE_KEY_PREFIX", "shop7")
    channel = WidgetInput.from_credentials(VALID)
    assert isinstance(channel, WidgetInput) and channel.shared_state == SharedState("redis://redis:6379/1", "shop7")
    monkeypatch.setenv("CHANNEL_STATE_REDIS_URL", "http://redis:6379")
    with pytest.raises(WidgetConfigError, match="CHANNEL_STATE_REDIS_URL must be a redis:// URL"):
        WidgetInput.from_credentials(VALID)


@pytest.mark.parametrize("unset", ["WIDGET_SECRET", "WIDGET_ALLOWED_ORIGINS", "WIDGET_DEMO_PAGE"])
def test_rasa_does_not_start_when_a_widget_variable_is_unset(monkeypatch: pytest.MonkeyPatch, unset: str) -> None:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(unset)
    with pytest.raises(RasaException, match=unset):
        create_http_input_channels(None, str(REPO_ROOT / "credentials.yml"))


def test_rasa_does_not_start_with_a_short_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**ENVIRONMENT, "WIDGET_SECRET": "too-short"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(WidgetConfigError, match="WIDGET_SECRET must be at least 32 characters"):
        create_http_input_channels(None, str(REPO_ROOT / "credentials.yml"))
