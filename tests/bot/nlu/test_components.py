"""ChineseNormalizer and EntityOffsetRestorer with Rasa's own messages, tokenizer and extractor."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jieba
import pytest
import rasa.shared.utils.io
from rasa.engine import validation
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.recipes.recipe import Recipe
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.extractors.regex_entity_extractor import RegexEntityExtractor
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.shared.data import TrainingType
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.components import (
    NORMALIZATION_OFFSETS,
    NORMALIZED_TEXT,
    ORIGINAL_TEXT,
    ChineseNormalizer,
    DigitEntityGuard,
    EntityOffsetRestorer,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
CONFIG_PATH = REPO_ROOT / "config.yml"
NLU_DATA = REPO_ROOT / "bot" / "data" / "nlu"


def _pipeline_config(name: str) -> dict[str, Any]:
    """The options config.yml gives the pipeline component `name`."""
    config = rasa.shared.utils.io.read_model_configuration(str(CONFIG_PATH))
    (item,) = [dict(c) for c in config["pipeline"] if c["name"] == name]
    item.pop("name")
    return item


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test-model")


def _normalizer() -> ChineseNormalizer:
    return ChineseNormalizer.create({}, LocalModelStorage(Path(".")), Resource("n"), _context())


def _restorer() -> EntityOffsetRestorer:
    return EntityOffsetRestorer.create({}, LocalModelStorage(Path(".")), Resource("r"), _context())


@pytest.fixture(scope="module")
def nlu_data() -> TrainingData:
    return load_data(str(NLU_DATA), language="zh")


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> JiebaTokenizer:
    config = {**JiebaTokenizer.get_default_config(), **_pipeline_config("JiebaTokenizer")}
    config["dictionary_path"] = str(REPO_ROOT / config["dictionary_path"])
    storage = LocalModelStorage(tmp_path_factory.mktemp("jieba"))
    return JiebaTokenizer.create(config, storage, Resource("jieba"), _context())


@pytest.fixture(scope="module")
def extractor(tmp_path_factory: pytest.TempPathFactory, nlu_data: TrainingData) -> RegexEntityExtractor:
    """RegexEntityExtractor as configured, trained on the project's data after normalisation."""
    config = {**RegexEntityExtractor.get_default_config(), **_pipeline_config("RegexEntityExtractor")}
    storage = LocalModelStorage(tmp_path_factory.mktemp("regex"))
    component = RegexEntityExtractor.create(config, storage, Resource("regex"), _context())
    component.train(_normalizer().process_training_data(load_data(str(NLU_DATA), language="zh")))
    return component


def _parse(text: str, tokenizer: JiebaTokenizer, extractor: RegexEntityExtractor) -> Message:
    """The pipeline's order: normaliser, tokenizer, extractor, restorer."""
    messages = [Message(data={TEXT: text})]
    for component in (_normalizer(), tokenizer, extractor, _restorer()):
        messages = component.process(messages)
    return messages[0]


def _entities(message: Message) -> list[tuple[str, str, int, int]]:
    return [(e["entity"], e["value"], e["start"], e["end"]) for e in message.get(ENTITIES, [])]


# --- ChineseNormalizer.process ------------------------------------------------------------


def test_process_replaces_the_text_and_keeps_the_original() -> None:
    (message,) = _normalizer().process([Message(data={TEXT: "订单号是八八零零零零二零零一"})])
    assert message.get(TEXT) == "订单号是8800002001"
    assert message.get(ORIGINAL_TEXT) == "订单号是八八零零零零二零零一"
    assert message.get(NORMALIZED_TEXT) == "订单号是8800002001"
    assert message.get(NORMALIZATION_OFFSETS)[4:6] == [[4, 5], [5, 6]]
    assert message.as_dict(only_output_properties=True) == {
        TEXT: "订单号是8800002001", NORMALIZED_TEXT: "订单号是8800002001",
    }


@pytest.mark.parametrize("text", ['/inform{"order_id": "八八零零零零二零零一"}', "/greet", ""])
def test_process_leaves_intent_triggers_and_empty_text(text: str) -> None:
    (message,) = _normalizer().process([Message(data={TEXT: text})])
    assert message.get(TEXT) == text
    assert message.get(ORIGINAL_TEXT) is None


def test_process_leaves_messages_without_text() -> None:
    (message,) = _normalizer().process([Message(data={"action_name": "utter_greet"})])
    assert message.data == {"action_name": "utter_greet"}


# --- ChineseNormalizer.process_training_data ------------------------------------------------


def test_training_entities_move_onto_the_normalised_text() -> None:
    examples = [
        Message.build("嗯，订单号是八八零零零零二零零一", intent="inform", entities=[
            {"start": 6, "end": 16, "value": "八八零零零零二零零一", "entity": "order_id"},
        ]),
        Message.build("那个，我我要投诉快递员，赔我两百九十九元", intent="file_complaint", entities=[
            {"start": 8, "end": 11, "value": "logistics", "entity": "complaint_category"},
            {"start": 14, "end": 20, "value": "两百九十九元", "entity": "amount"},
        ]),
        Message.build("訂單號8800002003", intent="inform", entities=[
            {"start": 3, "end": 13, "value": "8800002003", "entity": "order_id"},
        ]),
    ]
    data = _normalizer().process_training_data(TrainingData(training_examples=examples))
    got = [(m.get(TEXT), m.get(ENTITIES)) for m in data.training_examples]
    assert got == [
        ("订单号是8800002001",
         [{"start": 4, "end": 14, "value": "8800002001", "entity": "order_id"}]),
        ("我要投诉快递员,赔我299元",
         [{"start": 4, "end": 7, "value": "logistics", "entity": "complaint_category"},
          {"start": 10, "end": 14, "value": "299元", "entity": "amount"}]),
        ("订单号8800002003",
         [{"start": 3, "end": 13, "value": "8800002003", "entity": "order_id"}]),
    ]
    assert data.training_examples[0].get(ORIGINAL_TEXT) == "嗯，订单号是八八零零零零二零零一"


def test_training_entity_on_a_filler_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    example = Message.build("嗯，退货", intent="request_return", entities=[
        {"start": 0, "end": 1, "value": "嗯", "entity": "product"},
    ])
    with caplog.at_level(logging.WARNING):
        _normalizer().process_training_data(TrainingData(training_examples=[example]))
    assert (example.get(TEXT), example.get(ENTITIES)) == ("退货", [])
    assert "gone after normalisation" in caplog.text


def test_synonyms_are_also_known_by_their_normalised_surface() -> None:
    data = TrainingData(entity_synonyms={
        "快遞員": "logistics", "ＡＰＰ闪退": "system_failure", "八八零零零零二零零一": "8800002001",
    })
    _normalizer().process_training_data(data)
    assert data.entity_synonyms == {
        "快遞員": "logistics", "快递员": "logistics",
        "ＡＰＰ闪退": "system_failure", "APP闪退": "system_failure",
        "八八零零零零二零零一": "8800002001",
    }


@pytest.mark.slow  # every training example
def test_every_project_annotation_survives_normalisation(nlu_data: TrainingData) -> None:
    data = load_data(str(NLU_DATA), language="zh")
    before = {id(m): (m.get(TEXT), list(m.get(ENTITIES) or [])) for m in data.training_examples}
    _normalizer().process_training_data(data)
    checked = 0
    for message in data.training_examples:
        original, entities = before[id(message)]
        moved = message.get(ENTITIES) or []
        assert len(moved) == len(entities), original
        for old, new in zip(entities, moved, strict=True):
            surface = message.get(TEXT)[new["start"]:new["end"]]
            assert surface, original
            if old["value"] == original[old["start"]:old["end"]]:
                assert new["value"] == surface, original
            else:
                assert new["value"] == old["value"], original
            checked += 1
    assert checked > 50


# --- The pipeline: normaliser, jieba, RegexEntityExtractor, restorer -------------------------


def test_spoken_order_number_keeps_its_original_span(
    tokenizer: JiebaTokenizer, extractor: RegexEntityExtractor
) -> None:
    text = "喂你好，我想查一下退款，订单号是八八零零零零二零零一"
    message = _parse(text, tokenizer, extractor)
    assert message.get(TEXT) == text
    assert message.get(NORMALIZED_TEXT) == "喂你好,我想查一下退款,订单号是8800002001"
    assert _entities(message) == [("order_id", "8800002001", 16, 26)]
    assert text[16:26] == "八八零零零零二零零一"
    tokens = message.get(TOKENS_NAMES[TEXT])
    assert [(t.text, t.start, t.end) for t in tokens[-3:]] == [
        ("订单号", 12, 15), ("是", 15, 16), ("8800002001", 16, 26),
    ]


def test_traditional_message_yields_the_order_number(
    tokenizer: JiebaTokenizer, extractor: RegexEntityExtractor
) -> None:
    text = "我想查詢退款進度，訂單號8800002003，手機尾號5555"
    message = _parse(text, tokenizer, extractor)
    assert message.get(TEXT) == text
    assert _entities(message) == [("order_id", "8800002003", 12, 22), ("phone_last4", "5555", 27, 31)]


def test_split_numbers_are_joined_and_point_at_the_whole_original(
    tokenizer: JiebaTokenizer, extractor: RegexEntityExtractor
) -> None:
    text = "嗯 订单号８８００ ００１０ ０１，电话138-0013-8000"
    message = _parse(text, tokenizer, extractor)
    assert message.get(NORMALIZED_TEXT) == "订单号8800001001,电话13800138000"
    assert _entities(message) == [
        ("order_id", "8800001001", 5, 17), ("phone_number", "13800138000", 20, 33),
    ]
    assert (text[5:17], text[20:33]) == ("８８００ ００１０ ０１", "138-0013-8000")


def test_as_dict_carries_the_original_text(tokenizer: JiebaTokenizer, extractor: RegexEntityExtractor) -> None:
    message = _parse("手机尾号八零零零，订单号八八零零零零二零零一", tokenizer, extractor)
    parse_data = message.as_dict(only_output_properties=True)
    assert parse_data[TEXT] == "手机尾号八零零零，订单号八八零零零零二零零一"
    assert parse_data[NORMALIZED_TEXT] == "手机尾号8000,订单号8800002001"
    assert [(e["entity"], e["value"], e["start"], e["end"]) for e in parse_data[ENTITIES]] == [
        ("order_id", "8800002001", 12, 22),
        ("phone_last4", "8000", 4, 8),
    ]


# --- EntityOffsetRestorer on its own ---------------------------------------------------------


def test_restorer_maps_entities_from_any_extractor() -> None:
    (message,) = _normalizer().process([Message(data={TEXT: "嗯，我付了两百九十九元"})])
    message.set(ENTITIES, [{"entity": "amount", "value": "299元", "start": 3, "end": 7,
                            "extractor": "DIETClassifier", "confidence_entity": 0.99}])
    (message,) = _restorer().process([message])
    assert message.get(TEXT) == "嗯，我付了两百九十九元"
    assert message.get(ENTITIES) == [{"entity": "amount", "value": "299元", "start": 5, "end": 11,
                                      "extractor": "DIETClassifier", "confidence_entity": 0.99}]


def test_restorer_leaves_a_message_it_did_not_normalise() -> None:
    entities = [{"entity": "order_id", "value": "8800002001", "start": 8, "end": 18}]
    message = Message(data={TEXT: '/inform{"order_id": "8800002001"}', ENTITIES: entities})
    (message,) = _restorer().process([message])
    assert message.get(ENTITIES) == entities
    assert message.get(TEXT) == '/inform{"order_id": "8800002001"}'


def test_restorer_runs_once() -> None:
    (message,) = _normalizer().process([Message(data={TEXT: "嗯，我付了两百九十九元"})])
    message.set(ENTITIES, [{"entity": "amount", "value": "299元", "start": 3, "end": 7}])
    restorer = _restorer()
    restorer.process([message])
    restorer.process([message])
    assert message.get(ENTITIES) == [{"entity": "amount", "value": "299元", "start": 5, "end": 11}]


def test_restorer_leaves_an_entity_outside_the_text() -> None:
    (message,) = _normalizer().process([Message(data={TEXT: "嗯，退款"})])
    message.set(ENTITIES, [{"entity": "amount", "value": "x", "start": 1, "end": 9}])
    (message,) = _restorer().process([message])
    assert message.get(ENTITIES) == [{"entity": "amount", "value": "x", "start": 1, "end": 9}]
    assert message.get(TEXT) == "嗯，退款"


# --- Registration: config.yml builds a valid graph with both components ------------------------


def test_config_builds_a_valid_graph() -> None:
    config = rasa.shared.utils.io.read_model_configuration(str(CONFIG_PATH))
    recipe = Recipe.recipe_for_name(config.get("recipe"))
    model_configuration = recipe.graph_config_for_recipe(config, {}, training_type=TrainingType.NLU)
    validation.validate(model_configuration)
    train = model_configuration.train_schema.nodes
    predict = model_configuration.predict_schema.nodes
    normalizer = "run_bot.nlu.components.ChineseNormalizer0"
    assert train[normalizer].fn == "process_training_data"
    assert train["run_JiebaTokenizer1"].needs["training_data"] == normalizer
    assert predict["run_JiebaTokenizer1"].needs == {"messages": normalizer}
    # The linear ensemble averages DIET's ranking: it runs right after DIET.
    assert predict["run_bot.nlu.ensemble.LinearIntentEnsemble7"].needs["messages"] == "run_DIETClassifier6"
    guard = "run_bot.nlu.components.DigitEntityGuard10"
    assert predict[guard].needs == {"messages": "run_EntitySynonymMapper9"}
    restorer = "run_bot.nlu.components.EntityOffsetRestorer11"
    assert predict[restorer].needs == {"messages": guard}
    assert predict["run_FallbackClassifier12"].needs == {"messages": restorer}


# --- The jieba user dictionary, loaded from the path config.yml names ---------------------------


@pytest.fixture(scope="module")
def jieba_cut(tokenizer: JiebaTokenizer) -> Any:
    # JiebaTokenizer.create loaded the dictionary into jieba's default tokenizer.
    return lambda text: list(jieba.cut(text))


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("现在还能七天无理由退吗", "七天无理由"),
        ("现在还能7天无理由退货吗", "7天无理由"),
        ("我要仅退款", "仅退款"),
        ("申请退货退款", "退货退款"),
        ("有运费险吗", "运费险"),
        ("帮我转人工客服", "人工客服"),
        ("转人工", "转人工"),
        ("已经签收了", "签收"),
        ("吊牌还在", "吊牌"),
        ("价保怎么申请", "价保"),
        ("退款进度查一下", "退款进度"),
        ("钱什么时候到账", "到账"),
        ("有质量问题", "质量问题"),
        ("能补发吗", "补发"),
        ("我想换货", "换货"),
        ("开个发票", "发票"),
        ("激活码用不了", "激活码"),
        ("车厘子坏了", "车厘子"),
        ("刻字保温杯", "保温杯"),
    ],
)
def test_domain_words_are_single_tokens(jieba_cut: Any, text: str, word: str) -> None:
    assert word in jieba_cut(text)


def test_entity_surfaces_align_with_token_boundaries(jieba_cut: Any, nlu_data: TrainingData) -> None:
    """Every product and complaint-category surface starts and ends on a token boundary."""
    products = next(t["elements"] for t in nlu_data.lookup_tables if t["name"] == "product")
    in_context = [(p, (f"我买的{p}坏了", f"{p}不想要了", p)) for p in products]
    in_context += [(s, (f"投诉{s}", f"{s},我要投诉", s)) for s in nlu_data.entity_synonyms]
    misaligned = []
    for surface, texts in in_context:
        for text in texts:
            start = text.index(surface)
            boundaries = {0}
            for token in jieba_cut(text):
                boundaries.add(max(boundaries) + len(token))
            if start not in boundaries or start + len(surface) not in boundaries:
                misaligned.append((text, jieba_cut(text)))
    assert misaligned == []


@pytest.mark.slow  # every training example
def test_every_project_annotation_aligns_with_tokens(tokenizer: JiebaTokenizer) -> None:
    """DIET learns only entities that start and end on token boundaries (Rasa warns otherwise)."""
    data = tokenizer.process_training_data(
        _normalizer().process_training_data(load_data(str(NLU_DATA), language="zh"))
    )
    misaligned = []
    for message in data.training_examples:
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        starts, ends = {t.start for t in tokens}, {t.end for t in tokens}
        for entity in message.get(ENTITIES) or []:
            if entity["start"] not in starts or entity["end"] not in ends:
                misaligned.append((message.get(TEXT), entity["start"], entity["end"], [t.text for t in tokens]))
    assert misaligned == []


def _guard() -> DigitEntityGuard:
    return DigitEntityGuard.create({}, LocalModelStorage(Path(".")), Resource("g"), _context())


def _entity(name: str, value: str, start: int, end: int, extractor: str) -> dict[str, Any]:
    return {"entity": name, "value": value, "start": start, "end": end, "extractor": extractor}


def test_guard_drops_a_learned_order_number_of_an_impossible_shape() -> None:
    message = Message(data={TEXT: "帮我写篇800字作文"})
    message.set(ENTITIES, [_entity("order_id", "800", 4, 7, "DIETClassifier")])
    (guarded,) = _guard().process([message])
    assert guarded.get(ENTITIES) == []


def test_guard_keeps_well_shaped_digit_entities_split_by_spaces_or_dashes() -> None:
    entities = [
        _entity("order_id", "8800-0020 03", 2, 14, "DIETClassifier"),
        _entity("phone_number", "138 0013 8000", 15, 28, "RegexEntityExtractor"),
        _entity("phone_last4", "5555", 31, 35, "DIETClassifier"),
    ]
    message = Message(data={TEXT: "x"})
    message.set(ENTITIES, entities)
    (guarded,) = _guard().process([message])
    assert guarded.get(ENTITIES) == entities


def test_guard_lets_a_regex_entity_win_over_a_learned_one_of_another_type() -> None:
    phone = _entity("phone_number", "13611112233", 3, 14, "RegexEntityExtractor")
    learned_phone = _entity("phone_number", "13611112233", 3, 14, "DIETClassifier")
    amount_over_phone = _entity("amount", "13611112233", 3, 14, "DIETClassifier")
    amount_elsewhere = _entity("amount", "99元", 16, 19, "DIETClassifier")
    message = Message(data={TEXT: "x"})
    message.set(ENTITIES, [amount_over_phone, phone, learned_phone, amount_elsewhere])
    (guarded,) = _guard().process([message])
    assert guarded.get(ENTITIES) == [phone, learned_phone, amount_elsewhere]


def test_guard_comes_after_the_extractors_and_before_offsets_are_restored() -> None:
    config = rasa.shared.utils.io.read_model_configuration(str(CONFIG_PATH))
    names = [c["name"] for c in config["pipeline"]]
    guard = names.index("bot.nlu.components.DigitEntityGuard")
    assert names.index("RegexEntityExtractor") < guard
    assert names.index("DIETClassifier") < guard
    assert guard < names.index("bot.nlu.components.EntityOffsetRestorer")
