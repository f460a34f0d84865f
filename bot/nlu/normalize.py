"""Normalisation of shoppers' Chinese text before tokenising, with an offset map back.

Pure: no Rasa imports, no I/O. Used on every message, so every step is one regex pass
over a short string. Every normalised character remembers the span of the original
text it came from, so an entity found in the normalised text can be pointed back at
what the shopper wrote (`NormalizedText.original_span`).

The steps, in order (the order matters, see `normalize`):

1. Width: full-width ASCII (０-９, Ａ-ｚ, `，？！：；（）`) to half-width, the ideographic
   space to a space; zero-width characters and emoji variation selectors dropped.
2. Traditional to simplified (OpenCC `t2s`), leaving characters that are simplified
   already alone (t2s turns 万一坏了 into 万一坯了).
3. Whitespace runs to one space.
4. Speech fillers out: 嗯/呃 anywhere; 啊/哦/噢/唔 opening a message; 额/诶/emm followed
   by a pause; 那个 only when followed by another filler or by 我/你/您/请/帮/亲/麻烦
   (otherwise it is "that one"); 就是说; 就是 followed by a pause; 然后呢 not asked as a
   question. A message made only of fillers ("嗯嗯" = yes) is left as it is.
5. Digit runs: spoken digits (零〇洞 0, 一幺 1, 二两 2, 三..九) in runs of three or more
   become Arabic digits one for one (八八零零零零二零零一 -> 8800002001, 幺三八 -> 138).
   Runs of two (两三天, 七八个) stay words. A run split by spaces or dashes is joined
   when it has the shape of an order number (10) or a mobile number (11), or, split by
   spaces only, of a phone suffix (4) or of single digits (8 0 0 0); never a date
   (2026-11-18 20:31 in a pasted order card).
6. Numerals with 十/百/千/万/亿 (两百九十九 -> 299, 一万二 -> 12000, 3千 -> 3000), and a single
   digit or a 十-numeral when a unit follows (三倍 -> 3倍, 十天 -> 10天, 七天无理由 -> 7天无理由,
   三月十五号 -> 3月15号), via cn2an. Words with digit characters but no unit stay
   (一下, 一直, 一起, 第一, 万一, 一模一样, 十分满意, 千万), nor does a size step (大一号).
7. Repetitions: a CJK character repeated three or more times collapses to one (对对对 -> 对),
   or to two for characters that double legitimately (谢谢谢谢 -> 谢谢, 哈哈哈 -> 哈哈); a
   double collapses only for known stutters (我我想 -> 我想, 退退款 -> 退款), so 看看, 刚刚,
   常常 stay; a 2-4 character word said three or more times in a row collapses to one;
   repeated punctuation and emoji collapse to one (？？？ -> ?). Emoji are kept.
8. Spaces between two CJK characters removed; leading and trailing space stripped.

Not done on purpose: lower-casing (the featurizers do it), typo correction (退火/大账 are
left to character n-grams), Chinese punctuation that is not full-width ASCII (。、…
stay).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

# An edit replaces text[start:end] of the current text with a string ("" deletes).
Edit = tuple[int, int, str]

_CJK = "\u4e00-\u9fff"
_PAUSE = r",.!?;:~、。…\s"  # what follows or precedes a filler in speech transcripts
_AFTER_PAUSE = rf"(?<![^{_PAUSE}嗯呃啊哦])"  # at the start, or after a pause or a filler

_SPOKEN_DIGITS = {
    "零": "0", "〇": "0", "洞": "0",
    "一": "1", "幺": "1",
    "二": "2", "两": "2",
    "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9",
}
_CN_DIGITS = "零〇一二两三四五六七八九"
_DIGIT_CHARS = "0-9" + "".join(_SPOKEN_DIGITS)
_MAGNITUDES = "十百千万亿"
_BIG_MAGNITUDES = "百千万亿"
# Digit characters that read as words, never as a number.
_DIGIT_IDIOMS = frozenset({"三三两两", "七七八八"})

# Zero-width characters and variation selectors (️ makes "❤️❤️" look unlike "❤❤").
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\ufe0e\ufe0f")

_FILLER_RE = re.compile(
    rf"^[啊哦噢唔]+[{_PAUSE}]*"
    rf"|{_AFTER_PAUSE}[嗯呃]+[{_PAUSE}]*"
    r"|[嗯呃]+"
    rf"|{_AFTER_PAUSE}(?:额+|诶|欸|(?i:e?m{{2,}}|hm+|um+|uh+))[{_PAUSE}]+"
    r"|那个(?=那个)"
    rf"|{_AFTER_PAUSE}那个[{_PAUSE}]*(?=嗯|呃|就是说|麻烦|[我你您请帮亲])"
    rf"|{_AFTER_PAUSE}就是说[{_PAUSE}]*"
    rf"|{_AFTER_PAUSE}就是[{_PAUSE}]+(?=[^{_PAUSE}])"
    rf"|{_AFTER_PAUSE}然后呢(?:[,\s]+|(?=[{_CJK}]))"
)
_ONLY_PAUSES_RE = re.compile(rf"[{_PAUSE}]*")

_DIGIT_RUN_RE = re.compile(rf"[{_DIGIT_CHARS}](?:[ \-]?[{_DIGIT_CHARS}])*")
_SEPARATOR_RE = re.compile(r"[ \-]")
_DATE_RE = re.compile(r"(?:19|20)\d\d-\d{1,2}-\d{1,2}(?!\d)")

_NUMERAL_RE = re.compile(
    rf"(?<![{_CN_DIGITS}{_MAGNITUDES}0-9.])"
    rf"(?:[0-9]+(?:\.[0-9]+)?[{_MAGNITUDES}]+[{_CN_DIGITS}{_MAGNITUDES}]*"
    rf"|[{_CN_DIGITS}十][{_CN_DIGITS}{_MAGNITUDES}]*(?:点[{_CN_DIGITS}]+)?)"
    rf"(?![{_CN_DIGITS}{_MAGNITUDES}0-9])"
)
# Units after which a single digit or a 十-numeral is a quantity (一块儿 = together).
_UNIT_RE = re.compile(
    r"多?(?:个多?(?:月|小时|星期|礼拜|工作日)|块钱|块(?!儿)|元|倍|天|日|号|月|年|周|小时|分钟|秒"
    r"|斤|公斤|岁|折|工作日)"
)

_CHAR_REPEAT_RE = re.compile(rf"([{_CJK}])\1+")
_WORD_REPEAT_RE = re.compile(rf"([{_CJK}]{{2,4}})\1{{2,}}")
_SYMBOL_REPEAT_RE = re.compile(r"([^\w\s])\1+")
# Characters whose double is a word of its own: three or more collapse to two.
_LEGIT_DOUBLES = frozenset(
    "谢哈呵嘿嘻看刚常试等问想说听聊查妈爸哥姐弟妹宝亲天慢快好嗯哦" "偷悄渐稍明白清楚干净整齐认真仔细"
)
# Characters whose double is never a word in this domain: a double is a stutter.
_STUTTERS = frozenset("我你您他她它这那就退订能怎为咋")

_SPACE_RE = re.compile(r"\s+")
_CJK_SPACE_RE = re.compile(rf"(?<=[{_CJK}]) (?=[{_CJK}])")


@dataclass(frozen=True)
class NormalizedText:
    """A normalised text and, for each of its characters, the original span it came from.

    Attributes:
        text: The normalised text.
        original: The text as the shopper wrote it.
        starts: For each character of `text`, where its source starts in `original`.
        ends: For each character of `text`, where its source ends in `original`.
    """

    text: str
    original: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def __post_init__(self) -> None:
        if not len(self.text) == len(self.starts) == len(self.ends):
            raise ValueError("one original span is needed for each normalised character")

    @classmethod
    def unchanged(cls, text: str) -> NormalizedText:
        """The identity normalisation of `text`."""
        positions = tuple(range(len(text)))
        return cls(text, text, positions, tuple(p + 1 for p in positions))

    @classmethod
    def from_offsets(cls, text: str, original: str, offsets: Sequence[Sequence[int]]) -> NormalizedText:
        """Rebuilds a normalisation from `offsets()` (what a Rasa message stores)."""
        return cls(text, original, tuple(o[0] for o in offsets), tuple(o[1] for o in offsets))

    def offsets(self) -> list[list[int]]:
        """`[start, end]` in the original text for each normalised character (JSON-ready)."""
        return [[s, e] for s, e in zip(self.starts, self.ends, strict=True)]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that `text[start:end]` was made from.

        Raises:
            ValueError: If the span is not inside the normalised text.
        """
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(f"span ({start}, {end}) is outside a text of {len(self.text)} characters")
        if start == end:
            position = self.starts[start] if start < len(self.text) else self._end_of_original()
            return position, position
        return self.starts[start], self.ends[end - 1]

    def normalized_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The span of the normalised text made from `original[start:end]`.

        Returns:
            The span, or None when nothing of it is left (e.g. it was a filler).
        """
        spans = zip(self.starts, self.ends, strict=True)
        hits = [i for i, (s, e) in enumerate(spans) if s < end and e > start]
        if not hits:
            return None
        return hits[0], hits[-1] + 1

    def _end_of_original(self) -> int:
        # Past the last normalised character: after its source, before stripped trailing space.
        return self.ends[-1] if self.ends else len(self.original)


def normalize(text: str) -> NormalizedText:
    """Normalises a shopper's message (see the module docstring for the steps).

    Args:
        text: The message as written or transcribed.

    Returns:
        The normalised text with its map back to `text`.
    """
    state = NormalizedText.unchanged(text)
    for step in _STEPS:
        edits = list(step(state.text))
        if edits:
            state = _apply(state, edits)
    return state


def _apply(state: NormalizedText, edits: Iterable[Edit]) -> NormalizedText:
    """Applies sorted, non-overlapping edits, carrying the original spans along.

    A replacement as long as what it replaces maps character by character; otherwise
    each of its characters maps to the whole original span of what it replaced.
    """
    text, starts, ends = state.text, state.starts, state.ends
    pieces: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    position = 0
    for start, end, replacement in edits:
        pieces.append(text[position:start])
        new_starts.extend(starts[position:start])
        new_ends.extend(ends[position:start])
        if len(replacement) == end - start:
            new_starts.extend(starts[start:end])
            new_ends.extend(ends[start:end])
        elif replacement:
            new_starts.extend([starts[start]] * len(replacement))
            new_ends.extend([ends[end - 1]] * len(replacement))
        pieces.append(replacement)
        position = end
    pieces.append(text[position:])
    new_starts.extend(starts[position:])
    new_ends.extend(ends[position:])
    return NormalizedText("".join(pieces), state.original, tuple(new_starts), tuple(new_ends))


def _width_edits(text: str) -> Iterator[Edit]:
    for index, char in enumerate(text):
        code = ord(char)
        if 0xFF01 <= code <= 0xFF5E:
            yield index, index + 1, chr(code - 0xFEE0)
        elif char == "\u3000":
            yield index, index + 1, " "
        elif char in _INVISIBLE:
            yield index, index + 1, ""


@functools.lru_cache(maxsize=1)
def _cn2an() -> Callable[[str, str], int | float]:
    import cn2an  # takes 0.3 s to import: only when a numeral is first read

    return cn2an.cn2an


@functools.lru_cache(maxsize=1)
def _opencc(config: str) -> Callable[[str], str]:
    import opencc

    return opencc.OpenCC(config).convert


@functools.lru_cache(maxsize=4096)
def _is_simplified(char: str) -> bool:
    """Whether `char` is itself a simplified character (it has a traditional form)."""
    return _opencc("s2t")(char) != char


def _simplified_edits(text: str) -> Iterator[Edit]:
    convert = _opencc("t2s")
    simplified = convert(text)
    if simplified == text:
        return
    if len(simplified) == len(text):
        pairs = zip(text, simplified, strict=True)
    else:  # a phrase rule changed the length: convert character by character to keep the map
        pairs = zip(text, (convert(char) for char in text), strict=True)
    for index, (before, after) in enumerate(pairs):
        # t2s also rewrites some simplified characters inside phrases (万一坏了 -> 万一坯了,
        # 坏 being an old form of 坯): a character that is simplified already is left alone.
        if before != after and not _is_simplified(before):
            yield index, index + len(before), after


def _whitespace_edits(text: str) -> Iterator[Edit]:
    for match in _SPACE_RE.finditer(text):
        if match.group() != " ":
            yield match.start(), match.end(), " "


def _filler_edits(text: str) -> Iterator[Edit]:
    matches = list(_FILLER_RE.finditer(text))
    if not matches:
        return
    if _ONLY_PAUSES_RE.fullmatch(_remaining(text, matches)):
        return  # nothing but fillers: "嗯嗯" is an answer, not noise
    for match in matches:
        yield match.start(), match.end(), ""


def _remaining(text: str, matches: Sequence[re.Match[str]]) -> str:
    pieces = []
    position = 0
    for match in matches:
        pieces.append(text[position:match.start()])
        position = match.end()
    pieces.append(text[position:])
    return "".join(pieces)


def _digit_run_edits(text: str) -> Iterator[Edit]:
    for match in _DIGIT_RUN_RE.finditer(text):
        start, end = match.span()
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        if (before and before in _MAGNITUDES + "点") or (after and after in _MAGNITUDES + "点"):
            continue  # part of a numeral with magnitudes (三四五百): step 6 reads it whole
        run = match.group()
        groups = _SEPARATOR_RE.split(run)
        digits = sum(len(group) for group in groups)
        if len(groups) > 1 and _joins(run, groups, digits):
            yield from _spoken_digit_edits(run, start)
            for separator in _SEPARATOR_RE.finditer(run):
                yield start + separator.start(), start + separator.end(), ""
            continue
        offset = start
        for group in groups:
            if len(group) >= 3 and group not in _DIGIT_IDIOMS:
                yield from _spoken_digit_edits(group, offset)
            offset += len(group) + 1


def _joins(run: str, groups: Sequence[str], digits: int) -> bool:
    if run in _DIGIT_IDIOMS or "".join(groups) in _DIGIT_IDIOMS:
        return False
    if _DATE_RE.match(run):  # a pasted order card's "2026-11-18 20:31" is a time, not an order
        return False
    if digits in (10, 11):  # an order number, a mobile number: 8800 0010 01, 138-0013-8000
        return True
    spaces_only = "-" not in run
    return spaces_only and (digits == 4 or (digits >= 3 and all(len(group) == 1 for group in groups)))


def _spoken_digit_edits(run: str, offset: int) -> Iterator[Edit]:
    for index, char in enumerate(run):
        digit = _SPOKEN_DIGITS.get(char)
        if digit is not None:
            yield offset + index, offset + index + 1, digit


def _numeral_edits(text: str) -> Iterator[Edit]:
    for match in _NUMERAL_RE.finditer(text):
        numeral = match.group()
        has_big = any(char in _BIG_MAGNITUDES for char in numeral[1:])
        small = "十" in numeral or "点" in numeral or len(numeral) == 1
        if not (has_big or (small and _UNIT_RE.match(text, match.end()))):
            continue
        if len(numeral) == 1 and match.start() and text[match.start() - 1] in "大小":
            continue  # 大一号 / 小一码 is a size step, not a date
        try:
            value = _cn2an()(numeral, "smart")
        except (ValueError, KeyError, IndexError):
            continue  # not a number after all (一五一十, 三四五百)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        yield match.start(), match.end(), str(value)


def _word_repeat_edits(text: str) -> Iterator[Edit]:
    for match in _WORD_REPEAT_RE.finditer(text):
        yield match.start(), match.end(), match.group(1)


def _char_repeat_edits(text: str) -> Iterator[Edit]:
    for match in _CHAR_REPEAT_RE.finditer(text):
        char, count = match.group(1), len(match.group())
        if count >= 3:
            kept = 2 if char in _LEGIT_DOUBLES else 1
        elif char in _STUTTERS:
            kept = 1
        else:
            continue
        yield match.start(), match.end(), char * kept
    for match in _SYMBOL_REPEAT_RE.finditer(text):
        yield match.start(), match.end(), match.group(1)


def _space_edits(text: str) -> Iterator[Edit]:
    for match in _CJK_SPACE_RE.finditer(text):
        yield match.start(), match.end(), ""
    stripped = text.lstrip()
    if len(stripped) < len(text):
        yield 0, len(text) - len(stripped), ""
    stripped = text.rstrip()
    if len(stripped) < len(text) and stripped:
        yield len(stripped), len(text), ""


def _sorted(step: Callable[[str], Iterable[Edit]]) -> Callable[[str], list[Edit]]:
    """Sorts a step's edits by position (some steps find them in two passes)."""

    @functools.wraps(step)
    def sorted_step(text: str) -> list[Edit]:
        return sorted(step(text))

    return sorted_step


# Order matters: fillers go before digits (八八零零嗯零零... is one run once 嗯 is out),
# digits before numerals (runs are read digit by digit first) and before repetitions
# (零零零零 is four zeros, not a stutter), and CJK spaces go last (八零零零 八八零零零零二零零一
# is a phone suffix and an order number, not a 14-digit run).
_STEPS: tuple[Callable[[str], Iterable[Edit]], ...] = (
    _width_edits,
    _simplified_edits,
    _whitespace_edits,
    _filler_edits,
    _sorted(_digit_run_edits),
    _numeral_edits,
    _word_repeat_edits,
    _sorted(_char_repeat_edits),
    _sorted(_space_edits),
)
