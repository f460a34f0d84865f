"""The report as ONE self-contained HTML page: inline CSS, charts as data: URLs, nothing fetched.

The page is rendered from `Report.to_json()`, so it shows exactly what the JSON serves.
Every number cell carries `data-figure` (the figure's name), `data-key` (a JSON Pointer,
RFC 6901, to the value inside that figure's JSON) and `data-value` (the value as JSON),
so a program can read the figures back. Every string is HTML-escaped: unanswered
questions are shoppers' words.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from reporting import labels
from reporting.figures import FIGURE_NAMES, Report
from reporting.labels import label
from reporting.summary import HEADLINES, ValueKind, format_value, value_at

JsonObject = Mapping[str, Any]
KeyPath = tuple[str | int, ...]  # keys and list indexes to a value inside a figure's JSON
LabelledValue = tuple[str, KeyPath, ValueKind]  # what the value is, where it is, how it is written

# The chart that illustrates each figure (charts.CHART_DRAWERS names them).
FIGURE_CHARTS = {
    "conversations": "conversations_per_day",
    "self_service": "self_service",
    "handoffs": "handoff_reasons",
    "complaints": "complaint_categories",
    "first_response": "first_response",
    "refunds": "refunds",
    "return_decisions": "return_decisions",
    "satisfaction": "satisfaction",
    "unanswered": "unanswered_reasons",
}
FIGURE_TITLES = {
    "conversations": "会话数（按日期和渠道）",
    "self_service": "自助解决率",
    "handoffs": "转人工率与原因",
    "complaints": "投诉工单",
    "first_response": "转人工首次响应",
    "refunds": "退款是否按时",
    "return_decisions": "退货判定（按规则）",
    "satisfaction": "满意度",
    "unanswered": "最常见的未答问题",
}
NO_DATA_ROW = "本期无数据"

STYLE = """
body { font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Zen Hei", sans-serif;
       margin: 0 auto; max-width: 960px; padding: 24px; color: #1f2933; background: #fff; line-height: 1.6; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 2px solid #2f6fdf; padding-bottom: 4px; margin-top: 2em; }
h3 { font-size: 1em; margin: 1.2em 0 0.4em; }
.meta { color: #52606d; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0 1em; min-width: 320px; }
th, td { border: 1px solid #d9e2ec; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f0f4f8; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.question { max-width: 480px; word-break: break-all; }
.wide { overflow-x: auto; }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
.how { background: #f8fafc; border-left: 4px solid #9aa5b1; padding: 8px 12px; color: #3e4c59;
       font-size: 0.92em; }
"""


def render_page(report: Report, charts: Mapping[str, bytes]) -> str:
    """The report's HTML page, with its charts embedded.

    Args:
        report: The figures.
        charts: PNG images by chart name (from `charts.render_charts`); a missing one is left out.

    Returns:
        The page, a complete UTF-8 HTML document without any external reference.
    """
    data = report.to_json()
    title = f"售后服务报表 {report.period.first_day.isoformat()} 至 {report.period.last_day.isoformat()}"
    generated_at = _local_time(data["generated_at"])
    sections = [
        _section(name, data[name], charts.get(FIGURE_CHARTS[name]), _SECTION_TABLES[name])
        for name in FIGURE_NAMES
    ]
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="zh-CN">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_text(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{_text(title)}</h1>",
        f'<p class="meta">统计区间：北京时间 {_text(data["period"]["first_day"])} 00:00 至 '
        f'{_text(data["period"]["last_day"])} 24:00　生成时间：{_text(generated_at)}（北京时间）</p>',
        _overview(data),
        *sections,
        "</body>",
        "</html>",
        "",
    ])


def _text(value: object) -> str:
    """Data as HTML text or attribute value: escaped, and with ":" as an entity so that no
    "http://" appears in the page's source even when a shopper typed one (it still reads the same)."""
    return html.escape(str(value), quote=True).replace(":", "&#58;")


def _pointer(path: Iterable[str | int]) -> str:
    """A JSON Pointer (RFC 6901) to the value at `path`."""
    return "".join("/" + str(step).replace("~", "~0").replace("/", "~1") for step in path)


def _number(figure: str, figure_json: JsonObject, path: KeyPath, kind: ValueKind = "count") -> str:
    """A table cell with one figure's value, readable back through its data attributes."""
    value = value_at(figure_json, path)
    return (
        f'<td class="num" data-figure="{_text(figure)}" data-key="{_text(_pointer(path))}" '
        f'data-value="{_text(json.dumps(value))}">{_text(format_value(value, kind))}</td>'
    )


def _table(headers: Sequence[str], rows: Iterable[Iterable[str]]) -> str:
    """A table from header texts and rows of ready cells (`<td>` elements)."""
    head = "".join(f"<th>{_text(header)}</th>" for header in headers)
    body = ["<tr>" + "".join(cells) + "</tr>" for cells in rows]
    if not body:
        body = [f'<tr><td colspan="{len(headers)}">{_text(NO_DATA_ROW)}</td></tr>']
    table = f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    return f'<div class="wide">{table}</div>'


def _cell(text: str) -> str:
    return f"<td>{_text(text)}</td>"


def _rows(figure: str, figure_json: JsonObject, items: Iterable[LabelledValue]) -> str:
    """A two-column table: what each value is, and the value."""
    rows = ([_cell(title), _number(figure, figure_json, path, kind)] for title, path, kind in items)
    return _table(["项目", "数值"], rows)


def _counts(
    figure: str,
    figure_json: JsonObject,
    key: str,
    names: Mapping[str, str],
    headers: tuple[str, str],
    title: str,
) -> str:
    """A table of counts by key (an object of counts in the figure's JSON), under a title."""
    counts = figure_json[key]
    rows = ([_cell(label(names, name)), _number(figure, figure_json, (key, name))] for name in counts)
    return f"<h3>{_text(title)}</h3>" + _table(headers, rows)


def _section(
    name: str, figure_json: JsonObject, chart: bytes | None, tables: Callable[[JsonObject], str]
) -> str:
    parts = [f'<section id="{_text(name)}">', f"<h2>{_text(FIGURE_TITLES[name])}</h2>", tables(figure_json)]
    if chart is not None:
        encoded = base64.b64encode(chart).decode("ascii")
        parts.append(
            f'<img src="data:image/png;base64,{encoded}" alt="{_text(FIGURE_TITLES[name])}" '
            f'data-chart="{_text(FIGURE_CHARTS[name])}" width="800" height="400">'
        )
    parts.append(f'<p class="how"><strong>计算方法：</strong>{_text(figure_json["how"])}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _overview(data: JsonObject) -> str:
    rows = (
        [_cell(headline.title), _number(headline.figure, data[headline.figure], headline.path, headline.kind)]
        for headline in HEADLINES
    )
    return '<section id="overview"><h2>概览</h2>' + _table(["指标", "数值"], rows) + "</section>"


def _local_time(iso: str) -> str:
    """An ISO time (already in Beijing time) as "2026-12-04 18:00"."""
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")


def _conversations(figure: JsonObject) -> str:
    name = "conversations"
    channels = figure["channels"]
    headers = ["日期", *(label(labels.CHANNELS, channel) for channel in channels), "合计"]
    rows = [
        [
            _cell(day),
            *(_number(name, figure, ("per_day", day, "by_channel", channel)) for channel in channels),
            _number(name, figure, ("per_day", day, "total")),
        ]
        for day in figure["per_day"]
    ]
    rows.append([
        _cell("合计"),
        *(_number(name, figure, ("by_channel", channel)) for channel in channels),
        _number(name, figure, ("total",)),
    ])
    return _table(headers, rows)


def _self_service(figure: JsonObject) -> str:
    return _rows("self_service", figure, [
        ("没有转人工的会话", ("numerator",), "count"),
        ("会话总数", ("denominator",), "count"),
        ("自助解决率", ("rate",), "rate"),
    ])


def _handoffs(figure: JsonObject) -> str:
    name = "handoffs"
    summary = _rows(name, figure, [
        ("有转人工的会话", ("numerator",), "count"),
        ("会话总数", ("denominator",), "count"),
        ("转人工率", ("rate",), "rate"),
        ("转人工次数（handoff 服务记录）", ("handoffs",), "count"),
    ])
    by_reason = _counts(name, figure, "by_reason", labels.HANDOFF_REASONS, ("原因", "次数"), "按原因")
    pairs = []
    for key, header, names, title in (
        ("by_reason_channel", "渠道", labels.CHANNELS, "按原因和渠道"),
        ("by_reason_intent", "意图", labels.INTENTS, "按原因和意图"),
    ):
        second = key.removeprefix("by_reason_")
        rows = (
            [
                _cell(label(labels.HANDOFF_REASONS, row["reason"])),
                _cell(label(names, row[second])),
                _number(name, figure, (key, index, "count")),
            ]
            for index, row in enumerate(figure[key])
        )
        pairs.append(f"<h3>{_text(title)}</h3>" + _table(["原因", header, "次数"], rows))
    return summary + by_reason + "".join(pairs)


def _complaints(figure: JsonObject) -> str:
    name = "complaints"
    by_category = _counts(
        name, figure, "by_category", labels.COMPLAINT_CATEGORIES, ("分类", "工单数"), "按分类"
    )
    summary = _rows(name, figure, [
        ("投诉工单总数", ("total",), "count"),
        ("24 小时内受理", ("accepted_within_24h",), "count"),
        ("24 小时内受理率", ("accepted_within_24h_rate",), "rate"),
        ("超时未处理（open 且已过 due_at）", ("overdue",), "count"),
        ("未结（open）", ("open",), "count"),
        ("已结", ("not_open",), "count"),
    ])
    return summary + by_category


def _first_response(figure: JsonObject) -> str:
    return _rows("first_response", figure, [
        ("转人工工单", ("tickets",), "count"),
        ("已接单", ("claimed",), "count"),
        ("未接单", ("unclaimed",), "count"),
        ("首次响应中位数（分钟）", ("median_minutes",), "minutes"),
        ("首次响应 P90（分钟）", ("p90_minutes",), "minutes"),
        ("按时接单（不晚于 due_at）", ("claimed_before_due",), "count"),
        ("超时接单（晚于 due_at）", ("claimed_after_due",), "count"),
        ("超时等待（未接单且已过 due_at）", ("overdue_waiting",), "count"),
    ])


def _refunds(figure: JsonObject) -> str:
    name = "refunds"
    outcomes: list[LabelledValue] = [
        (label(labels.REFUND_OUTCOMES, outcome), ("by_outcome", outcome), "count")
        for outcome in figure["by_outcome"]
    ]
    return _rows(name, figure, [
        ("退款笔数（按 refund_id）", ("refunds",), "count"),
        *outcomes,
        ("超时占比", ("overdue_rate",), "rate"),
        ("未查到退款（记录条数）", ("no_refund_found",), "count"),
    ])


def _return_decisions(figure: JsonObject) -> str:
    name = "return_decisions"
    rows = [
        [
            _cell(decision["rule"]),
            _cell(label(labels.RETURN_OUTCOMES, decision["outcome"])),
            _number(name, figure, ("decisions", index, "count")),
        ]
        for index, decision in enumerate(figure["decisions"])
    ]
    if rows:
        rows.append([_cell("合计"), _cell(""), _number(name, figure, ("total",))])
    return _table(["规则编号", "结果", "次数"], rows)


def _satisfaction(figure: JsonObject) -> str:
    name = "satisfaction"
    ratings: list[LabelledValue] = [
        (f"{rating} 分", ("distribution", rating), "count") for rating in reversed(figure["distribution"])
    ]
    return _rows(name, figure, [
        *ratings,
        ("已评价", ("rated",), "count"),
        ("未评价", ("not_rated",), "count"),
        ("满意（4 分及以上）", ("satisfied",), "count"),
        ("满意率", ("rate",), "rate"),
        ("平均分", ("average",), "average"),
    ])


def _unanswered(figure: JsonObject) -> str:
    name = "unanswered"
    rows = [
        [
            f'<td class="num">{index + 1}</td>',
            f'<td class="question">{_text(question["text"])}</td>',
            _number(name, figure, ("top", index, "count")),
            _cell(_local_time(question["last_seen"])),
            _cell(label(labels.UNANSWERED_REASONS, question["reason"])),
        ]
        for index, question in enumerate(figure["top"])
    ]
    top = _table(["排名", "问题（已脱敏）", "次数", "最近出现（北京时间）", "主要原因"], rows)
    summary = _rows(name, figure, [
        ("未答问题总数", ("total",), "count"),
        ("不同问题数", ("distinct_questions",), "count"),
    ])
    by_reason = _counts(name, figure, "by_reason", labels.UNANSWERED_REASONS, ("原因", "条数"), "按原因")
    by_next = _counts(name, figure, "by_next", labels.UNANSWERED_NEXT, ("后续处理", "条数"), "按后续处理")
    return top + summary + by_reason + by_next


_SECTION_TABLES: Mapping[str, Callable[[JsonObject], str]] = {
    "conversations": _conversations,
    "self_service": _self_service,
    "handoffs": _handoffs,
    "complaints": _complaints,
    "first_response": _first_response,
    "refunds": _refunds,
    "return_decisions": _return_decisions,
    "satisfaction": _satisfaction,
    "unanswered": _unanswered,
}
