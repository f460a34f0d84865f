"""WeCom's callback and kf/sync_msg protocol as pure functions, on messages shaped like
WeCom's documentation (sealed by the fake the way WeCom seals them)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from wechatpy.enterprise.crypto import WeChatCrypto

from channels.common.tencent_push import MAX_TEXT_CHARS, parse_xml_fields
from channels.wecom.protocol import (
    GREET_PAYLOAD,
    KfCallback,
    MalformedMessage,
    conversation_id_for,
    decrypt_callback,
    decrypt_echostr,
    interpret,
    kf_callback,
    message_id_for,
    parse_sync_page,
    send_msgid_for,
    send_parts,
)
from tests.fixtures.fake_wecom import FakeWeCom

OTHER_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj"


@pytest.fixture
def fake() -> FakeWeCom:
    return FakeWeCom()  # not served: only its sealing and message shapes


def crypto_of(fake: FakeWeCom, aes_key: str | None = None, corp_id: str | None = None) -> WeChatCrypto:
    return WeChatCrypto(fake.token, aes_key or fake.aes_key, corp_id or fake.corp_id)


def opened(fake: FakeWeCom, query: dict[str, str], body: bytes, crypto: WeChatCrypto | None = None) -> str:
    encrypted = parse_xml_fields(body)["Encrypt"]
    return decrypt_callback(crypto or crypto_of(fake), encrypted, query["msg_signature"], query["timestamp"],
                            query["nonce"])


# ---- callbacks


def test_a_kf_callback_decrypts_to_the_account_and_its_token(fake: FakeWeCom) -> None:
    query, body = fake.callback("wk_account_1")
    fields = parse_xml_fields(opened(fake, query, body))
    callback = kf_callback(fields)
    assert isinstance(callback, KfCallback) and callback.open_kfid == "wk_account_1"
    assert callback.token and fields["ToUserName"] == fake.corp_id


def test_a_callback_sealed_with_another_key_or_for_another_corp_is_malformed(fake: FakeWeCom) -> None:
    query, body = fake.callback()
    with pytest.raises(MalformedMessage):
        opened(fake, query, body, crypto_of(fake, aes_key=OTHER_KEY))
    with pytest.raises(MalformedMessage):
        opened(fake, query, body, crypto_of(fake, corp_id="ww_another_corp"))


def test_other_events_ask_for_no_pull_and_a_kf_event_without_token_is_malformed() -> None:
    assert kf_callback({"MsgType": "event", "Event": "change_external_contact"}) is None
    assert kf_callback({"MsgType": "text", "Content": "hi"}) is None
    for fields in ({"OpenKfId": "wk1"}, {"Token": "t"}, {"Token": "t" * 129, "OpenKfId": "wk1"}):
        with pytest.raises(MalformedMessage):
            kf_callback({"MsgType": "event", "Event": "kf_msg_or_event", **fields})


def test_the_url_verification_echostr_decrypts_only_with_our_key(fake: FakeWeCom) -> None:
    query = fake.verification("5927782489442352469")
    assert decrypt_echostr(crypto_of(fake), query["echostr"]) == "5927782489442352469"
    with pytest.raises(MalformedMessage):
        decrypt_echostr(crypto_of(fake, aes_key=OTHER_KEY), query["echostr"])
    with pytest.raises(MalformedMessage):
        decrypt_echostr(crypto_of(fake), "not-base64!")


# ---- kf/sync_msg pages and items


def test_a_documented_page_parses_and_malformed_ones_are_refused(fake: FakeWeCom) -> None:
    item = fake.customer_sends("wm_user", "你好")
    page = parse_sync_page({"errcode": 0, "errmsg": "ok", "next_cursor": "4gw7MepF", "has_more": 1,
                            "msg_list": [item]})
    assert (page.next_cursor, page.has_more, page.items) == ("4gw7MepF", True, [item])
    assert parse_sync_page({"errcode": 0}).items == []
    for bad in ({"msg_list": {"a": 1}}, {"msg_list": ["x"]}, {"next_cursor": 5}, {"has_more": "yes"}):
        with pytest.raises(MalformedMessage):
            parse_sync_page(bad)


def test_a_customer_text_is_a_turn_with_its_account_and_customer(fake: FakeWeCom) -> None:
    item = fake.customer_sends("wm_user", "  我的退款什么时候到账  ")
    inbound = interpret(item)
    assert (inbound.kind, inbound.text, inbound.msgid) == ("turn", "我的退款什么时候到账", item["msgid"])
    assert (inbound.open_kfid, inbound.external_userid) == (item["open_kfid"], "wm_user")
    assert inbound.details == {"msg_type": "text", "open_kfid": item["open_kfid"]}
    assert len(interpret(fake.customer_sends("wm_user", "退" * 5000)).text) == MAX_TEXT_CHARS


@pytest.mark.parametrize("msgtype, text_name", [
    ("image", "utter_channel_wecom_image"),
    ("voice", "utter_channel_wecom_voice"),
    ("location", "utter_channel_wecom_unsupported"),
    ("file", "utter_channel_wecom_unsupported"),
])
def test_other_customer_messages_get_a_channel_text(fake: FakeWeCom, msgtype: str, text_name: str) -> None:
    inbound = interpret(fake.customer_sends("wm_user", msgtype=msgtype))
    assert (inbound.kind, inbound.text, inbound.external_userid) == ("answer", text_name, "wm_user")


def test_an_empty_text_gets_a_channel_text(fake: FakeWeCom) -> None:
    assert interpret(fake.customer_sends("wm_user", "   ")).text == "utter_channel_empty_text"


def test_servicer_messages_and_other_events_are_ignored(fake: FakeWeCom) -> None:
    assert interpret(fake.customer_sends("wm_user", "您好，我是客服", origin=5)).kind == "ignore"
    recall = {"msgid": "m1", "send_time": 1, "origin": 4, "msgtype": "event",
              "event": {"event_type": "user_recall_msg", "open_kfid": "wk1", "external_userid": "wm1",
                        "recall_msgid": "m0"}}
    assert interpret(recall).kind == "ignore"


def test_entering_a_session_with_a_welcome_code_is_greeted(fake: FakeWeCom) -> None:
    item = fake.customer_enters("wm_user")
    inbound = interpret(item)
    assert (inbound.kind, inbound.text, inbound.external_userid) == ("welcome", GREET_PAYLOAD, "wm_user")
    assert inbound.welcome_code == item["event"]["welcome_code"] and inbound.msgid == item["msgid"]
    without_code = {**item, "event": {**item["event"], "welcome_code": ""}}
    assert interpret(without_code).kind == "ignore"


@pytest.mark.parametrize("change", [
    {"msgid": ""}, {"external_userid": None}, {"open_kfid": 7}, {"msgid": "m" * 129},
])
def test_an_item_without_its_ids_is_malformed(fake: FakeWeCom, change: dict[str, Any]) -> None:
    with pytest.raises(MalformedMessage):
        interpret({**fake.customer_sends("wm_user", "你好"), **change})


# ---- identities


def test_conversation_ids_are_keyed_hashes_of_account_and_customer() -> None:
    first = conversation_id_for("wk1", "wm_user", "key")
    assert re.fullmatch(r"wc-[0-9a-f]{32}", first)
    assert first == conversation_id_for("wk1", "wm_user", "key")
    assert len({first, conversation_id_for("wk2", "wm_user", "key"), conversation_id_for("wk1", "wm_other", "key"),
                conversation_id_for("wk1", "wm_user", "another key")}) == 4
    assert "wm_user" not in first


def test_message_and_send_ids_are_stable_and_fit_wecom() -> None:
    assert message_id_for("m1") == message_id_for("m1") != message_id_for("m2")
    assert re.fullmatch(r"wecom-[0-9a-f]{32}", message_id_for("m1"))
    ids = {send_msgid_for("m1", 0), send_msgid_for("m1", 1), send_msgid_for("m2", 0)}
    assert len(ids) == 3 and all(re.fullmatch(r"[0-9a-f]{32}", msgid) for msgid in ids)
    assert send_msgid_for("m1", 0) == send_msgid_for("m1", 0)


# ---- answers



def test_a_turns_texts_go_out_together_cut_only_where_wecom_needs_it() -> None:
    assert send_parts(["第一句。", " ", "第二句。"]) == ["第一句。\n\n第二句。"]
    assert send_parts([]) == []
    long_lines = ["退款进度说明" * 30 for _ in range(6)]  # 6 x 540 bytes
    parts = send_parts(long_lines)
    assert len(parts) == 2 and all(len(part.encode()) <= 2048 for part in parts)
    assert "\n\n".join(parts).replace("\n", "") == "".join(long_lines)
    unbroken = send_parts(["退" * 1500])  # 4500 bytes, no line break: cut between characters
    assert [len(part.encode()) for part in unbroken] == [2046, 2046, 408]
    assert "".join(unbroken) == "退" * 1500
