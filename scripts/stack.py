"""Starts and stops the whole stack: order system, record service, action server, Rasa.

    python scripts/stack.py up [--fixtures FILE ...]   # background; returns when all are healthy
    python scripts/stack.py up --production            # the same on PostgreSQL and Redis, 2+2 workers
    python scripts/stack.py down                        # stops everything it started
    python scripts/stack.py status

`up` also starts a supervisor (`stack.py supervise`, log in logs/supervisor.log) that
restarts a service that dies, within seconds, with the same settings; the order system
comes back on its database as it was (no fixture reset). `up` on a stack that is partly
running starts only what is not running (again without resetting the orders), and the
supervisor if it is not running.

Each stack lives in a folder (STACK_DIR, default `.stack/`): its SQLite databases, logs,
process ids, generated local secrets (`secrets.env`, kept across runs) and `env`, the
shell lines other tools source (BOT_URL, BOT_TOKEN, RECORDS_URL, ...). Ports come from
PORT_BASE (Rasa, actions, orders, records = base, base+1, base+2, base+3) or from
RASA_PORT, ACTIONS_PORT, ORDERS_PORT, RECORDS_PORT; so two stacks can run side by side
with different STACK_DIR and PORT_BASE. Secrets and database URLs already in the
environment win over the generated ones (that is how production configures it).

`--production` runs the stack the way a deployment does, on this machine's PostgreSQL and
Redis (`production_environment`): conversations, orders, records and WeCom's state in the
PostgreSQL database `aftersales` (created when missing; PRODUCTION_DATABASE_URL names
another), Rasa's conversation locks and the channels' shared state in Redis, and two Rasa
workers and two action-server workers (RASA_WORKERS, ACTION_WORKERS) that any message may
reach. Every value already in the environment wins.

The WeChat channel gets generated local values too (Token, EncodingAESKey, AppID,
AppSecret: no real account). WECHAT_API_BASE defaults to `disabled` (no customer-service
messages: there is no WeChat here to send them to); WECHAT_AES_KEY_PREVIOUS to empty.
WeCom customer service gets generated local values too (CorpID, Secret, Token, EncodingAESKey); WECOM_API_BASE
defaults to `disabled` (callbacks verified and answered, nothing pulled) and
WECOM_STATE_DATABASE_URL to a SQLite file in the stack's folder.

The human-handoff desk gets two demo agents (客服小王, 客服小李): their tokens are kept with
the local secrets and written to `env` (AGENT_TOKEN, AGENT2_TOKEN, AGENT_URL); the record
service reads only their SHA-256, from `agents.yaml` in the stack folder.

The phone line (IVR) gets a generated IVR_TOKEN, the platform's bearer token.

The web widget gets a generated WIDGET_SECRET, its demo page (WIDGET_DEMO_PAGE=true) and
the stack's own origin as the allowed one (WIDGET_ALLOWED_ORIGINS).

Rasa runs as `python -m rasa_server run` with bot/models/aftersales.tar.gz. For the
benchmark's stock Rasa (scripts/benchmark.py), RASA_LAUNCHER=rasa runs Rasa's own CLI,
`python -m rasa run`, without the project's fixes, and RASA_MODEL names another model
(a path, relative to the repository or absolute).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import signal
import string
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FIXTURES = [REPO_ROOT / "order_system" / "demo_orders.yaml"]
MODEL_PATH = REPO_ROOT / "bot" / "models" / "aftersales.tar.gz"
SECRET_NAMES = ("RASA_TOKEN", "ACTION_SERVER_TOKEN", "ORDERS_TOKEN", "RECORDS_TOKEN")
_ALPHANUMERIC = string.ascii_letters + string.digits
# WeChat's own formats: Token 3-32 letters/digits, EncodingAESKey 43 letters/digits, AppID wx+16 hex.
WECHAT_SECRETS: dict[str, Callable[[], str]] = {
    "WECHAT_TOKEN": lambda: secrets.token_hex(16),
    "WECHAT_AES_KEY": lambda: "".join(secrets.choice(_ALPHANUMERIC) for _ in range(43)),
    "WECHAT_APPID": lambda: "wx" + secrets.token_hex(8),
    "WECHAT_APP_SECRET": lambda: secrets.token_hex(16),
}
WECHAT_API_DISABLED = "disabled"
DESK_SECRETS = ("AGENT_TOKEN", "AGENT2_TOKEN")
# The desk's demo agents: (id, name, the secret holding the token).
DEMO_AGENTS = (("xiaowang", "客服小王", "AGENT_TOKEN"), ("xiaoli", "客服小李", "AGENT2_TOKEN"))
DESK_PAGE_PATH = "/desk/"
WECHAT_WEBHOOK_PATH = "/webhooks/wechat/webhook"
# The phone line's bearer token: a service token like the ones above.
IVR_SECRET_NAMES = ("IVR_TOKEN",)
REST_SECRET_NAMES = ("REST_WEBHOOK_TOKEN",)
IVR_TURN_PATH = "/webhooks/ivr/turn"

# WeCom's formats: CorpID ww+16 hex, Token 3-32 letters/digits, EncodingAESKey 43 letters/digits.
WECOM_SECRETS: dict[str, Callable[[], str]] = {
    "WECOM_CORP_ID": lambda: "ww" + secrets.token_hex(8),
    "WECOM_SECRET": lambda: secrets.token_hex(20),
    "WECOM_TOKEN": lambda: secrets.token_hex(16),
    "WECOM_AES_KEY": lambda: "".join(secrets.choice(_ALPHANUMERIC) for _ in range(43)),
}
WECOM_API_DISABLED = "disabled"
WECOM_CALLBACK_PATH = "/webhooks/wecom/callback"

# The web widget's secret, shared with the shop's backend that signs shopper tokens.
WIDGET_SECRETS: dict[str, Callable[[], str]] = {"WIDGET_SECRET": lambda: secrets.token_hex(32)}
WIDGET_DEMO_PATH = "/webhooks/widget/demo"
DEFAULT_PRODUCTION_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/aftersales"
DEFAULT_PRODUCTION_REDIS = ("127.0.0.1", "6379", "0")
DEFAULT_PRODUCTION_WORKERS = "2"
# The module Rasa runs as (RASA_LAUNCHER): the project's launcher, or stock Rasa's CLI.
RASA_LAUNCHERS = ("rasa_server", "rasa")
DEFAULT_PORTS = {"RASA_PORT": 5005, "ACTIONS_PORT": 5055, "ORDERS_PORT": 5070, "RECORDS_PORT": 5071}
# Ports a shopper's or an agent's browser opens: the widget (Rasa) and the desk (records).
BROWSER_PORTS = ("RASA_PORT", "RECORDS_PORT")
# Ports Chromium and Firefox refuse to load (ERR_UNSAFE_PORT): Chromium's kRestrictedPorts
# in net/base/port_util.cc. 5060/5061 (SIP) were once this stack's defaults.
BROWSER_RESTRICTED_PORTS = frozenset({
    1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95,
    101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161,
    179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563,
    587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060,
    5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
})
HOST = "127.0.0.1"


class StackError(RuntimeError):
    """The stack could not be started or stopped; the message says which service and why."""


@dataclass
class StackLayout:
    """Where one stack keeps its files, and the ports it uses."""

    directory: Path
    ports: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> StackLayout:
        directory = Path(environ.get("STACK_DIR") or REPO_ROOT / ".stack")
        if not directory.is_absolute():
            directory = REPO_ROOT / directory
        base = environ.get("PORT_BASE", "").strip()
        ports: dict[str, int] = {}
        for offset, (name, default) in enumerate(DEFAULT_PORTS.items()):
            explicit = environ.get(name, "").strip()
            try:
                if explicit:
                    ports[name] = int(explicit)
                elif base:
                    ports[name] = int(base) + offset
                else:
                    ports[name] = default
            except ValueError:
                raise StackError(f"{name} or PORT_BASE is not a port number: {explicit or base!r}") from None
        for name in BROWSER_PORTS:
            if ports[name] in BROWSER_RESTRICTED_PORTS:
                raise StackError(
                    f"{name}={ports[name]} is a port browsers refuse to open (ERR_UNSAFE_PORT); "
                    "choose another (or another PORT_BASE)"
                )
        return cls(directory, ports)

    @property
    def logs(self) -> Path:
        return self.directory / "logs"

    @property
    def pids_file(self) -> Path:
        return self.directory / "pids.json"

    @property
    def secrets_file(self) -> Path:
        return self.directory / "secrets.env"

    @property
    def env_file(self) -> Path:
        return self.directory / "env"

    @property
    def agents_file(self) -> Path:
        return self.directory / "agents.yaml"

    def url(self, port_name: str) -> str:
        return f"http://{HOST}:{self.ports[port_name]}"


def read_env_file(path: Path) -> dict[str, str]:
    """Reads KEY=value lines (no shell expansion)."""
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
    return values


def service_token() -> str:
    """A random token that no command line mistakes for an option (RASA_TOKEN is passed
    as `--auth-token TOKEN`, and `token_urlsafe` may start with '-')."""
    while (token := secrets.token_urlsafe(32)).startswith("-"):
        pass
    return token


def local_secrets(layout: StackLayout, environ: Mapping[str, str]) -> dict[str, str]:
    """The stack's secrets: from the environment, else generated once and kept (mode 600)."""
    stored = read_env_file(layout.secrets_file)
    generators = {
        **dict.fromkeys(SECRET_NAMES + IVR_SECRET_NAMES + REST_SECRET_NAMES, service_token),
        **WECHAT_SECRETS,
        **WECOM_SECRETS,
        **WIDGET_SECRETS,
        **dict.fromkeys(DESK_SECRETS, service_token),
    }
    changed = False
    for name, generate in generators.items():
        if not stored.get(name):
            stored[name] = generate()
            changed = True
    if changed:
        layout.directory.mkdir(parents=True, exist_ok=True)
        layout.secrets_file.write_text(
            "# Local secrets generated by scripts/stack.py; git-ignored. Delete to rotate.\n"
            + "".join(f"{k}={v}\n" for k, v in stored.items())
        )
        layout.secrets_file.chmod(0o600)
    return {name: environ.get(name) or stored[name] for name in generators}


def rasa_model_path(environ: Mapping[str, str]) -> Path:
    """The model Rasa serves: RASA_MODEL (relative to the repository) or the project's."""
    value = environ.get("RASA_MODEL", "").strip()
    if not value:
        return MODEL_PATH
    path = Path(value)
    return path if path.is_absolute() else REPO_ROOT / path


def rasa_launcher(environ: Mapping[str, str]) -> str:
    """The module Rasa runs as: RASA_LAUNCHER, by default the project's `rasa_server`.

    Raises:
        StackError: RASA_LAUNCHER is neither `rasa_server` nor `rasa`.
    """
    launcher = environ.get("RASA_LAUNCHER", "").strip() or RASA_LAUNCHERS[0]
    if launcher not in RASA_LAUNCHERS:
        raise StackError(f"RASA_LAUNCHER must be one of {', '.join(RASA_LAUNCHERS)}, not {launcher!r}")
    return launcher


@dataclass(frozen=True)
class ServiceSpec:
    """How to start one service and how to tell it is ready.

    Attributes:
        restart_command: How to start it again on data it already has (the order system
            without `--reset` and fixtures); `command` when None.
    """

    name: str
    command: list[str]
    env: dict[str, str]
    health_url: str
    startup_timeout_s: float
    restart_command: list[str] | None = None

    def command_for(self, *, restart: bool) -> list[str]:
        """The command for a first start, or for a restart on the data already there."""
        return (self.restart_command or self.command) if restart else self.command


def service_specs(
    layout: StackLayout, keys: Mapping[str, str], fixtures: list[Path], environ: Mapping[str, str]
) -> list[ServiceSpec]:
    """The four services in start order (each depends only on the ones before it)."""
    python = sys.executable
    directory = layout.directory
    orders_url, records_url = layout.url("ORDERS_PORT"), layout.url("RECORDS_PORT")
    actions_url, rasa_url = layout.url("ACTIONS_PORT"), layout.url("RASA_PORT")
    fixture_args = [arg for f in fixtures for arg in ("--fixtures", str(f))]
    return [
        ServiceSpec(
            "order_system",
            [python, "-m", "order_system", "--reset", *fixture_args],
            {
                "ORDERS_TOKEN": keys["ORDERS_TOKEN"],
                "ORDERS_HOST": HOST,
                "ORDERS_PORT": str(layout.ports["ORDERS_PORT"]),
                "ORDERS_DATABASE_URL": environ.get("ORDERS_DATABASE_URL")
                or f"sqlite:///{directory / 'orders.db'}",
            },
            f"{orders_url}/health",
            60,
            restart_command=[python, "-m", "order_system"],
        ),
        ServiceSpec(
            "record_service",
            [python, "-m", "record_service"],
            {
                "RECORDS_TOKEN": keys["RECORDS_TOKEN"],
                "RECORDS_HOST": HOST,
                "RECORDS_PORT": str(layout.ports["RECORDS_PORT"]),
                "RECORDS_DATABASE_URL": environ.get("RECORDS_DATABASE_URL")
                or f"sqlite:///{directory / 'records.db'}",
                # The desk: its agents, and the Rasa server it pauses and resumes (started
                # after the record service, which connects to it only when an agent acts).
                "RECORDS_AGENTS_FILE": str(layout.agents_file),
                "RECORDS_BOT_URL": rasa_url,
                "RECORDS_BOT_TOKEN": keys["RASA_TOKEN"],
            },
            f"{records_url}/health",
            60,
        ),
        ServiceSpec(
            "action_server",
            [python, "-m", "rasa_sdk", "--actions", "bot.actions",
             "--port", str(layout.ports["ACTIONS_PORT"])],
            {
                "SANIC_HOST": HOST,
                "ACTION_SERVER_SANIC_WORKERS": environ.get("ACTION_WORKERS") or "1",  # rasa-sdk's name
                "ACTION_SERVER_TOKEN": keys["ACTION_SERVER_TOKEN"],
                "ORDERS_URL": orders_url,
                "ORDERS_TOKEN": keys["ORDERS_TOKEN"],
                "RECORDS_SERVICE_URL": records_url,
                "RECORDS_TOKEN": keys["RECORDS_TOKEN"],
                # Writes to the record service wait here while it is down (bot/actions/outbox.py).
                "ACTION_OUTBOX_DATABASE_URL": environ.get("ACTION_OUTBOX_DATABASE_URL")
                or f"sqlite:///{directory / 'action_outbox.db'}",
            },
            f"{actions_url}/health",
            120,
        ),
        ServiceSpec(
            "rasa",
            [python, "-m", rasa_launcher(environ), "run", "--enable-api", "--auth-token", keys["RASA_TOKEN"],
             "--model", str(rasa_model_path(environ)),
             "--endpoints", environ.get("RASA_ENDPOINTS") or "endpoints.yml",
             "--credentials", "credentials.yml",
             "--interface", HOST, "--port", str(layout.ports["RASA_PORT"])],
            {
                "ACTION_SERVER_URL": f"{actions_url}/webhook",
                "ACTION_SERVER_TOKEN": keys["ACTION_SERVER_TOKEN"],
                "TRACKER_SQLITE_PATH": environ.get("TRACKER_SQLITE_PATH")
                or str(directory / "tracker.db"),
                # Several workers need a shared lock store (endpoints.production.yml);
                # Rasa keeps one worker with its in-process lock store.
                "SANIC_WORKERS": environ.get("RASA_WORKERS") or "1",
                "CHANNEL_STATE_REDIS_URL": environ.get("CHANNEL_STATE_REDIS_URL", ""),
                # Without Redis, what the channels have taken outlives a restart of Rasa here.
                "CHANNEL_STATE_SQLITE_PATH": environ.get("CHANNEL_STATE_SQLITE_PATH")
                or str(directory / "channel_state.db"),
                "CHANNEL_STATE_KEY_PREFIX": environ.get("CHANNEL_STATE_KEY_PREFIX", ""),
                **{name: keys[name] for name in WECHAT_SECRETS},
                "WECHAT_API_BASE": environ.get("WECHAT_API_BASE") or WECHAT_API_DISABLED,
                "WECHAT_AES_KEY_PREVIOUS": environ.get("WECHAT_AES_KEY_PREVIOUS", ""),
                # The IVR channel: its token.
                **{name: keys[name] for name in IVR_SECRET_NAMES},
                # Rasa's REST webhook: open here; production mode guards it with its token.
                "REST_WEBHOOK": environ.get("REST_WEBHOOK") or "open",
                **{name: keys[name] for name in REST_SECRET_NAMES},
                **{name: keys[name] for name in WECOM_SECRETS},
                "WECOM_API_BASE": environ.get("WECOM_API_BASE") or WECOM_API_DISABLED,
                "WECOM_STATE_DATABASE_URL": environ.get("WECOM_STATE_DATABASE_URL")
                or f"sqlite:///{directory / 'wecom_state.db'}",
                **widget_env(layout, keys, environ),
                # Rasa's own HTTP calls and TensorFlow stay quiet and local.
                "RASA_TELEMETRY_ENABLED": "false",
                "TF_CPP_MIN_LOG_LEVEL": "2",
            },
            f"{rasa_url}/status?token={keys['RASA_TOKEN']}",
            240,
        ),
    ]


def production_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` with production mode's defaults where it sets nothing: PostgreSQL for
    every database, Redis for locks and channel state, two workers each for Rasa and the
    action server."""
    from sqlalchemy.engine import make_url

    database_url = environ.get("PRODUCTION_DATABASE_URL") or DEFAULT_PRODUCTION_DATABASE_URL
    database = make_url(database_url)
    redis_host, redis_port, redis_db = DEFAULT_PRODUCTION_REDIS
    redis_host = environ.get("REDIS_HOST") or redis_host
    redis_port = environ.get("REDIS_PORT") or redis_port
    redis_db = environ.get("REDIS_DB") or redis_db
    prefix = environ.get("REDIS_KEY_PREFIX") or "aftersales"
    defaults = {
        "RASA_ENDPOINTS": "endpoints.production.yml",
        "ORDERS_DATABASE_URL": database_url,
        "RECORDS_DATABASE_URL": database_url,
        "WECOM_STATE_DATABASE_URL": database_url,
        "ACTION_OUTBOX_DATABASE_URL": database_url,
        # Only the shop's backend may call the REST webhook (REST_WEBHOOK=open for tests).
        "REST_WEBHOOK": "token",
        "TRACKER_DB_HOST": database.host or HOST,
        "TRACKER_DB_PORT": str(database.port or 5432),
        "TRACKER_DB_NAME": database.database or "aftersales",
        "TRACKER_DB_USER": database.username or "postgres",
        "TRACKER_DB_PASSWORD": database.password or "",
        "REDIS_HOST": redis_host,
        "REDIS_PORT": redis_port,
        "REDIS_DB": redis_db,
        "REDIS_KEY_PREFIX": prefix,
        "CHANNEL_STATE_REDIS_URL": f"redis://{redis_host}:{redis_port}/{redis_db}",
        "CHANNEL_STATE_KEY_PREFIX": prefix,
        "RASA_WORKERS": DEFAULT_PRODUCTION_WORKERS,
        "ACTION_WORKERS": DEFAULT_PRODUCTION_WORKERS,
    }
    return {**defaults, **environ}


def production_databases(environ: Mapping[str, str]) -> list[str]:
    """The PostgreSQL databases the stack's services will use (Rasa's tracker included)."""
    tracker = (
        f"postgresql+psycopg2://{environ['TRACKER_DB_USER']}:{environ['TRACKER_DB_PASSWORD']}"
        f"@{environ['TRACKER_DB_HOST']}:{environ['TRACKER_DB_PORT']}/{environ['TRACKER_DB_NAME']}"
    )
    urls = [environ["ORDERS_DATABASE_URL"], environ["RECORDS_DATABASE_URL"], tracker]
    return list(dict.fromkeys(url for url in urls if url.startswith("postgresql")))


def ensure_postgres_database(database_url: str) -> None:
    """Creates the database of `database_url` on its server when it does not exist yet.

    Raises:
        StackError: The server cannot be reached.
    """
    import psycopg2
    from psycopg2 import sql
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    try:
        admin = psycopg2.connect(
            host=url.host or HOST, port=url.port or 5432, user=url.username or "postgres",
            password=url.password or "", dbname="postgres", connect_timeout=5,
        )
    except psycopg2.OperationalError as error:
        raise StackError(f"PostgreSQL at {url.host}:{url.port or 5432} cannot be reached: {error}") from error
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,))
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(url.database)))
                print(f"stack: created PostgreSQL database {url.database}")
    finally:
        admin.close()


def widget_env(layout: StackLayout, keys: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """The web widget's settings for Rasa: by default the stack's own pages may connect
    and the demo shop page is served."""
    port = layout.ports["RASA_PORT"]
    return {
        **{name: keys[name] for name in WIDGET_SECRETS},
        "WIDGET_ALLOWED_ORIGINS": environ.get("WIDGET_ALLOWED_ORIGINS")
        or f"{layout.url('RASA_PORT')},http://localhost:{port}",
        "WIDGET_DEMO_PAGE": environ.get("WIDGET_DEMO_PAGE") or "true",
    }


def read_pids(layout: StackLayout) -> dict[str, int]:
    if not layout.pids_file.exists():
        return {}
    return {k: int(v) for k, v in json.loads(layout.pids_file.read_text()).items()}


def is_running(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie (dead, not yet reaped by its parent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            # The state follows the command name, which is in parentheses and may hold spaces.
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return True  # no /proc (macOS): the signal said it exists


def wait_until_healthy(spec: ServiceSpec, process: subprocess.Popen[bytes], log: Path) -> None:
    """Polls the health URL until it answers 200.

    Raises:
        StackError: The process exited or the deadline passed; the log's tail is included.
    """
    deadline = time.monotonic() + spec.startup_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if requests.get(spec.health_url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-2500:] if log.exists() else ""
    state = f"exited with {process.returncode}" if process.poll() is not None else "timed out"
    raise StackError(f"{spec.name} did not become healthy ({state}); see {log}:\n{tail}")


def write_env_file(layout: StackLayout, keys: Mapping[str, str]) -> None:
    """Writes the shell lines that tools and tests source to reach this stack."""
    lines = {
        "BOT_URL": layout.url("RASA_PORT"),
        "BOT_TOKEN": keys["RASA_TOKEN"],
        "RECORDS_URL": f"{layout.url('RECORDS_PORT')}/api/records",
        "RECORDS_TOKEN": keys["RECORDS_TOKEN"],
        "ORDERS_URL": layout.url("ORDERS_PORT"),
        "ORDERS_TOKEN": keys["ORDERS_TOKEN"],
        "ACTIONS_URL": layout.url("ACTIONS_PORT"),
        "WECHAT_URL": f"{layout.url('RASA_PORT')}{WECHAT_WEBHOOK_PATH}",
        "WECHAT_TOKEN": keys["WECHAT_TOKEN"],
        "WECHAT_AES_KEY": keys["WECHAT_AES_KEY"],
        "WECHAT_APPID": keys["WECHAT_APPID"],
        "AGENT_URL": f"{layout.url('RECORDS_PORT')}{DESK_PAGE_PATH}",
        "AGENT_TOKEN": keys["AGENT_TOKEN"],
        "AGENT2_TOKEN": keys["AGENT2_TOKEN"],
        "IVR_URL": f"{layout.url('RASA_PORT')}{IVR_TURN_PATH}",
        "IVR_TOKEN": keys["IVR_TOKEN"],
        "REST_WEBHOOK_TOKEN": keys["REST_WEBHOOK_TOKEN"],
        "WECOM_URL": f"{layout.url('RASA_PORT')}{WECOM_CALLBACK_PATH}",
        "WECOM_TOKEN": keys["WECOM_TOKEN"],
        "WECOM_AES_KEY": keys["WECOM_AES_KEY"],
        "WECOM_CORP_ID": keys["WECOM_CORP_ID"],
        "WIDGET_URL": f"{layout.url('RASA_PORT')}{WIDGET_DEMO_PATH}",
        "WIDGET_SECRET": keys["WIDGET_SECRET"],
    }
    layout.env_file.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    layout.env_file.chmod(0o600)


def write_agents_file(layout: StackLayout, keys: Mapping[str, str]) -> None:
    """Writes the desk's demo agents for the record service: ids, names, tokens' SHA-256 only."""
    lines = ["# The desk's demo agents, generated by scripts/stack.py; tokens are in secrets.env.", "agents:"]
    for agent_id, name, secret in DEMO_AGENTS:
        digest = hashlib.sha256(keys[secret].encode()).hexdigest()
        lines.append(f"  - {{id: {agent_id}, name: {name}, token_sha256: {digest}}}")
    layout.agents_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    layout.agents_file.chmod(0o600)


SUPERVISOR = "supervisor"
SUPERVISE_INTERVAL_S = 1.0


def spawn(
    spec: ServiceSpec, command: list[str], layout: StackLayout, environ: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    """Starts one service in the background, its output appended to its log."""
    log = layout.logs / f"{spec.name}.log"
    with log.open("ab") as log_file:
        return subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={**environ, **spec.env, "PYTHONPATH": str(REPO_ROOT)},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: `down` stops its children too
        )


def record_pid(layout: StackLayout, name: str, pid: int) -> None:
    """Writes one process id into pids.json, keeping the others."""
    pids = read_pids(layout)
    pids[name] = pid
    layout.pids_file.write_text(json.dumps(pids))


def up(layout: StackLayout, fixtures: list[Path], environ: Mapping[str, str]) -> None:
    """Starts every service in the background and returns once all are healthy.

    On a stack that is partly running, starts only what is not running, on the data
    already there (the orders are not reset), and the supervisor if it is missing.
    """
    running = {name for name, pid in read_pids(layout).items() if is_running(pid)}
    service_names = {"order_system", "record_service", "action_server", "rasa"}
    if running >= service_names | {SUPERVISOR}:
        raise StackError(f"a stack is already running from {layout.directory}; run `make down`")
    partial = bool(running & service_names)
    for fixture in fixtures:
        if not fixture.exists():
            raise StackError(f"fixture file not found: {fixture}")
    rasa_launcher(environ)
    model = rasa_model_path(environ)
    if not model.exists():
        hint = "run `make setup` first" if model == MODEL_PATH else "train it first"
        raise StackError(f"no trained model at {model}; {hint}")
    layout.logs.mkdir(parents=True, exist_ok=True)
    keys = local_secrets(layout, environ)
    write_agents_file(layout, keys)
    if not partial:
        layout.pids_file.write_text(json.dumps({}))
    try:
        for spec in service_specs(layout, keys, fixtures, environ):
            if spec.name in running:
                print(f"stack: {spec.name} is already running")
                continue
            process = spawn(spec, spec.command_for(restart=partial), layout, environ)
            record_pid(layout, spec.name, process.pid)
            wait_until_healthy(spec, process, layout.logs / f"{spec.name}.log")
            print(f"stack: {spec.name} is up ({spec.health_url.split('?')[0]})")
        if SUPERVISOR not in running:
            record_pid(layout, SUPERVISOR, start_supervisor(layout, environ).pid)
    except BaseException:
        if not partial:
            down(layout)
        raise
    write_env_file(layout, keys)
    print(f"stack: ready; connection settings in {layout.env_file}")


def start_supervisor(layout: StackLayout, environ: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Starts `stack.py supervise` for this stack, in the background, with `up`'s settings."""
    ports = {name: str(port) for name, port in layout.ports.items()}
    with (layout.logs / f"{SUPERVISOR}.log").open("ab") as log_file:
        return subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "supervise"],
            cwd=REPO_ROOT,
            env={**environ, **ports, "STACK_DIR": str(layout.directory), "PYTHONPATH": str(REPO_ROOT)},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def supervise(
    layout: StackLayout,
    environ: Mapping[str, str],
    *,
    interval_s: float = SUPERVISE_INTERVAL_S,
    keep_going: Callable[[], bool] = lambda: True,
) -> None:
    """Restarts every service of the stack that is not running, until told to stop.

    A restarted service gets the settings `up` gave it (read again from the stack's
    folder and the environment) and its data as it is: the order system is not reset.
    """
    keys = local_secrets(layout, environ)
    specs = service_specs(layout, keys, [], environ)
    while keep_going():
        if not layout.pids_file.exists():
            return  # the stack was stopped (or its folder removed): nothing to keep alive
        pids = read_pids(layout)
        _reap(pids.values())
        for spec in specs:
            pid = pids.get(spec.name)
            if pid is None or is_running(pid) or not keep_going():
                continue
            print(f"stack: {spec.name} (pid {pid}) is not running; restarting it", flush=True)
            process = spawn(spec, spec.command_for(restart=True), layout, environ)
            record_pid(layout, spec.name, process.pid)
            try:
                wait_until_healthy(spec, process, layout.logs / f"{spec.name}.log")
            except StackError as error:
                print(f"stack: {error}", flush=True)  # tried again on the next round
                continue
            print(f"stack: {spec.name} is up again (pid {process.pid})", flush=True)
        time.sleep(interval_s)


def down(layout: StackLayout, grace_s: float = 15.0) -> None:
    """Stops every service this stack started (SIGTERM, then SIGKILL after a grace period).

    The supervisor goes first, so that it restarts nothing that is being stopped.
    """
    supervisor = read_pids(layout).get(SUPERVISOR)
    if supervisor is not None:
        _stop_groups([supervisor], grace_s)
    pids = read_pids(layout)  # as the supervisor left them
    _stop_groups(pids.values(), grace_s)
    layout.pids_file.unlink(missing_ok=True)
    layout.env_file.unlink(missing_ok=True)
    if pids:
        print(f"stack: stopped {', '.join(pids)}")


def _stop_groups(pids: Iterable[int], grace_s: float) -> None:
    pids = list(pids)
    for pid in pids:
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(is_running(p) for p in pids):
        _reap(pids)
        time.sleep(0.2)
    for pid in pids:
        if is_running(pid):
            _signal_group(pid, signal.SIGKILL)
    _reap(pids)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _reap(pids: Iterable[int]) -> None:
    """Collects exited children so they do not linger as zombies (when we are the parent)."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def status(layout: StackLayout) -> int:
    pids = read_pids(layout)
    if not pids:
        print("stack: not running")
        return 1
    for name, pid in pids.items():
        print(f"{name}: pid {pid} {'running' if is_running(pid) else 'stopped'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="start the stack in the background")
    up_parser.add_argument("--fixtures", nargs="*", type=Path, default=None,
                           help="order fixture files (default: the demo orders)")
    up_parser.add_argument("--production", action="store_true",
                           help="PostgreSQL and Redis on this machine, two workers each for Rasa and actions")
    sub.add_parser("down", help="stop the stack")
    sub.add_parser("status", help="show what runs")
    sub.add_parser("supervise", help="restart the stack's services that die (started by `up`)")
    args = parser.parse_args(argv)
    try:
        layout = StackLayout.from_environment(os.environ)
        if args.command == "up":
            fixtures = [f.resolve() for f in (args.fixtures or DEFAULT_FIXTURES)]
            environ: Mapping[str, str] = os.environ
            if args.production:
                environ = production_environment(os.environ)
                for database_url in production_databases(environ):
                    ensure_postgres_database(database_url)
            up(layout, fixtures, environ)
        elif args.command == "down":
            down(layout)
        elif args.command == "supervise":
            stopping: list[int] = []
            signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
            supervise(layout, os.environ, keep_going=lambda: not stopping)
        else:
            return status(layout)
    except StackError as error:
        print(f"stack: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
