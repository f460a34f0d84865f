"""What a channel says by itself, without a bot turn, worded in domain.yml.

A channel answers some messages on its own (an image, a sticker, a low-confidence speech
transcript to confirm, a bot that is down). Those texts are responses in domain.yml named
`utter_channel_*`, like every other text a shopper reads, and are read from the project's
domain file when the channel starts: a missing one stops Rasa at start, naming it.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from rasa.shared.exceptions import RasaException

DOMAIN_PATH = Path(__file__).resolve().parents[2] / "domain.yml"


class ChannelTextsError(RasaException):
    """A channel text is missing from domain.yml or has an unknown placeholder."""


class ChannelTexts:
    """The `utter_channel_*` responses of the domain, one text each.

    Attributes:
        texts: Response name -> its (first) text.
    """

    def __init__(self, texts: Mapping[str, str]) -> None:
        self.texts = dict(texts)

    @classmethod
    def load(cls, required: Iterable[str], domain_path: Path = DOMAIN_PATH) -> ChannelTexts:
        """The channel texts of `domain_path`.

        Args:
            required: The response names the caller will use; each must exist.
            domain_path: The domain file.

        Raises:
            ChannelTextsError: The file cannot be read or a required response is missing.
        """
        try:
            domain = yaml.safe_load(domain_path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ChannelTextsError(f"channel texts: cannot read {domain_path} ({error})") from None
        responses = domain.get("responses") or {}
        texts: dict[str, str] = {}
        for name, variants in responses.items():
            if not str(name).startswith("utter_channel_") or not variants:
                continue
            first = variants[0]
            if isinstance(first, dict) and isinstance(first.get("text"), str):
                texts[str(name)] = first["text"]
        missing = sorted(set(required) - set(texts))
        if missing:
            raise ChannelTextsError(f"channel texts: domain.yml has no response {', '.join(missing)}")
        return cls(texts)

    def __call__(self, name: str, **values: Any) -> str:
        """The text of response `name` with its `{placeholders}` filled from `values`.

        Raises:
            ChannelTextsError: No such response, or a placeholder without a value.
        """
        try:
            template = self.texts[name]
        except KeyError:
            raise ChannelTextsError(f"channel texts: no response {name}") from None
        try:
            return string.Formatter().vformat(template, (), values)
        except (KeyError, IndexError) as error:
            raise ChannelTextsError(f"channel texts: {name} needs a value for {error}") from None
