"""bot.nlu.normalize: what is normalised, what is left alone, and the map back to the original."""

from __future__ import annotations

import pytest

from bot.nlu.normalize import NormalizedText, normalize

CASES: list[tuple[str, str]] = [
    # The acceptance scenarios' inputs.
    ("订单号是八八零零零零二零零一", "订单号是8800002001"),
    ("八八零零零零二零零一", "8800002001"),
    ("手机尾号八零零零", "手机尾号8000"),
    ("八零零零", "8000"),
    ("我想查詢退款進度，訂單號8800002003，手機尾號5555", "我想查询退款进度,订单号8800002003,手机尾号5555"),
    ("喂你好，我想查一下退款，订单号是八八零零零零二零零一", "喂你好,我想查一下退款,订单号是8800002001"),
    ("平板用了两天就黑屏，我要求三倍赔偿，不然我就去12315投诉你们",
     "平板用了2天就黑屏,我要求3倍赔偿,不然我就去12315投诉你们"),
    ("鞋子收到十天了，一直没穿，现在还能七天无理由退吗", "鞋子收到10天了,一直没穿,现在还能7天无理由退吗"),
    ("前几天买的T恤不太合适，不想要了，可以退吗", "前几天买的T恤不太合适,不想要了,可以退吗"),
    ("口红颜色不喜欢，打开试了一下，想退", "口红颜色不喜欢,打开试了一下,想退"),
    ("没穿过，吊牌都还在", "没穿过,吊牌都还在"),
    ("转人工", "转人工"),
    # Spoken digits: 幺, 洞, 两 inside a run; mixed with Arabic digits.
    ("幺三八零零一三八零零零", "13800138000"),
    ("幺三八", "138"),
    ("八八洞洞洞洞二洞洞幺", "8800002001"),
    ("尾号五五两两", "尾号5522"),
    ("88零零零零2001", "8800002001"),
    ("二零二四年三月十五号买的", "2024年3月15号买的"),
    # Runs split by spaces or dashes, joined when they have a number's shape.
    ("8800 0010 01", "8800001001"),
    ("8800-001-001", "8800001001"),
    ("138-0013-8000", "13800138000"),
    ("138 0013 8000", "13800138000"),
    # A pasted order card's time is not an order number (2026-11-18 20 has ten digits).
    ("下单时间:2026-11-18 20:31:02", "下单时间:2026-11-18 20:31:02"),
    ("下单时间 2026-11-18 20:31 订单号 8800 0123 45", "下单时间 2026-11-18 20:31 订单号 8800012345"),
    ("八八零零 零零二零 零一", "8800002001"),
    ("尾号 8 0 0 0", "尾号 8000"),
    ("尾号八 零 零 零", "尾号8000"),
    ("八零零零 八八零零零零二零零一", "8000 8800002001"),  # a suffix and an order number
    ("8800002001 8000", "8800002001 8000"),
    ("2024-11-03", "2024-11-03"),
    ("3-5天", "3-5天"),
    # Numerals with magnitudes, and quantities before units.
    ("我付了两百九十九元", "我付了299元"),
    ("赔我一千块", "赔我1000块"),
    ("便宜了五十块", "便宜了50块"),
    ("今天降了两百", "今天降了200"),
    ("一百多块", "100多块"),
    ("四百五十九元", "459元"),
    ("一万二", "12000"),
    ("九十九点九元", "99.9元"),
    ("3千块", "3000块"),
    ("1.5万", "15000"),
    ("十多天了", "10多天了"),
    ("一个多月了", "1个多月了"),
    ("三个月", "3个月"),
    ("十分钟", "10分钟"),
    ("打八折", "打8折"),
    ("第二天就降价了", "第2天就降价了"),
    ("一周了还没到", "1周了还没到"),
    ("想换大一号", "想换大一号"),  # a size step, not a date
    ("十一月三号下单", "11月3号下单"),
    # Words made of digit characters stay words.
    ("一下一直一起一样一点一定一般", "一下一直一起一样一点一定一般"),
    ("万一坏了怎么办", "万一坏了怎么办"),
    ("一模一样", "一模一样"),
    ("不一样", "不一样"),
    ("第一次买", "第一次买"),
    ("两三天", "两三天"),
    ("七八个", "七八个"),
    ("三三两两", "三三两两"),
    ("十分满意", "十分满意"),
    ("千万别退", "千万别退"),
    ("百分之百正品", "百分之百正品"),
    ("一五一十说清楚", "一五一十说清楚"),
    ("我们一块儿去", "我们一块儿去"),
    ("零食", "零食"),
    ("洞洞鞋破了个洞", "洞洞鞋破了个洞"),
    ("双十一买的", "双十一买的"),
    ("星期一到", "星期一到"),
    # Full-width to half-width; invisible characters out.
    ("８８００００１００１", "8800001001"),
    ("ＡＰＰ闪退？！", "APP闪退?!"),
    ("（急）退款", "(急)退款"),
    ("退款\u3000进度", "退款进度"),
    ("88000\u200b01001", "8800001001"),
    ("。、…", "。、…"),
    # Traditional to simplified.
    ("這個訂單的發票", "这个订单的发票"),
    ("乾淨的衣服", "干净的衣服"),
    ("萬一壞了怎麼辦", "万一坏了怎么办"),
    ("万一坏了怎么办", "万一坏了怎么办"),  # t2s alone gives 万一坯了: simplified stays as it is
    ("東西壞了", "东西坏了"),
    # Fillers.
    ("嗯，那个，我我我想退退款", "我想退款"),
    ("嗯我想退货", "我想退货"),
    ("呃呃，退款呢", "退款呢"),
    ("订单号是嗯八八零零零零二零零一", "订单号是8800002001"),
    ("八八零零呃零零二零零一", "8800002001"),
    ("啊，我的快递丢了", "我的快递丢了"),
    ("哦哦好的", "好的"),
    ("额，我想问一下", "我想问一下"),
    ("emmm 退货", "退货"),
    ("那个，我想问一下", "我想问一下"),
    ("那个我想问一下", "我想问一下"),
    ("那个那个订单", "那个订单"),
    ("就是说我买的东西坏了", "我买的东西坏了"),
    ("就是，衣服小了", "衣服小了"),
    ("然后呢，快递一直没到", "快递一直没到"),
    ("嗯嗯", "嗯嗯"),  # an answer, not noise
    ("嗯。", "嗯。"),
    ("那个保温杯能退吗", "那个保温杯能退吗"),  # "that one"
    ("我要那个，不要这个", "我要那个,不要这个"),
    ("那个，能退吗", "那个,能退吗"),
    ("额度不够", "额度不够"),
    ("额外的运费谁出", "额外的运费谁出"),
    ("也就是说不能退", "也就是说不能退"),
    ("对，就是。", "对,就是。"),
    ("然后呢？", "然后呢?"),
    ("好啊", "好啊"),
    # Repetitions.
    ("我我想退货", "我想退货"),
    ("退退款", "退款"),
    ("我要要回我的钱", "我要要回我的钱"),  # 要 + 要回, not a stutter
    ("不不不", "不"),
    ("对对对", "对"),
    ("谢谢谢谢", "谢谢"),
    ("谢谢谢谢谢谢", "谢谢"),
    ("哈哈哈哈哈", "哈哈"),
    ("退款退款退款", "退款"),
    ("看看", "看看"),
    ("谢谢", "谢谢"),
    ("刚刚收到", "刚刚收到"),
    ("常常这样", "常常这样"),
    ("帮我查查", "帮我查查"),
    ("清清楚楚", "清清楚楚"),
    ("考虑考虑", "考虑考虑"),
    ("？？？", "?"),
    ("退款呢！！！", "退款呢!"),
    ("😭😭😭退款呢", "😭退款呢"),
    ("❤️❤️谢谢", "❤谢谢"),
    ("好的👍", "好的👍"),
    # Whitespace.
    ("我 想 退 货", "我想退货"),
    ("想 return 一下", "想 return 一下"),
    ("  前后空格  ", "前后空格"),
    ("退款\n\n进度", "退款进度"),
    ("订单 8800002001", "订单 8800002001"),
    ("", ""),
    ("   ", ""),
    ("/inform", "/inform"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_normalize_text(text: str, expected: str) -> None:
    assert normalize(text).text == expected


@pytest.mark.parametrize("text", [text for text, _ in CASES])
def test_offset_map_is_consistent(text: str) -> None:
    result = normalize(text)
    assert result.original == text
    assert len(result.starts) == len(result.ends) == len(result.text)
    for start, end in zip(result.starts, result.ends, strict=True):
        assert 0 <= start < end <= len(text)
    assert list(result.starts) == sorted(result.starts)
    assert list(result.ends) == sorted(result.ends)


@pytest.mark.parametrize("text", [text for text, expected in CASES if text != expected])
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text).text
    assert normalize(once).text == once


@pytest.mark.parametrize(
    ("text", "span", "original_span"),
    [
        ("订单号是八八零零零零二零零一", (4, 14), (4, 14)),
        ("喂你好，我想查一下退款，订单号是八八零零零零二零零一", (16, 26), (16, 26)),
        ("手机尾号八零零零", (4, 8), (4, 8)),
        ("訂單號8800002003", (0, 3), (0, 3)),
        ("我付了两百九十九元", (3, 6), (3, 8)),  # 299 came from 两百九十九
        ("我付了两百九十九元", (3, 7), (3, 9)),
        ("８８００ ００１０ ０１", (0, 10), (0, 12)),
        ("138-0013-8000", (0, 11), (0, 13)),
        ("138-0013-8000", (3, 7), (4, 8)),
        ("嗯，那个，我我我想退退款", (0, 1), (5, 8)),  # 我 came from 我我我
        ("嗯，那个，我我我想退退款", (2, 4), (9, 12)),
        ("订单号是嗯八八零零零零二零零一", (4, 14), (5, 15)),
        ("八八零零呃零零二零零一", (0, 10), (0, 11)),
        ("  前后空格  ", (0, 4), (2, 6)),
        ("  前后空格  ", (4, 4), (6, 6)),
        ("  前后空格  ", (0, 0), (2, 2)),
        ("我 想 退 货", (2, 4), (4, 7)),
    ],
)
def test_original_span(text: str, span: tuple[int, int], original_span: tuple[int, int]) -> None:
    assert normalize(text).original_span(*span) == original_span


@pytest.mark.parametrize(
    ("text", "original_span", "span"),
    [
        ("订单号是八八零零零零二零零一", (4, 14), (4, 14)),
        ("我付了两百九十九元", (3, 9), (3, 7)),
        ("我付了两百九十九元", (3, 4), (3, 6)),  # part of a numeral: the whole number
        ("嗯，我想退货", (2, 6), (0, 4)),
        ("嗯，我想退货", (0, 1), None),  # a filler leaves nothing
        ("8800 0010 01", (0, 12), (0, 10)),
    ],
)
def test_normalized_span(text: str, original_span: tuple[int, int], span: tuple[int, int] | None) -> None:
    assert normalize(text).normalized_span(*original_span) == span


@pytest.mark.parametrize("span", [(-1, 2), (3, 2), (0, 99)])
def test_original_span_outside_the_text_is_an_error(span: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="outside"):
        normalize("订单号是八八零零零零二零零一").original_span(*span)


def test_empty_text_has_an_empty_map() -> None:
    result = normalize("")
    assert (result.text, result.starts, result.ends) == ("", (), ())
    assert result.original_span(0, 0) == (0, 0)


def test_offsets_round_trip() -> None:
    result = normalize("嗯，我付了两百九十九元，订单号八八零零零零二零零一")
    rebuilt = NormalizedText.from_offsets(result.text, result.original, result.offsets())
    assert rebuilt == result
    assert result.offsets()[0] == [2, 3]


def test_unchanged_is_the_identity() -> None:
    result = NormalizedText.unchanged("退款")
    assert (result.starts, result.ends) == ((0, 1), (1, 2))


def test_map_must_cover_every_character() -> None:
    with pytest.raises(ValueError, match="one original span"):
        NormalizedText("退款", "退款", (0,), (1,))
