"""The channel's settings from credentials.yml: valid values pass, anything else stops the start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.core.run import create_http_input_channels
from rasa.shared.exceptions import RasaException

from channels.wecom import WeComInput
from channels.wecom.settings import WeComConfigError, WeComSettings
from tests.fixtures.fake_wecom import FAKE_TOKEN, WECOM_ENVIRONMENT

REPO_ROOT = Path(__file__).resolve().parents[3]
VALID: dict[str, Any] = {
    "corp_id": "ww0123456789abcdef",
    "secret": "kf-secret-0123456789",
    "token": FAKE_TOKEN,
    "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "api_base": "https://qyapi.weixin.qq.com/",
    "state_database_url": "sqlite:///.stack/wecom_state.db",
}


def test_valid_credentials_give_settings_without_secrets_in_their_repr() -> None:
    settings = WeComSettings.from_credentials(VALID)
    assert settings.api_base == "https://qyapi.weixin.qq.com"
    assert settings.pull_enabled
    assert VALID["secret"] not in repr(settings) and VALID["token"] not in repr(settings)
    assert VALID["aes_key"] not in repr(settings) and "wecom_state" not in repr(settings)
    assert "ww0123456789abcdef" in repr(settings)


def test_disabled_api_means_no_pull() -> None:
    assert not WeComSettings.from_credentials({**VALID, "api_base": "disabled"}).pull_enabled


@pytest.mark.parametrize("key, variable", [
    ("corp_id", "WECOM_CORP_ID"), ("secret", "WECOM_SECRET"), ("token", "WECOM_TOKEN"),
    ("aes_key", "WECOM_AES_KEY"), ("api_base", "WECOM_API_BASE"),
    ("state_database_url", "WECOM_STATE_DATABASE_URL"),
])
def test_a_missing_or_empty_value_names_its_variable(key: str, variable: str) -> None:
    for credentials in ({k: v for k, v in VALID.items() if k != key}, {**VALID, key: "  "}):
        with pytest.raises(WeComConfigError, match=variable):
            WeComSettings.from_credentials(credentials)


@pytest.mark.parametrize("key, value, variable", [
    ("corp_id", "ww 01", "WECOM_CORP_ID"),
    ("token", "to", "WECOM_TOKEN"),
    ("token", "x" * 33, "WECOM_TOKEN"),
    ("aes_key", "short", "WECOM_AES_KEY"),
    ("aes_key", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF!", "WECOM_AES_KEY"),
    ("api_base", "qyapi.weixin.qq.com", "WECOM_API_BASE"),
    ("state_database_url", "mysql://db/state", "WECOM_STATE_DATABASE_URL"),
    ("state_database_url", "not a url", "WECOM_STATE_DATABASE_URL"),
])
def test_a_malformed_value_names_its_variable(key: str, value: str, variable: str) -> None:
    with pytest.raises(WeComConfigError, match=variable):
        WeComSettings.from_credentials({**VALID, key: value})


def test_postgresql_state_is_accepted() -> None:
    url = "postgresql+psycopg2://app@db:5432/aftersales"
    assert WeComSettings.from_credentials({**VALID, "state_database_url": url}).state_database_url == url


def test_rasa_builds_the_channel_from_credentials_yml(credentials_environment: pytest.MonkeyPatch) -> None:
    channels = create_http_input_channels(None, str(REPO_ROOT / "credentials.yml"))
    wecom = next(channel for channel in channels if isinstance(channel, WeComInput))
    assert wecom.settings.corp_id == WECOM_ENVIRONMENT["WECOM_CORP_ID"]
    assert wecom.url_prefix() == "wecom"
    assert not wecom.settings.pull_enabled and wecom.puller is None
    assert wecom.texts("utter_channel_pick_by_number")


def test_rasa_does_not_start_when_a_wecom_variable_is_unset(credentials_environment: pytest.MonkeyPatch) -> None:
    credentials_environment.delenv("WECOM_SECRET")
    with pytest.raises(RasaException, match="WECOM_SECRET"):
        create_http_input_channels(None, str(REPO_ROOT / "credentials.yml"))
