"""Rasa 3.6 graph components around the NLU pipeline: normalise first, point entities back last.

`ChineseNormalizer` runs before the tokenizer: the tokenizer, featurizers, classifiers and
extractors all see the normalised text (simplified, half-width, Arabic digits, no
fillers). `EntityOffsetRestorer` runs after the extractors: entity spans and tokens point
into what the shopper wrote again and the message text is the original, so the tracker,
`rasa test` and the actions see the shopper's own words, while entity values stay
normalised ("八八零零零零二零零一" gives order_id "8800002001" at the span of the spoken digits).
"""

from __future__ import annotations

import logging
import re
from typing import Any, TypeVar

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.normalize import NormalizedText, normalize

logger = logging.getLogger(__name__)

# Message data written by ChineseNormalizer and read by EntityOffsetRestorer.
ORIGINAL_TEXT = "original_text"
NORMALIZED_TEXT = "normalized_text"
NORMALIZATION_OFFSETS = "normalization_offsets"
# "/intent{...}" messages are Rasa's own syntax (buttons, tests): never rewritten.
_INTENT_TRIGGER_PREFIX = "/"


def _normalizable(message: Message) -> str | None:
    text = message.get(TEXT)
    if not isinstance(text, str) or not text or text.startswith(_INTENT_TRIGGER_PREFIX):
        return None
    return text


def _normalization_of(message: Message) -> NormalizedText | None:
    original = message.get(ORIGINAL_TEXT)
    offsets = message.get(NORMALIZATION_OFFSETS)
    normalized = message.get(NORMALIZED_TEXT)
    if not isinstance(original, str) or not isinstance(normalized, str) or offsets is None:
        return None
    return NormalizedText.from_offsets(normalized, original, offsets)


_Component = TypeVar("_Component", bound="StatelessComponent")


class StatelessComponent(GraphComponent):
    """A graph component with no options and nothing trained: made as is for every graph.

    Not registered with a recipe itself, so it never appears in a pipeline.
    """

    @classmethod
    def create(
        cls: type[_Component],
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> _Component:
        """Creates the component (it has no configuration and no state)."""
        return cls()

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """No options."""
        return {}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class ChineseNormalizer(StatelessComponent):
    """Replaces the message text with its normalisation (see `bot.nlu.normalize`).

    Registered as a MESSAGE_TOKENIZER so that the default recipe runs it in the
    training chain (`process_training_data`) and the prediction chain (`process`), in
    pipeline order, before JiebaTokenizer. It is not a `Tokenizer` subclass, so Rasa's
    one-tokenizer check does not count it.
    """

    @staticmethod
    def supported_languages() -> list[str] | None:
        """Chinese only."""
        return ["zh"]

    @staticmethod
    def required_packages() -> list[str]:
        """OpenCC (traditional to simplified) and cn2an (numerals)."""
        return ["opencc", "cn2an"]

    def process(self, messages: list[Message]) -> list[Message]:
        """Normalises the text of incoming messages, keeping the original and the offset map."""
        for message in messages:
            self._normalize_message(message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Normalises training examples and moves their entity annotations onto the new text.

        An annotation whose value is its own surface text takes the normalised surface as
        value ([八八零零零零二零零一](order_id) -> "8800002001"), so EntitySynonymMapper does not
        learn the spoken form as a synonym; an explicit value (a synonym) is kept. Synonym
        surfaces are added in their normalised form too (快遞員 -> 快递员).
        """
        for example in training_data.training_examples:
            normalization = self._normalize_message(example)
            if normalization is not None and example.get(ENTITIES):
                example.set(ENTITIES, self._entities_onto_normalized(example.get(ENTITIES), normalization))
        for surface, value in list(training_data.entity_synonyms.items()):
            normalized_surface = normalize(surface).text
            if normalized_surface not in (surface, value):  # 八八零零... -> 8800002001 needs none
                training_data.entity_synonyms.setdefault(normalized_surface, value)
        return training_data

    @staticmethod
    def _normalize_message(message: Message) -> NormalizedText | None:
        text = _normalizable(message)
        if text is None:
            return None
        normalization = normalize(text)
        message.set(ORIGINAL_TEXT, text)
        message.set(NORMALIZED_TEXT, normalization.text, add_to_output=True)
        message.set(NORMALIZATION_OFFSETS, normalization.offsets())
        message.set(TEXT, normalization.text)
        return normalization

    @staticmethod
    def _entities_onto_normalized(
        entities: list[dict[str, Any]], normalization: NormalizedText
    ) -> list[dict[str, Any]]:
        moved = []
        for entity in entities:
            start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
            if start is None or end is None:
                moved.append(entity)
                continue
            span = normalization.normalized_span(start, end)
            if span is None:
                logger.warning(
                    "Entity '%s' at %d-%d of a training example is gone after normalisation; dropped.",
                    entity.get("entity"), start, end,
                )
                continue
            surface = normalization.original[start:end]
            new_entity = {**entity, ENTITY_ATTRIBUTE_START: span[0], ENTITY_ATTRIBUTE_END: span[1]}
            if entity.get(ENTITY_ATTRIBUTE_VALUE) == surface:
                new_entity[ENTITY_ATTRIBUTE_VALUE] = normalization.text[span[0]:span[1]]
            moved.append(new_entity)
        return moved


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class EntityOffsetRestorer(StatelessComponent):
    """Points entities and tokens back into the original text and restores the message text.

    Goes after every extractor (and EntitySynonymMapper). Entity values are not touched:
    they stay normalised (Arabic digits, simplified characters), which is what the
    actions want. Tokens are remapped too, because `rasa test` aligns entities to tokens
    by offsets. The normalised text stays available as `normalized_text`.
    """

    def process(self, messages: list[Message]) -> list[Message]:
        """Restores original offsets and text on messages that ChineseNormalizer changed."""
        for message in messages:
            normalization = _normalization_of(message)
            if normalization is None or message.get(TEXT) != normalization.text:
                continue  # not normalised here (an intent trigger), or already restored
            entities = message.get(ENTITIES) or []
            message.set(ENTITIES, [self._restored_entity(e, normalization) for e in entities],
                        add_to_output=True)
            tokens = message.get(TOKENS_NAMES[TEXT])
            if tokens:
                message.set(TOKENS_NAMES[TEXT], [self._restored_token(t, normalization) for t in tokens])
            message.set(TEXT, normalization.original)
        return messages

    @staticmethod
    def _restored_entity(entity: dict[str, Any], normalization: NormalizedText) -> dict[str, Any]:
        start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
        if not isinstance(start, int) or not isinstance(end, int):
            return entity
        try:
            original_start, original_end = normalization.original_span(start, end)
        except ValueError:
            logger.warning("Entity '%s' has a span %d-%d outside the text; left as is.",
                           entity.get("entity"), start, end)
            return entity
        return {**entity, ENTITY_ATTRIBUTE_START: original_start, ENTITY_ATTRIBUTE_END: original_end}

    @staticmethod
    def _restored_token(token: Token, normalization: NormalizedText) -> Token:
        try:
            start, end = normalization.original_span(token.start, token.end)
        except ValueError:
            return token
        # The token keeps its normalised text: that is what its features describe.
        return Token(token.text, start, end, data=token.data, lemma=token.lemma)


# What a digit entity must look like once spaces and dashes are gone. DIET may guess an
# order number in "八百字作文" (800); the regexes in entities.yml never would.
DIGIT_ENTITY_SHAPES = {
    "order_id": re.compile(r"\d{10}"),
    "phone_number": re.compile(r"1[3-9]\d{9}"),
    "phone_last4": re.compile(r"\d{4}"),
}
REGEX_EXTRACTOR = "RegexEntityExtractor"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class DigitEntityGuard(StatelessComponent):
    """Lets the regexes have the last word on digits: order numbers, phones, amounts.

    Goes after the extractors, before `EntityOffsetRestorer`. Drops a digit entity whose
    value has an impossible shape (an order number of three digits), and a learned entity
    that overlaps a regex entity of another type (DIET calling a mobile number an amount).
    """

    def process(self, messages: list[Message]) -> list[Message]:
        """Removes the entities that the regexes contradict."""
        for message in messages:
            entities = message.get(ENTITIES) or []
            kept = guarded_entities(entities)
            if len(kept) != len(entities):
                message.set(ENTITIES, kept, add_to_output=True)
        return messages


def guarded_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entities that survive `DigitEntityGuard`'s two checks, in their order."""
    regex_spans = [
        (e["entity"], e[ENTITY_ATTRIBUTE_START], e[ENTITY_ATTRIBUTE_END])
        for e in entities
        if e.get("extractor") == REGEX_EXTRACTOR and isinstance(e.get(ENTITY_ATTRIBUTE_START), int)
    ]

    def contradicted(entity: dict[str, Any]) -> bool:
        shape = DIGIT_ENTITY_SHAPES.get(entity.get("entity", ""))
        if shape is not None:
            digits = re.sub(r"[\s-]", "", str(entity.get(ENTITY_ATTRIBUTE_VALUE, "")))
            if not shape.fullmatch(digits):
                return True
        if entity.get("extractor") == REGEX_EXTRACTOR:
            return False
        start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
        if not isinstance(start, int) or not isinstance(end, int):
            return False
        return any(
            name != entity.get("entity") and start < regex_end and regex_start < end
            for name, regex_start, regex_end in regex_spans
        )

    return [e for e in entities if not contradicted(e)]
