"""Reading settings from the environment, failing loudly when a secret is missing."""

from __future__ import annotations

import os


class MissingSettingError(RuntimeError):
    """A required setting (usually a secret) is not in the environment."""


def require_env(name: str, purpose: str) -> str:
    """Returns the value of a required environment variable.

    Args:
        name: The variable's name.
        purpose: What it is for, shown in the error so an operator knows what to set.

    Raises:
        MissingSettingError: The variable is unset or empty.
    """
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingSettingError(
            f"{name} is not set: it is {purpose}. Set it in the environment "
            f"(`make run` and `make up` generate local values in .stack/secrets.env)."
        )
    return value


def env_str(name: str, default: str) -> str:
    """Returns an optional environment variable, or `default` when unset or empty."""
    return os.environ.get(name, "").strip() or default


def env_int(name: str, default: int) -> int:
    """Returns an optional integer environment variable.

    Raises:
        MissingSettingError: The variable is set but is not an integer.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise MissingSettingError(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    """Returns an optional float environment variable.

    Raises:
        MissingSettingError: The variable is set but is not a number.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise MissingSettingError(f"{name} must be a number, got {raw!r}") from None
