"""Chinese names of the report's keys (channels, reasons, categories, ...) for the merchant.

A key without a name (a new channel, an intent) is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping

CHANNELS = {
    "rest": "REST 接口",
    "wechat": "微信公众号",
    "wecom": "企业微信",
    "widget": "网页客服",
    "ivr": "电话语音",
    "unknown": "未知",
}
HANDOFF_REASONS = {
    "user_request": "顾客要求人工",
    "beyond_authority": "超出机器人权限",
    "repeated_failure": "多次未能解决",
    "urgent": "紧急情况",
    "overdue_refund": "退款超时",
    "system_error": "系统故障",
    "other": "其他",
    "unknown": "未知",
}
COMPLAINT_CATEGORIES = {
    "product_quality": "商品质量",
    "service_attitude": "服务态度",
    "logistics": "物流配送",
    "system_failure": "系统故障",
    "merchant": "商家问题",
    "other": "其他",
    "unknown": "未知",
}
REFUND_OUTCOMES = {
    "completed": "已完成",
    "on_time": "处理中（未超时）",
    "overdue": "已超时",
    "no_refund_found": "未查到退款",
    "unknown": "未知",
}
RETURN_OUTCOMES = {"eligible": "可退", "not_eligible": "不可退", "unknown": "未知"}
UNANSWERED_REASONS = {"nlu_fallback": "未能识别", "out_of_scope": "超出服务范围", "unknown": "未知"}
UNANSWERED_NEXT = {
    "asked_to_rephrase": "请顾客换个说法",
    "offered_tasks": "列出可办事项",
    "handed_over": "转人工",
    "answered_out_of_scope": "说明不在服务范围",
    "unknown": "未知",
}
INTENTS = {"unknown": "未知"}


def label(names: Mapping[str, str], key: str) -> str:
    """The Chinese name of a key, or the key itself when it has none."""
    return names.get(key, key)
