"""The order system's settings: the only place its process reads the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from service_common.env import env_int, env_str, require_env
from service_common.http import MAX_BODY_BYTES

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = f"sqlite:///{REPO_ROOT / '.stack' / 'orders.db'}"
DEFAULT_PORT = 5070


@dataclass(frozen=True)
class Settings:
    """How the order system runs.

    Attributes:
        token: The bearer token every API caller must present (ORDERS_TOKEN).
        database_url: SQLAlchemy URL of the order database (ORDERS_DATABASE_URL).
        host: Interface to listen on (ORDERS_HOST).
        port: Port to listen on (ORDERS_PORT).
        max_body_bytes: Largest request body accepted; larger ones get a 413.
    """

    token: str
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_body_bytes: int = MAX_BODY_BYTES

    def __repr__(self) -> str:
        # The token must not end up in a log line or a traceback.
        return (
            f"Settings(token='***', database_url={_without_password(self.database_url)!r}, "
            f"host={self.host!r}, port={self.port})"
        )

    @classmethod
    def from_env(cls) -> Settings:
        """Reads the settings from the environment.

        Raises:
            MissingSettingError: ORDERS_TOKEN is missing, or ORDERS_PORT is not an integer.
        """
        return cls(
            token=require_env("ORDERS_TOKEN", "the bearer token callers of the order system use"),
            database_url=env_str("ORDERS_DATABASE_URL", DEFAULT_DATABASE_URL),
            host=env_str("ORDERS_HOST", "127.0.0.1"),
            port=env_int("ORDERS_PORT", DEFAULT_PORT),
        )


def _without_password(url: str) -> str:
    """`url` with any password replaced by ***, for logs."""
    scheme, separator, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not separator or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{location}"
