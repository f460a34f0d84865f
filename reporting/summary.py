"""The headline figures (the page's overview and the CLI's lines) and how numbers are written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

ValueKind = Literal["count", "rate", "minutes", "average"]
NO_VALUE = "—"  # a rate with a zero denominator, a median without any value


@dataclass(frozen=True)
class Headline:
    """One headline figure: its Chinese title and where its value is in `Report.to_json()`.

    Attributes:
        title: What the merchant reads.
        figure: The figure's name (a top-level key of the report's JSON).
        path: The keys to the value inside that figure's JSON.
        kind: How the value is written (see `format_value`).
    """

    title: str
    figure: str
    path: tuple[str, ...]
    kind: ValueKind


HEADLINES = (
    Headline("会话数", "conversations", ("total",), "count"),
    Headline("自助解决率", "self_service", ("rate",), "rate"),
    Headline("转人工率", "handoffs", ("rate",), "rate"),
    Headline("投诉工单", "complaints", ("total",), "count"),
    Headline("投诉超时未处理", "complaints", ("overdue",), "count"),
    Headline("人工首次响应中位数（分钟）", "first_response", ("median_minutes",), "minutes"),
    Headline("超时等待接单的转人工工单", "first_response", ("overdue_waiting",), "count"),
    Headline("退款超时占比", "refunds", ("overdue_rate",), "rate"),
    Headline("满意率", "satisfaction", ("rate",), "rate"),
    Headline("平均评分", "satisfaction", ("average",), "average"),
    Headline("未答问题", "unanswered", ("total",), "count"),
)


def format_value(value: Any, kind: ValueKind) -> str:
    """A figure's value as the merchant reads it: 12, 66.7%, 4.5, 4.25; "—" for None."""
    if value is None:
        return NO_VALUE
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "minutes":
        return f"{value:.1f}"
    if kind == "average":
        return f"{value:.2f}"
    return str(value)


def value_at(figure_json: Mapping[str, Any], path: Sequence[str | int]) -> Any:
    """The value at `path` inside a figure's JSON (keys of objects, indexes of lists)."""
    value: Any = figure_json
    for step in path:
        value = value[step]
    return value


def headline_lines(report_json: Mapping[str, Any]) -> list[str]:
    """One line per headline figure: "自助解决率：75.0%"."""
    lines = []
    for headline in HEADLINES:
        value = value_at(report_json[headline.figure], headline.path)
        lines.append(f"{headline.title}：{format_value(value, headline.kind)}")
    return lines
