"""The channel's settings from credentials.yml: valid values pass, anything else stops the start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.core.run import create_http_input_channels
from rasa.shared.exceptions import RasaException

from channels.wechat import WeChatInput
from channels.wechat.settings import DEFAULT_REPLY_WINDOW_S, WeChatConfigError, WeChatSettings

REPO_ROOT = Path(__file__).resolve().parents[3]
VALID: dict[str, Any] = {
    "token": "wechatToken2024",
    "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "aes_key_previous": "",
    "app_id": "wx0123456789abcdef",
    "app_secret": "0123456789abcdef0123456789abcdef",
    "api_base": "https://api.weixin.qq.com/",
}


def test_valid_credentials() -> None:
    settings = WeChatSettings.from_credentials(VALID)
    assert settings == WeChatSettings(
        token="wechatToken2024",
        aes_key=VALID["aes_key"],
        app_id="wx0123456789abcdef",
        app_secret=VALID["app_secret"],
        api_base="https://api.weixin.qq.com",
        previous_aes_key=None,
        reply_window_s=DEFAULT_REPLY_WINDOW_S,
    )
    assert settings.delivery_enabled
    assert "wechatToken2024" not in repr(settings) and VALID["app_secret"] not in repr(settings)


def test_optional_values() -> None:
    settings = WeChatSettings.from_credentials(
        {**VALID, "aes_key_previous": "Z" * 43, "api_base": "disabled", "reply_window_seconds": "0.5"}
    )
    assert (settings.previous_aes_key, settings.reply_window_s, settings.delivery_enabled) == ("Z" * 43, 0.5, False)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"token": ""}, "WECHAT_TOKEN"),
        ({"token": None}, "WECHAT_TOKEN"),
        ({"token": "bad token!"}, "WECHAT_TOKEN"),
        ({"aes_key": "too-short"}, "WECHAT_AES_KEY"),
        ({"aes_key": "!" * 43}, "WECHAT_AES_KEY"),
        ({"aes_key_previous": "x" * 42}, "WECHAT_AES_KEY_PREVIOUS"),
        ({"app_id": ""}, "WECHAT_APPID"),
        ({"app_id": "wx 123"}, "WECHAT_APPID"),
        ({"app_secret": "  "}, "WECHAT_APP_SECRET"),
        ({"api_base": ""}, "WECHAT_API_BASE"),
        ({"api_base": "ftp://api.weixin.qq.com"}, "WECHAT_API_BASE"),
        ({"reply_window_seconds": 5}, "reply_window_seconds"),
        ({"reply_window_seconds": 0}, "reply_window_seconds"),
        ({"reply_window_seconds": "soon"}, "reply_window_seconds"),
    ],
)
def test_a_missing_or_malformed_value_stops_the_start_naming_it(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(WeChatConfigError, match=named):
        WeChatSettings.from_credentials({**VALID, **changes})


def test_rasa_builds_the_channel_from_credentials_yml(credentials_environment: pytest.MonkeyPatch) -> None:
    for name, value in {"WECHAT_TOKEN": VALID["token"], "WECHAT_AES_KEY": VALID["aes_key"],
                        "WECHAT_APPID": VALID["app_id"], "WECHAT_APP_SECRET": VALID["app_secret"]}.items():
        credentials_environment.setenv(name, value)
    channels = create_http_input_channels(None, str(REPO_ROOT / "credentials.yml"))
    wechat = next(channel for channel in channels if isinstance(channel, WeChatInput))
    assert wechat.settings.token == VALID["token"]
    assert wechat.url_prefix() == "wechat"
    assert wechat.api is None


def test_rasa_does_not_start_when_a_wechat_variable_is_unset(credentials_environment: pytest.MonkeyPatch) -> None:
    credentials_environment.delenv("WECHAT_APP_SECRET")
    with pytest.raises(RasaException, match="WECHAT_APP_SECRET"):
        create_http_input_channels(None, str(REPO_ROOT / "credentials.yml"))
