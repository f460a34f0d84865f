"""The record service's settings: the only place its process reads the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from record_service.desk.agents import Agent, load_agents
from service_common.env import MissingSettingError, env_float, env_int, env_str, require_env

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = f"sqlite:///{REPO_ROOT / '.stack' / 'records.db'}"
# Agents open the desk page on this port: not 5061, a SIP port browsers refuse (ERR_UNSAFE_PORT).
DEFAULT_PORT = 5071
# Handoff contexts carry a transcript, so bodies may be larger than the order system's.
MAX_BODY_BYTES = 256 * 1024
# A webhook secret shorter than this is guessable.
MIN_WEBHOOK_SECRET_CHARS = 16
CHATWOOT_VARIABLES = (
    "RECORDS_CHATWOOT_URL",
    "RECORDS_CHATWOOT_API_TOKEN",
    "RECORDS_CHATWOOT_ACCOUNT_ID",
    "RECORDS_CHATWOOT_INBOX_ID",
    "RECORDS_CHATWOOT_WEBHOOK_TOKEN",
)


@dataclass(frozen=True)
class BotSettings:
    """How the desk reaches the Rasa server's HTTP API.

    Attributes:
        url: The Rasa server's base URL (RECORDS_BOT_URL).
        token: Its `--auth-token`, sent as `?token=` (RECORDS_BOT_TOKEN).
    """

    url: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class WebhookSettings:
    """The signed outgoing webhook every new handoff is posted to.

    Attributes:
        url: Where to POST (RECORDS_HANDOFF_WEBHOOK_URL).
        secret: The HMAC key of the signature (RECORDS_HANDOFF_WEBHOOK_SECRET).
    """

    url: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class ChatwootSettings:
    """The Chatwoot account every new handoff is opened in.

    Attributes:
        url: Chatwoot's base URL (RECORDS_CHATWOOT_URL).
        api_token: An agent's or bot's access token (RECORDS_CHATWOOT_API_TOKEN).
        account_id: The account's numeric id (RECORDS_CHATWOOT_ACCOUNT_ID).
        inbox_id: The API inbox conversations are opened in (RECORDS_CHATWOOT_INBOX_ID).
        webhook_token: The `?token=` Chatwoot's webhook to the desk carries
            (RECORDS_CHATWOOT_WEBHOOK_TOKEN).
    """

    url: str
    api_token: str = field(repr=False)
    account_id: int
    inbox_id: int
    webhook_token: str = field(repr=False)


@dataclass(frozen=True)
class DeliverySettings:
    """How the outbox delivers handoffs to external help desks.

    Attributes:
        max_attempts: Attempts before a delivery is `failed` (RECORDS_DELIVERY_MAX_ATTEMPTS).
        backoff_s: Wait after the first failure, doubled after each further one, with
            jitter (RECORDS_DELIVERY_BACKOFF_S).
        max_backoff_s: The longest wait between two attempts.
        poll_s: How often the worker looks for due deliveries (RECORDS_DELIVERY_POLL_S).
    """

    max_attempts: int = 12
    backoff_s: float = 2.0
    max_backoff_s: float = 600.0
    poll_s: float = 1.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.backoff_s <= 0 or self.poll_s <= 0:
            raise MissingSettingError(
                "RECORDS_DELIVERY_MAX_ATTEMPTS must be at least 1, RECORDS_DELIVERY_BACKOFF_S and "
                "RECORDS_DELIVERY_POLL_S positive"
            )


@dataclass(frozen=True)
class Settings:
    """How the record service runs.

    Attributes:
        token: The bearer token every API caller must present (RECORDS_TOKEN).
        database_url: SQLAlchemy URL of the record database (RECORDS_DATABASE_URL).
        host: Interface to listen on (RECORDS_HOST).
        port: Port to listen on (RECORDS_PORT).
        max_body_bytes: Largest request body accepted; larger ones get a 413.
        agents: The desk's agents, from the file RECORDS_AGENTS_FILE names (none: the
            desk API answers 401 to everyone).
        bot: The Rasa server the desk talks to; required when there are agents.
        webhook: The signed outgoing webhook for new handoffs, or None.
        chatwoot: The Chatwoot account for new handoffs, or None.
        delivery: How handoffs are delivered to the webhook and Chatwoot.
    """

    token: str
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_body_bytes: int = MAX_BODY_BYTES
    agents: tuple[Agent, ...] = ()
    bot: BotSettings | None = None
    webhook: WebhookSettings | None = None
    chatwoot: ChatwootSettings | None = None
    delivery: DeliverySettings = DeliverySettings()

    def __repr__(self) -> str:
        # Tokens and secrets must not end up in a log line or a traceback.
        return (
            f"Settings(token='***', database_url={without_password(self.database_url)!r}, "
            f"host={self.host!r}, port={self.port}, agents={len(self.agents)}, "
            f"bot={self.bot.url if self.bot else None!r}, "
            f"webhook={without_password(self.webhook.url) if self.webhook else None!r}, "
            f"chatwoot={self.chatwoot.url if self.chatwoot else None!r})"
        )

    @property
    def handoff_targets(self) -> tuple[str, ...]:
        """The external help desks every new handoff is delivered to."""
        return (("webhook",) if self.webhook else ()) + (("chatwoot",) if self.chatwoot else ())

    @classmethod
    def from_env(cls) -> Settings:
        """Reads the settings from the environment (and the agents file it names).

        Raises:
            MissingSettingError: RECORDS_TOKEN is missing; a number is not one; the agents
                file is missing or malformed; agents, the webhook or Chatwoot are configured
                without what they need (the bot's URL and token, the webhook's secret, all
                five Chatwoot settings).
        """
        token = require_env("RECORDS_TOKEN", "the bearer token callers of the record service use")
        agents_file = env_str("RECORDS_AGENTS_FILE", "")
        agents = load_agents(Path(agents_file), service_token=token) if agents_file else ()
        chatwoot = _chatwoot_settings()
        return cls(
            token=token,
            database_url=env_str("RECORDS_DATABASE_URL", DEFAULT_DATABASE_URL),
            host=env_str("RECORDS_HOST", "127.0.0.1"),
            port=env_int("RECORDS_PORT", DEFAULT_PORT),
            agents=agents,
            bot=_bot_settings(needed=bool(agents) or chatwoot is not None),
            webhook=_webhook_settings(),
            chatwoot=chatwoot,
            delivery=DeliverySettings(
                max_attempts=env_int("RECORDS_DELIVERY_MAX_ATTEMPTS", DeliverySettings.max_attempts),
                backoff_s=env_float("RECORDS_DELIVERY_BACKOFF_S", DeliverySettings.backoff_s),
                poll_s=env_float("RECORDS_DELIVERY_POLL_S", DeliverySettings.poll_s),
            ),
        )


def _bot_settings(needed: bool) -> BotSettings | None:
    if not needed and not env_str("RECORDS_BOT_URL", ""):
        return None
    why = "(the desk pauses, relays to and resumes conversations through the Rasa server)"
    url = require_env("RECORDS_BOT_URL", f"the Rasa server's URL {why}")
    return BotSettings(
        url=_http_url("RECORDS_BOT_URL", url),
        token=require_env("RECORDS_BOT_TOKEN", f"the Rasa server's --auth-token {why}"),
    )


def _webhook_settings() -> WebhookSettings | None:
    url = env_str("RECORDS_HANDOFF_WEBHOOK_URL", "")
    secret = env_str("RECORDS_HANDOFF_WEBHOOK_SECRET", "")
    if not url and not secret:
        return None
    url = require_env("RECORDS_HANDOFF_WEBHOOK_URL", "where handoffs are posted when a webhook secret is set")
    secret = require_env(
        "RECORDS_HANDOFF_WEBHOOK_SECRET", "the HMAC key that signs every handoff posted to the webhook"
    )
    if len(secret) < MIN_WEBHOOK_SECRET_CHARS:
        raise MissingSettingError(
            f"RECORDS_HANDOFF_WEBHOOK_SECRET must be at least {MIN_WEBHOOK_SECRET_CHARS} characters"
        )
    return WebhookSettings(url=_http_url("RECORDS_HANDOFF_WEBHOOK_URL", url), secret=secret)


def _chatwoot_settings() -> ChatwootSettings | None:
    if not any(env_str(name, "") for name in CHATWOOT_VARIABLES):
        return None
    why = "(all five RECORDS_CHATWOOT_* settings are needed once one is set)"
    values = {name: require_env(name, f"a Chatwoot setting {why}") for name in CHATWOOT_VARIABLES}
    return ChatwootSettings(
        url=_http_url("RECORDS_CHATWOOT_URL", values["RECORDS_CHATWOOT_URL"]),
        api_token=values["RECORDS_CHATWOOT_API_TOKEN"],
        account_id=env_int("RECORDS_CHATWOOT_ACCOUNT_ID", 0),
        inbox_id=env_int("RECORDS_CHATWOOT_INBOX_ID", 0),
        webhook_token=values["RECORDS_CHATWOOT_WEBHOOK_TOKEN"],
    )


def _http_url(name: str, value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise MissingSettingError(f"{name} must be an http(s) URL")
    return value.rstrip("/")


def without_password(url: str) -> str:
    """`url` with any password replaced by ***, for logs."""
    scheme, separator, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not separator or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{location}"
