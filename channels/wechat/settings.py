"""The WeChat channel's settings: read from credentials.yml, validated once, at start."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rasa.shared.exceptions import RasaException

from channels.common.tencent_push import is_valid_aes_key

DEFAULT_API_BASE = "https://api.weixin.qq.com"
# `api_base: disabled`: no customer-service API; answers slower than the window are dropped.
API_DISABLED = "disabled"
# WeChat waits 5 s for an answer; 4 s leaves room for the network.
DEFAULT_REPLY_WINDOW_S = 4.0
WECHAT_TIMEOUT_S = 5.0

_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9]{3,32}")
_APP_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{2,64}")

# credentials.yml key -> the environment variable credentials.yml takes it from.
CREDENTIAL_VARIABLES = {
    "token": "WECHAT_TOKEN",
    "aes_key": "WECHAT_AES_KEY",
    "aes_key_previous": "WECHAT_AES_KEY_PREVIOUS",
    "app_id": "WECHAT_APPID",
    "app_secret": "WECHAT_APP_SECRET",
    "api_base": "WECHAT_API_BASE",
}


class WeChatConfigError(RasaException):
    """The channel's settings are missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class WeChatSettings:
    """The Official Account's settings, validated on creation.

    Attributes:
        token: The Token of the account's server configuration (3-32 letters or digits).
        aes_key: The EncodingAESKey (43 characters of base64).
        app_id: The account's AppID (wx...).
        app_secret: The AppSecret, for the access token of the customer-service API.
        api_base: Base URL of WeChat's API, or `disabled` for no customer-service API.
        previous_aes_key: The EncodingAESKey before the latest rotation, still accepted.
        reply_window_s: How long a push waits for the bot before answering `success`.

    Raises:
        WeChatConfigError: A value is missing or malformed; the message names its variable.
    """

    token: str = field(repr=False)
    aes_key: str = field(repr=False)
    app_id: str
    app_secret: str = field(repr=False)
    api_base: str = DEFAULT_API_BASE
    previous_aes_key: str | None = field(default=None, repr=False)
    reply_window_s: float = DEFAULT_REPLY_WINDOW_S

    def __post_init__(self) -> None:
        for name in ("token", "aes_key", "app_id", "app_secret", "api_base"):
            if not getattr(self, name).strip():
                raise WeChatConfigError(
                    f"WeChat channel: {CREDENTIAL_VARIABLES[name]} is empty. `make run` generates "
                    f"local values in .stack/secrets.env; production takes the account's own."
                )
        if not _TOKEN_PATTERN.fullmatch(self.token):
            raise WeChatConfigError("WeChat channel: WECHAT_TOKEN must be 3 to 32 letters or digits.")
        if not _APP_ID_PATTERN.fullmatch(self.app_id):
            raise WeChatConfigError("WeChat channel: WECHAT_APPID is not an AppID (wx...).")
        keys = ((self.aes_key, "WECHAT_AES_KEY"), (self.previous_aes_key, "WECHAT_AES_KEY_PREVIOUS"))
        for key, variable in keys:
            if key is not None and not is_valid_aes_key(key):
                raise WeChatConfigError(f"WeChat channel: {variable} must be 43 characters of base64.")
        if self.api_base != API_DISABLED and not self.api_base.startswith(("https://", "http://")):
            raise WeChatConfigError(
                f"WeChat channel: WECHAT_API_BASE must be an http(s) URL or `{API_DISABLED}`."
            )
        if not 0 < self.reply_window_s < WECHAT_TIMEOUT_S:
            raise WeChatConfigError(
                f"WeChat channel: reply_window_seconds must be between 0 and {WECHAT_TIMEOUT_S:g} "
                f"(WeChat gives up after {WECHAT_TIMEOUT_S:g} s)."
            )

    @property
    def delivery_enabled(self) -> bool:
        """Whether answers slower than the reply window go out by the customer-service API."""
        return self.api_base != API_DISABLED

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any]) -> WeChatSettings:
        """The settings from the channel's section of credentials.yml.

        Raises:
            WeChatConfigError: A key is missing or a value is malformed.
        """
        values: dict[str, str] = {}
        for name in ("token", "aes_key", "app_id", "app_secret", "api_base"):
            value = credentials.get(name)
            if value is None or not str(value).strip():
                raise WeChatConfigError(
                    f"WeChat channel: `{name}` is missing in credentials.yml or empty: "
                    f"set {CREDENTIAL_VARIABLES[name]}."
                )
            values[name] = str(value).strip()
        previous = str(credentials.get("aes_key_previous") or "").strip()
        window = credentials.get("reply_window_seconds")
        try:
            reply_window_s = float(window) if window not in (None, "") else DEFAULT_REPLY_WINDOW_S
        except (TypeError, ValueError):
            raise WeChatConfigError("WeChat channel: reply_window_seconds must be a number.") from None
        return cls(
            token=values["token"],
            aes_key=values["aes_key"],
            app_id=values["app_id"],
            app_secret=values["app_secret"],
            api_base=values["api_base"].rstrip("/"),
            previous_aes_key=previous or None,
            reply_window_s=reply_window_s,
        )
