"""WeChat's push protocol as pure functions: no server, real wechatpy and defusedxml."""

from __future__ import annotations

import defusedxml.ElementTree
import pytest
from wechatpy.crypto import WeChatCrypto

from channels.common.tencent_push import MAX_TEXT_CHARS, MalformedMessage, parse_xml_fields, signature_of
from channels.wechat.protocol import (
    EMPTY_TEXT_ANSWER,
    GREET_PAYLOAD,
    UNSUPPORTED_ANSWER,
    VOICE_NOT_RECOGNISED_ANSWER,
    Inbound,
    cdata_safe,
    conversation_id_for,
    decrypt_push,
    dedupe_key,
    encrypt_reply,
    interpret,
    message_id_for,
    parse_wechat_message,
    render_text_reply,
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


# ---- parsing


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
