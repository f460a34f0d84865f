"""The WeCom channel's settings: read from credentials.yml, validated once, at start."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rasa.shared.exceptions import RasaException
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from channels.common.tencent_push import is_valid_aes_key

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com"
# `api_base: disabled`: callbacks are verified and answered, but nothing is pulled.
API_DISABLED = "disabled"
STATE_BACKENDS = ("sqlite", "postgresql")

_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9]{3,32}")
_CORP_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{2,64}")

# credentials.yml key -> the environment variable credentials.yml takes it from.
CREDENTIAL_VARIABLES = {
    "corp_id": "WECOM_CORP_ID",
    "secret": "WECOM_SECRET",
    "token": "WECOM_TOKEN",
    "aes_key": "WECOM_AES_KEY",
    "api_base": "WECOM_API_BASE",
    "state_database_url": "WECOM_STATE_DATABASE_URL",
}


class WeComConfigError(RasaException):
    """The channel's settings are missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class WeComSettings:
    """The WeCom customer-service (微信客服) settings, validated on creation.

    Attributes:
        corp_id: The company's CorpID (ww...); the receive id of encrypted callbacks.
        secret: The Secret of the 微信客服 app, for the access token.
        token: The Token of the callback configuration (3-32 letters or digits).
        aes_key: The EncodingAESKey of the callback configuration (43 characters).
        api_base: Base URL of WeCom's API, or `disabled`: no pull, no answer.
        state_database_url: SQLAlchemy URL of the cursors and handled message ids.

    Raises:
        WeComConfigError: A value is missing or malformed; the message names its variable.
    """

    corp_id: str
    secret: str = field(repr=False)
    token: str = field(repr=False)
    aes_key: str = field(repr=False)
    state_database_url: str = field(repr=False)
    api_base: str = DEFAULT_API_BASE

    def __post_init__(self) -> None:
        for name in CREDENTIAL_VARIABLES:
            if not getattr(self, name).strip():
                raise WeComConfigError(
                    f"WeCom channel: {CREDENTIAL_VARIABLES[name]} is empty. `make run` generates "
                    f"local values in .stack/secrets.env; production takes the company's own."
                )
        if not _CORP_ID_PATTERN.fullmatch(self.corp_id):
            raise WeComConfigError("WeCom channel: WECOM_CORP_ID is not a CorpID (ww...).")
        if not _TOKEN_PATTERN.fullmatch(self.token):
            raise WeComConfigError("WeCom channel: WECOM_TOKEN must be 3 to 32 letters or digits.")
        if not is_valid_aes_key(self.aes_key):
            raise WeComConfigError("WeCom channel: WECOM_AES_KEY must be 43 characters of base64.")
        if self.api_base != API_DISABLED and not self.api_base.startswith(("https://", "http://")):
            raise WeComConfigError(
                f"WeCom channel: WECOM_API_BASE must be an http(s) URL or `{API_DISABLED}`."
            )
        try:
            backend = make_url(self.state_database_url).get_backend_name()
        except ArgumentError:
            backend = ""
        if backend not in STATE_BACKENDS:
            raise WeComConfigError(
                "WeCom channel: WECOM_STATE_DATABASE_URL must be a sqlite:/// or postgresql:// URL."
            )

    @property
    def pull_enabled(self) -> bool:
        """Whether callbacks lead to pulling and answering the messages."""
        return self.api_base != API_DISABLED

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any]) -> WeComSettings:
        """The settings from the channel's section of credentials.yml.

        Raises:
            WeComConfigError: A key is missing or a value is malformed.
        """
        values: dict[str, str] = {}
        for name, variable in CREDENTIAL_VARIABLES.items():
            value = credentials.get(name)
            if value is None or not str(value).strip():
                raise WeComConfigError(
                    f"WeCom channel: `{name}` is missing in credentials.yml or empty: set {variable}."
                )
            values[name] = str(value).strip()
        values["api_base"] = values["api_base"].rstrip("/")
        return cls(**values)
