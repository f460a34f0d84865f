"""WeChat's push protocol as pure functions: no server, real wechatpy and defusedxml."""

from __future__ import annotations

import hashlib
import time

import defusedxml.ElementTree
import pytest
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import check_signature

from channels.wechat.protocol import (
    EMPTY_TEXT_ANSWER,
    GREET_PAYLOAD,
    MAX_TEXT_CHARS,
    UNSUPPORTED_ANSWER,
    VOICE_NOT_RECOGNISED_ANSWER,
    Inbound,
    MalformedMessage,
    cdata_safe,
    choose_button,
    conversation_id_for,
    decrypt_push,
    dedupe_key,
    encrypt_reply,
    interpret,
    is_fresh,
    message_id_for,
    parse_wechat_message,
    parse_xml_fields,
    render_buttons,
    render_text_reply,
    signature_matches,
    signature_of,
    split_into_messages,
)

TOKEN = "wechatToken2024"
APP_ID = "wx0123456789abcdef"
KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OLD_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
OPENID = "oWx_zhangwei_01"


def _text_push(content: str, msg_id: str = "1001") -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_account]]></ToUserName>"
        f"<FromUserName><![CDATA[{OPENID}]]></FromUserName><CreateTime>1700000000</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


def _envelope(crypto: WeChatCrypto, xml: str, timestamp: str = "1700000000", nonce: str = "n1") -> dict[str, str]:
    return parse_xml_fields(crypto.encrypt_message(xml, nonce, timestamp))


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


def test_wechatpy_reading_a_field_given_twice_is_malformed() -> None:
    xml = _text_push("hi").replace("<MsgType><![CDATA[text]]></MsgType>", "<MsgType>text</MsgType>" * 2)
    with pytest.raises(MalformedMessage):
        parse_wechat_message(xml)


# ---- replies


def test_reply_xml_stays_valid_and_exact_when_text_contains_cdata_end() -> None:
    content = "订单]]><MsgType>image</MsgType><x>\x00\x08 ]]]>> 好的"
    xml = render_text_reply(content, OPENID, "gh_account", 1700000001)
    root = defusedxml.ElementTree.fromstring(xml)
    assert {child.tag: child.text for child in root} == {
        "MsgType": "text",
        "Content": "订单]]><MsgType>image</MsgType><x> ]]]>> 好的",
        "FromUserName": "gh_account",
        "ToUserName": OPENID,
        "CreateTime": "1700000001",
    }


def test_cdata_safe_only_touches_what_it_must() -> None:
    assert cdata_safe("普通文字 <b>&amp;</b>") == "普通文字 <b>&amp;</b>"
    assert cdata_safe("a]]>b") == "a]]]]><![CDATA[>b"
    assert cdata_safe("a\x01\x1fb\ufffe") == "ab"


def test_buttons_become_numbered_lines_and_digits_pick_them() -> None:
    text, payloads = render_buttons(
        "您是想问下面哪一项？",
        [{"title": "查退款", "payload": "/check_refund_status"}, {"title": "退货", "payload": "/request_return"},
         {"title": ""}],
        "请回复数字选择：",
    )
    assert text == "您是想问下面哪一项？\n请回复数字选择：\n1. 查退款\n2. 退货"
    assert payloads == ["/check_refund_status", "/request_return"]
    assert choose_button("2", payloads) == "/request_return"
    assert choose_button(" ２ ", payloads) == "/request_return"
    assert choose_button("3", payloads) is None
    assert choose_button("12", payloads) is None
    assert choose_button("1号订单", payloads) is None
    assert render_buttons("好的", [], "请回复数字选择：") == ("好的", [])


def test_texts_share_one_message_while_they_fit() -> None:
    assert split_into_messages(["您好", "请问订单号是多少？"]) == ["您好\n\n请问订单号是多少？"]
    assert split_into_messages([]) == []


def test_a_long_answer_becomes_several_messages_within_wechats_limit() -> None:
    long_text = "退" * 1000  # 3,000 bytes of UTF-8
    messages = split_into_messages(["第一条", long_text, "最后一条"])
    assert all(len(message.encode()) <= 2048 for message in messages)
    assert "\n\n".join(messages).replace("\n\n", "") == "第一条" + long_text + "最后一条"
    assert messages[0] == "第一条" and messages[-1].endswith("\n\n最后一条") and len(messages) == 3
    assert split_into_messages(["a😀b"], max_bytes=4) == ["a", "😀", "b"]  # never inside a character


# ---- encryption


def test_secure_mode_round_trip_with_wechatpy() -> None:
    crypto = WeChatCrypto(TOKEN, KEY, APP_ID)
    xml = _text_push("查一下物流")
    envelope = _envelope(crypto, xml)
    assert envelope["MsgSignature"] == signature_of(TOKEN, "1700000000", "n1", envelope["Encrypt"])
    decrypted, used = decrypt_push([crypto], envelope["Encrypt"], envelope["MsgSignature"], "1700000000", "n1")
    assert (decrypted, used) == (xml, crypto)


def test_during_a_key_rotation_the_previous_key_still_opens_pushes_and_seals_the_reply() -> None:
    current, previous = WeChatCrypto(TOKEN, KEY, APP_ID), WeChatCrypto(TOKEN, OLD_KEY, APP_ID)
    xml = _text_push("旧密钥加密的消息")
    envelope = _envelope(previous, xml)
    decrypted, used = decrypt_push([current, previous], envelope["Encrypt"], envelope["MsgSignature"],
                                   "1700000000", "n1")
    assert decrypted == xml
    assert used is previous
    reply = encrypt_reply(used, render_text_reply("好的", OPENID, "gh_account", 1700000001), "n2", 1700000001)
    sealed = parse_xml_fields(reply)
    assert sealed["TimeStamp"] == "1700000001"
    opened = previous.decrypt_message(reply, sealed["MsgSignature"], "1700000001", "n2")
    assert parse_xml_fields(opened)["Content"] == "好的"
    with pytest.raises(Exception):  # noqa: B017 - the new key cannot open it, whatever wechatpy raises
        current.decrypt_message(reply, sealed["MsgSignature"], "1700000001", "n2")


def test_a_push_sealed_with_an_unknown_key_or_for_another_account_is_malformed() -> None:
    current = WeChatCrypto(TOKEN, KEY, APP_ID)
    for stranger in (WeChatCrypto(TOKEN, OLD_KEY, APP_ID), WeChatCrypto(TOKEN, KEY, "wxffffffffffffffff")):
        envelope = _envelope(stranger, _text_push("hi"))
        with pytest.raises(MalformedMessage):
            decrypt_push([current], envelope["Encrypt"], envelope["MsgSignature"], "1700000000", "n1")
    with pytest.raises(MalformedMessage):
        decrypt_push([current], "bm90IGVuY3J5cHRlZA==", "x", "1700000000", "n1")


# ---- identity of pushes and shoppers


def test_dedupe_keys() -> None:
    assert dedupe_key({"MsgId": "22334455", "FromUserName": OPENID, "CreateTime": "1"}) == "msg:22334455"
    subscribe = {"FromUserName": OPENID, "CreateTime": "1700000000", "Event": "subscribe"}
    assert dedupe_key(subscribe) == f"event:{OPENID}:1700000000:subscribe"
    assert dedupe_key({**subscribe, "MsgId": "0"}) == dedupe_key(subscribe)
    assert dedupe_key({**subscribe, "Event": "CLICK"}) != dedupe_key(subscribe)
    assert dedupe_key({**subscribe, "CreateTime": "1700000001"}) != dedupe_key(subscribe)


def test_conversation_id_is_a_keyed_hash_of_the_openid() -> None:
    conversation = conversation_id_for(OPENID, TOKEN)
    assert conversation == "wx-" + __import__("hmac").new(TOKEN.encode(), OPENID.encode(), "sha256").hexdigest()[:32]
    assert OPENID not in conversation
    assert conversation_id_for(OPENID, "anotherToken") != conversation
    assert conversation_id_for("oWx_lina_02", TOKEN) != conversation


def test_message_id_is_the_same_for_every_retry() -> None:
    assert message_id_for("msg:1") == message_id_for("msg:1")
    assert message_id_for("msg:1") != message_id_for("msg:2")
    assert message_id_for("msg:1").startswith("wechat-")


# ---- what a push means


def _interpret(xml: str) -> Inbound:
    fields = parse_xml_fields(xml)
    return interpret(parse_wechat_message(xml), fields["MsgType"])


def _push(msg_type: str, extra: str) -> str:
    return (
        f"<xml><ToUserName>gh_account</ToUserName><FromUserName>{OPENID}</FromUserName>"
        f"<CreateTime>1700000000</CreateTime><MsgType>{msg_type}</MsgType>{extra}</xml>"
    )


def test_text_is_the_shoppers_words() -> None:
    assert _interpret(_text_push("  我要退货 ")) == Inbound("turn", OPENID, "我要退货", {"msg_type": "text"})
    assert _interpret(_text_push("长" * 5000)).text == "长" * MAX_TEXT_CHARS
    assert _interpret(_text_push("   ")) == Inbound("answer", OPENID, EMPTY_TEXT_ANSWER)


def test_voice_recognition_is_the_shoppers_words() -> None:
    voice = _push("voice", "<MediaId>m1</MediaId><Format>amr</Format><Recognition>查一下退款进度</Recognition>"
                           "<MsgId>2001</MsgId>")
    assert _interpret(voice) == Inbound("turn", OPENID, "查一下退款进度", {"msg_type": "voice", "media_id": "m1"})
    unrecognised = _push("voice", "<MediaId>m2</MediaId><Format>amr</Format><MsgId>2002</MsgId>")
    assert _interpret(unrecognised) == Inbound("answer", OPENID, VOICE_NOT_RECOGNISED_ANSWER)


def test_voice_recognition_gets_the_speech_cleanup_the_phone_line_gets() -> None:
    voice = _push("voice", "<MediaId>m3</MediaId><Format>amr</Format>"
                           "<Recognition>订单号八八零零，零零幺零，零幺。</Recognition><MsgId>2003</MsgId>")
    assert _interpret(voice).text == "订单号八八零零 零零幺零 零幺"
    only_a_stop = _push("voice", "<MediaId>m4</MediaId><Format>amr</Format><Recognition>。</Recognition>"
                                 "<MsgId>2004</MsgId>")
    assert _interpret(only_a_stop) == Inbound("answer", OPENID, VOICE_NOT_RECOGNISED_ANSWER)


def test_subscribe_is_a_greeting() -> None:
    plain = _push("event", "<Event>subscribe</Event>")
    assert _interpret(plain) == Inbound("turn", OPENID, GREET_PAYLOAD, {"msg_type": "event", "event": "subscribe"})
    by_qr_code = _push("event", "<Event>subscribe</Event><EventKey>qrscene_123</EventKey><Ticket>t</Ticket>")
    assert _interpret(by_qr_code).text == GREET_PAYLOAD


def test_an_image_is_kept_as_an_attachment() -> None:
    image = _push("image", "<PicUrl>http://mmbiz.qpic.cn/x.jpg</PicUrl><MediaId>media9</MediaId><MsgId>3001</MsgId>")
    assert _interpret(image) == Inbound(
        "image",
        OPENID,
        attachment={"kind": "image", "channel": "wechat", "media_id": "media9", "url": "http://mmbiz.qpic.cn/x.jpg",
                    "received_at": "2023-11-14T22:13:20+00:00"},
    )


@pytest.mark.parametrize("event", ["unsubscribe", "VIEW", "LOCATION", "TEMPLATESENDJOBFINISH", "no_such_event"])
def test_other_events_are_ignored(event: str) -> None:
    assert _interpret(_push("event", f"<Event>{event}</Event><EventKey>k</EventKey>")) == Inbound("ignore", OPENID)


@pytest.mark.parametrize(
    ("msg_type", "extra"),
    [("location", "<Location_X>23.1</Location_X><Location_Y>113.3</Location_Y><Scale>20</Scale><Label>广州</Label>"),
     ("video", "<MediaId>v</MediaId><ThumbMediaId>t</ThumbMediaId>"),
     ("link", "<Title>t</Title><Description>d</Description><Url>http://x</Url>"),
     ("miniprogrampage", "<Title>t</Title>")],
)
def test_anything_else_gets_a_short_helpful_answer(msg_type: str, extra: str) -> None:
    assert _interpret(_push(msg_type, extra + "<MsgId>4001</MsgId>")) == Inbound("answer", OPENID, UNSUPPORTED_ANSWER)
