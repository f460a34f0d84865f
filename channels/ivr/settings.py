"""The phone line's settings: read from credentials.yml, validated once, at start."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rasa.shared.exceptions import RasaException

DEFAULT_CONFIDENCE_THRESHOLD = 0.6
DEFAULT_TRANSFER_QUEUE = "aftersales"
# The platform sends a turn as soon as the caller stops speaking; five minutes of clock
# difference or queueing is far beyond that.
DEFAULT_MAX_CLOCK_SKEW_S = 300.0
# A bearer token: visible ASCII, long enough not to be guessed.
_TOKEN_PATTERN = re.compile(r"[\x21-\x7e]{32,256}")
_QUEUE_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")

# credentials.yml key -> the environment variable credentials.yml takes it from.
CREDENTIAL_VARIABLES = {
    "token": "IVR_TOKEN",
}


class IvrConfigError(RasaException):
    """The channel's settings are missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class IvrSettings:
    """The phone line's settings, validated on creation.

    Attributes:
        token: The bearer token the IVR platform sends (32-256 visible ASCII characters).
        confidence_threshold: Below this ASR confidence, digits heard are confirmed first.
        transfer_queue: The platform's human queue a transfer goes to.
        max_clock_skew_s: How far a turn's timestamp may be from now before it is refused.

    Raises:
        IvrConfigError: A value is missing or malformed; the message names its variable.
    """

    token: str = field(repr=False)
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD
    transfer_queue: str = DEFAULT_TRANSFER_QUEUE
    max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S

    def __post_init__(self) -> None:
        for name in CREDENTIAL_VARIABLES:
            if not getattr(self, name).strip():
                raise IvrConfigError(
                    f"IVR channel: {CREDENTIAL_VARIABLES[name]} is empty. `make run` generates "
                    f"local values in .stack/secrets.env; production takes the platform's own."
                )
        if not _TOKEN_PATTERN.fullmatch(self.token):
            raise IvrConfigError("IVR channel: IVR_TOKEN must be 32 to 256 visible ASCII characters.")
        if not 0 < self.confidence_threshold < 1:
            raise IvrConfigError("IVR channel: confidence_threshold must be between 0 and 1.")
        if not _QUEUE_PATTERN.fullmatch(self.transfer_queue):
            raise IvrConfigError("IVR channel: transfer_queue must be 1 to 64 letters, digits, _ . or -.")
        if not 0 < self.max_clock_skew_s <= 3600:
            raise IvrConfigError("IVR channel: max_clock_skew_seconds must be between 0 and 3600.")

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any]) -> IvrSettings:
        """The settings from the channel's section of credentials.yml.

        Raises:
            IvrConfigError: A key is missing or a value is malformed.
        """
        values: dict[str, str] = {}
        for name, variable in CREDENTIAL_VARIABLES.items():
            value = credentials.get(name)
            if value is None or not str(value).strip():
                raise IvrConfigError(
                    f"IVR channel: `{name}` is missing in credentials.yml or empty: set {variable}."
                )
            values[name] = str(value).strip()
        return cls(
            token=values["token"],
            confidence_threshold=_number(credentials, "confidence_threshold", DEFAULT_CONFIDENCE_THRESHOLD),
            transfer_queue=str(credentials.get("transfer_queue") or DEFAULT_TRANSFER_QUEUE).strip(),
            max_clock_skew_s=_number(credentials, "max_clock_skew_seconds", DEFAULT_MAX_CLOCK_SKEW_S),
        )


def _number(credentials: dict[str, Any], name: str, default: float) -> float:
    value = credentials.get(name)
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        raise IvrConfigError(f"IVR channel: {name} must be a number.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise IvrConfigError(f"IVR channel: {name} must be a number.") from None
