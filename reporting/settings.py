"""Where the record service is: RECORDS_URL and RECORDS_TOKEN, from the environment or the stack's env file.

`make up` (scripts/stack.py) writes `.stack/env` (or `$STACK_DIR/env`) with shell lines
`KEY=value`; a variable set in the environment wins over the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RECORDS_PATH = "/api/records"  # RECORDS_URL is the records route; the client wants the base


class SettingsError(Exception):
    """The record service's settings are missing or unreadable; the message says which."""


@dataclass(frozen=True)
class RecordsSettings:
    """How to reach the record service.

    Attributes:
        base_url: Its base URL, without "/api/records".
        token: Its bearer token.
    """

    base_url: str
    token: str


def env_file_path(environ: Mapping[str, str]) -> Path:
    """The stack's env file: `$STACK_DIR/env`, by default `.stack/env` in the repository."""
    return Path(environ.get("STACK_DIR") or REPO_ROOT / ".stack") / "env"


def read_env_file(path: Path) -> dict[str, str]:
    """The `KEY=value` lines of a shell env file (`export`, quotes and comments allowed; no expansion).

    A missing file has no settings.

    Raises:
        SettingsError: The file exists but cannot be read.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"cannot read {path}: {error}") from None
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def base_url_of(records_url: str) -> str:
    """The record service's base URL from RECORDS_URL ("http://host:port/api/records")."""
    url = records_url.strip().rstrip("/")
    return url.removesuffix(RECORDS_PATH).rstrip("/")


def records_settings(environ: Mapping[str, str]) -> RecordsSettings:
    """RECORDS_URL and RECORDS_TOKEN, each from the environment or else from the stack's env file.

    Raises:
        SettingsError: One is in neither, or the env file cannot be read.
    """
    env_file = env_file_path(environ)
    from_file: dict[str, str] | None = None
    values = {}
    for name in ("RECORDS_URL", "RECORDS_TOKEN"):
        value = environ.get(name, "").strip()
        if not value:
            from_file = read_env_file(env_file) if from_file is None else from_file
            value = from_file.get(name, "").strip()
        if not value:
            raise SettingsError(
                f"{name} is not set and {env_file} has none: start the stack (make up) or set "
                "RECORDS_URL and RECORDS_TOKEN"
            )
        values[name] = value
    return RecordsSettings(base_url=base_url_of(values["RECORDS_URL"]), token=values["RECORDS_TOKEN"])
