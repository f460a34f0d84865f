"""What WeChat's and WeCom's pushes share, as pure functions: signatures, freshness, safe XML
parsing and the EncodingAESKey's shape; no server, real wechatpy and defusedxml."""

from __future__ import annotations

import hashlib
import time

import pytest
from wechatpy.utils import check_signature

from channels.common.tencent_push import (
    MalformedMessage,
    is_fresh,
    is_valid_aes_key,
    parse_xml_fields,
    signature_matches,
    signature_of,
)

TOKEN = "wechatToken2024"
OPENID = "oWx_zhangwei_01"


def _text_push(content: str, msg_id: str = "1001") -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_account]]></ToUserName>"
        f"<FromUserName><![CDATA[{OPENID}]]></FromUserName><CreateTime>1700000000</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


# ---- signatures and freshness


def test_signature_is_sha1_of_the_sorted_values_as_wechat_documents() -> None:
    expected = hashlib.sha1("".join(sorted([TOKEN, "1700000000", "nonce42"])).encode()).hexdigest()  # noqa: S324 - WeChat's scheme
    assert signature_of(TOKEN, "1700000000", "nonce42") == expected
    check_signature(TOKEN, expected, "1700000000", "nonce42")  # wechatpy agrees (raises if not)


def test_msg_signature_covers_the_encrypted_text() -> None:
    plain = signature_of(TOKEN, "1700000000", "n")
    assert signature_of(TOKEN, "1700000000", "n", "ENCRYPTED") != plain
    expected = hashlib.sha1("".join(sorted([TOKEN, "1700000000", "n", "ENCRYPTED"])).encode()).hexdigest()  # noqa: S324 - WeChat's scheme
    assert signature_of(TOKEN, "1700000000", "n", "ENCRYPTED") == expected


def test_signature_comparison() -> None:
    good = signature_of(TOKEN, "1", "2")
    assert signature_matches(good, good)
    assert not signature_matches(good, good[:-1] + ("0" if good[-1] != "0" else "1"))
    assert not signature_matches(good, good[:20])
    assert not signature_matches(good, "")


def test_freshness_allows_five_minutes_either_way() -> None:
    now = 1_700_000_000.0
    assert is_fresh("1700000000", now)
    assert is_fresh("1699999700", now)
    assert is_fresh("1700000300", now)
    assert not is_fresh("1699999699", now)
    assert not is_fresh("1700000301", now)
    for malformed in ("", "-1700000000", "17e8", "１７００００００００", "1700000000.5", "9" * 13):
        assert not is_fresh(malformed, now), malformed


# ---- parsing


def test_fields_of_a_push() -> None:
    fields = parse_xml_fields(_text_push("我的退款到哪了").encode())
    assert fields == {
        "ToUserName": "gh_account",
        "FromUserName": OPENID,
        "CreateTime": "1700000000",
        "MsgType": "text",
        "Content": "我的退款到哪了",
        "MsgId": "1001",
    }


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]><xml><Content>&lol9;</Content></xml>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><FromUserName>&xxe;</FromUserName><MsgType>text</MsgType></xml>"
)


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, '<!DOCTYPE xml><xml><MsgType>text</MsgType></xml>'])
def test_a_dtd_is_refused_before_any_entity_is_expanded(body: str) -> None:
    started = time.perf_counter()
    with pytest.raises(MalformedMessage, match="DTDForbidden"):
        parse_xml_fields(body.encode())
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("body", [b"", b"not xml", b"<xml><a></xml>", b"<html><MsgType>text</MsgType></html>", b"\xff\xfe<"])
def test_what_is_not_a_wechat_document_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_xml_fields(body)


# ---- keys


def test_aes_keys_are_43_characters_of_base64() -> None:
    assert is_valid_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
    assert not is_valid_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEF")
    assert not is_valid_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEF=")
