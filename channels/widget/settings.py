"""The web widget channel's settings: read from credentials.yml, validated once, at start."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rasa.shared.exceptions import RasaException

# HS256 keys shorter than the hash (32 bytes) weaken the signature (RFC 7518 §3.2).
MIN_SECRET_CHARS = 32
# scheme://host[:port], as browsers send it in the Origin header: no path, no trailing slash.
_ORIGIN_PATTERN = re.compile(r"https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?", re.IGNORECASE)
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", ""}

# credentials.yml key -> the environment variable credentials.yml takes it from.
CREDENTIAL_VARIABLES = {
    "secret": "WIDGET_SECRET",
    "allowed_origins": "WIDGET_ALLOWED_ORIGINS",
    "demo_page": "WIDGET_DEMO_PAGE",
}


class WidgetConfigError(RasaException):
    """The channel's settings are missing or malformed; the message names the variable."""


def parse_origins(value: str) -> tuple[str, ...]:
    """The origins of a comma- or space-separated list, lower-cased, duplicates removed.

    Raises:
        WidgetConfigError: The list is empty, or an entry is not `http(s)://host[:port]`.
    """
    origins: list[str] = []
    for entry in re.split(r"[,\s]+", value.strip()):
        if not entry:
            continue
        if entry == "*":
            raise WidgetConfigError(
                "Web widget: WIDGET_ALLOWED_ORIGINS must list the shop's origins; `*` is not allowed."
            )
        if not _ORIGIN_PATTERN.fullmatch(entry):
            raise WidgetConfigError(
                f"Web widget: WIDGET_ALLOWED_ORIGINS entry {entry!r} is not an origin "
                f"(http(s)://host[:port], no path)."
            )
        origin = entry.lower()
        if origin not in origins:
            origins.append(origin)
    if not origins:
        raise WidgetConfigError("Web widget: WIDGET_ALLOWED_ORIGINS lists no origin.")
    return tuple(origins)


def parse_flag(value: Any, variable: str) -> bool:
    """A yes/no setting: true/false, yes/no, on/off, 1/0 (empty is false).

    Raises:
        WidgetConfigError: Anything else; the message names `variable`.
    """
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise WidgetConfigError(f"Web widget: {variable} must be true or false, not {value!r}.")


@dataclass(frozen=True)
class WidgetSettings:
    """The widget channel's settings, validated on creation.

    Attributes:
        secret: Shared with the shop's backend, which signs shopper tokens with it
            (JWT HS256); the channel's session tokens use a key derived from it.
        allowed_origins: The origins of the shop pages that may connect.
        demo_page: Whether `/webhooks/widget/demo` serves the demo shop page, with a
            demo login that signs shopper tokens itself (never in production).

    Raises:
        WidgetConfigError: A value is missing or malformed; the message names its variable.
    """

    secret: str = field(repr=False)
    allowed_origins: tuple[str, ...]
    demo_page: bool = False

    def __post_init__(self) -> None:
        if len(self.secret.strip()) < MIN_SECRET_CHARS or self.secret != self.secret.strip():
            raise WidgetConfigError(
                f"Web widget: WIDGET_SECRET must be at least {MIN_SECRET_CHARS} characters without "
                f"surrounding spaces. `make run` generates a local value in .stack/secrets.env; "
                f"production shares one with the shop's backend."
            )
        if not self.allowed_origins:
            raise WidgetConfigError("Web widget: WIDGET_ALLOWED_ORIGINS lists no origin.")

    def origin_allowed(self, origin: str) -> bool:
        """Whether a page of `origin` (an Origin header's value) may connect."""
        return origin.strip().lower() in self.allowed_origins

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any]) -> WidgetSettings:
        """The settings from the channel's section of credentials.yml.

        Raises:
            WidgetConfigError: A key is missing or a value is malformed.
        """
        for name in ("secret", "allowed_origins"):
            value = credentials.get(name)
            if value is None or not str(value).strip():
                raise WidgetConfigError(
                    f"Web widget: `{name}` is missing in credentials.yml or empty: "
                    f"set {CREDENTIAL_VARIABLES[name]}."
                )
        return cls(
            secret=str(credentials["secret"]),
            allowed_origins=parse_origins(str(credentials["allowed_origins"])),
            demo_page=parse_flag(credentials.get("demo_page"), CREDENTIAL_VARIABLES["demo_page"]),
        )
