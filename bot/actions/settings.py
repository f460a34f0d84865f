"""The action server's settings: the only place the action server reads its environment.

Everything else receives an :class:`ActionSettings` (or the values in it), so tests can
build clients with explicit values and nothing reads ``os.environ`` behind their back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from service_common.env import MissingSettingError, env_float, env_int, env_str, require_env

DEFAULT_ORDERS_URL = "http://127.0.0.1:5070"
DEFAULT_RECORDS_SERVICE_URL = "http://127.0.0.1:5071"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTBOX_DATABASE_URL = f"sqlite:///{REPO_ROOT / '.stack' / 'action_outbox.db'}"
DEFAULT_OUTBOX_INTERVAL_S = 2.0


@dataclass(frozen=True)
class ServiceSettings:
    """How to reach one HTTP service, and how patiently.

    Attributes:
        url: Base URL, without a trailing slash, e.g. ``http://127.0.0.1:5070``.
        token: Bearer token the service requires (never shown by ``repr``).
        connect_timeout_s: Seconds to wait for a TCP connection.
        read_timeout_s: Seconds to wait for each read of the answer.
        max_retries: Extra attempts for a call that may be repeated safely.
        backoff_s: Wait before the first retry; doubled for each further one.
        breaker_failures: Consecutive failed calls after which the circuit opens.
        breaker_cooldown_s: Seconds the circuit stays open before one trial call.
    """

    url: str
    token: str = field(repr=False)
    connect_timeout_s: float = 2.0
    read_timeout_s: float = 5.0
    max_retries: int = 2
    backoff_s: float = 0.2
    breaker_failures: int = 5
    breaker_cooldown_s: float = 30.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", self.url.rstrip("/"))
        if not self.url.startswith(("http://", "https://")):
            raise MissingSettingError(f"service URL must start with http:// or https://, got {self.url!r}")
        for name in ("connect_timeout_s", "read_timeout_s", "breaker_cooldown_s"):
            if getattr(self, name) <= 0:
                raise MissingSettingError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.max_retries < 0 or self.backoff_s < 0:
            raise MissingSettingError("max_retries and backoff_s must not be negative")
        if self.breaker_failures < 1:
            raise MissingSettingError(f"breaker_failures must be at least 1, got {self.breaker_failures}")

    @classmethod
    def from_env(
        cls, prefix: str, url_name: str, default_url: str, token_purpose: str, *, max_retries: int
    ) -> ServiceSettings:
        """Reads ``<url_name>``, ``<prefix>_TOKEN`` and the optional ``<prefix>_*`` tuning.

        Raises:
            MissingSettingError: The token is missing or a number is malformed.
        """
        return cls(
            url=env_str(url_name, default_url),
            token=require_env(f"{prefix}_TOKEN", token_purpose),
            connect_timeout_s=env_float(f"{prefix}_CONNECT_TIMEOUT_S", 2.0),
            read_timeout_s=env_float(f"{prefix}_READ_TIMEOUT_S", 5.0),
            max_retries=env_int(f"{prefix}_MAX_RETRIES", max_retries),
            backoff_s=env_float(f"{prefix}_BACKOFF_S", 0.2),
            breaker_failures=env_int(f"{prefix}_BREAKER_FAILURES", 5),
            breaker_cooldown_s=env_float(f"{prefix}_BREAKER_COOLDOWN_S", 30.0),
        )


@dataclass(frozen=True)
class ActionSettings:
    """Everything the action server needs from its environment.

    Attributes:
        orders: The order system (ORDERS_URL, ORDERS_TOKEN, ORDERS_CONNECT_TIMEOUT_S,
            ORDERS_READ_TIMEOUT_S, ORDERS_MAX_RETRIES, ORDERS_BACKOFF_S,
            ORDERS_BREAKER_FAILURES, ORDERS_BREAKER_COOLDOWN_S).
        records: The record service (RECORDS_SERVICE_URL, RECORDS_TOKEN and the same
            ``RECORDS_*`` tuning). Writes are retried more: a record must not be lost.
        policy_file: The merchant's own policy file (POLICY_FILE); the shipped
            bot/policy/aftersales_policy.yml when None.
        outbox_database_url: Where the outbox of writes to the record service is kept
            (ACTION_OUTBOX_DATABASE_URL): SQLite under .stack/ by default, PostgreSQL in
            production, shared by the action server's workers.
        outbox_interval_s: Seconds between the background deliveries of queued writes
            (ACTION_OUTBOX_INTERVAL_S).
    """

    orders: ServiceSettings
    records: ServiceSettings
    policy_file: str | None = None
    outbox_database_url: str = DEFAULT_OUTBOX_DATABASE_URL
    outbox_interval_s: float = DEFAULT_OUTBOX_INTERVAL_S

    def __post_init__(self) -> None:
        if self.outbox_interval_s <= 0:
            raise MissingSettingError(f"outbox_interval_s must be positive, got {self.outbox_interval_s!r}")

    @classmethod
    def from_env(cls) -> ActionSettings:
        """Reads the settings from the environment.

        Raises:
            MissingSettingError: ORDERS_TOKEN or RECORDS_TOKEN is missing, or a number or
                URL is malformed.
        """
        return cls(
            orders=ServiceSettings.from_env(
                "ORDERS",
                "ORDERS_URL",
                DEFAULT_ORDERS_URL,
                "the bearer token of the order system",
                max_retries=2,
            ),
            records=ServiceSettings.from_env(
                "RECORDS",
                "RECORDS_SERVICE_URL",
                DEFAULT_RECORDS_SERVICE_URL,
                "the bearer token of the record service",
                max_retries=3,
            ),
            policy_file=env_str("POLICY_FILE", "") or None,
            outbox_database_url=env_str("ACTION_OUTBOX_DATABASE_URL", DEFAULT_OUTBOX_DATABASE_URL),
            outbox_interval_s=env_float("ACTION_OUTBOX_INTERVAL_S", DEFAULT_OUTBOX_INTERVAL_S),
        )
