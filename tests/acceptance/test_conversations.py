"""Conversations written the way real shoppers chat, against the running stack (issue 9).

Long openings, venting without the word 投诉, pre-sale questions, rules questions in the
middle of a task, answers that do not answer the form's question. Each test plays one
shopper through Rasa's REST webhook and checks what the bot said and what it recorded.
"""

from __future__ import annotations

from rasa_server.turn_timeouts import MAX_REMOTE_ACTIONS_PER_TURN
from tests.fixtures.conversation import Conversation, repeats_three_times
from tests.fixtures.stack import Stack

LATE_PARCEL = "8800009002"  # tests/fixtures/orders/project_orders.yaml, phone digits 9034
CANCELLED_ORDER = "8800009003"  # the same shopper's cancelled order, refund processing


def test_venting_without_the_word_starts_a_complaint_in_the_shopper_s_words(running_stack: Stack) -> None:
    chat = Conversation(running_stack)
    vent = "你们这快递是用脚送的吗？？一个星期了还没到，打电话给快递员也不接，以后再也不在你们家买了"

    assert "电话" in chat.say(vent)  # the complaint only lacks a contact number
    chat.say("13912345678")

    [complaint] = chat.records("complaint")
    assert complaint["details"]["category"] == "logistics"
    ticket = chat.complaint_ticket(complaint["details"]["ticket_id"])
    assert vent in ticket["description"]


def test_venting_in_the_middle_of_an_order_question_turns_to_a_complaint(running_stack: Stack) -> None:
    chat = Conversation(running_stack)
    vent = "问问问 就知道问 我的快递一个礼拜都没动过 打客服电话也没人接 你们这服务真是绝了"

    asked = chat.say("帮我看看我的快递到哪了")
    reply = chat.say(vent)  # instead of the order number

    assert "订单号" in asked
    assert "订单号" not in reply and "电话" in reply  # the complaint asks for a contact number
    chat.say("13912345678")
    [complaint] = chat.records("complaint")
    assert vent in chat.complaint_ticket(complaint["details"]["ticket_id"])["description"]


def test_a_pre_sale_question_says_where_to_ask_and_never_asks_for_an_order(running_stack: Stack) -> None:
    chat = Conversation(running_stack)

    reply = chat.say("这个杯子有没有粉色的")

    assert "售前" in reply and "订单号" not in reply
    # No decision, only the unanswered-question log's entry (issue 12).
    assert [(r["kind"], r["outcome"]) for r in chat.records()] == [("unanswered", "answered_out_of_scope")]


def test_three_messages_in_a_row_not_understood_go_to_a_person(running_stack: Stack) -> None:
    chat = Conversation(running_stack)

    first = chat.say("/nlu_fallback")
    second = chat.say("/nlu_fallback")
    third = chat.say("/nlu_fallback")

    assert len({first, second, third}) == 3  # never the same words twice
    [handoff] = chat.records("handoff")
    assert handoff["details"]["reason"] == "repeated_failure"
    assert "人工" in third


def test_a_shopper_who_will_not_give_the_phone_digits_is_asked_twice_then_handed_over(
    running_stack: Stack,
) -> None:
    chat = Conversation(running_stack)

    asked = chat.say("帮我查下订单8800001001到哪了")
    again = chat.say("我就想知道东西到哪了 你们问这么多干嘛")
    last = chat.say("是我老公下的单 我不知道他号码")

    assert "后四位" in asked and "后四位" in again and asked != again
    assert "保护" in again  # it says once why it asks
    assert "后四位" not in last  # and then stops asking
    [handoff] = chat.records("handoff")
    assert handoff["details"]["reason"] == "repeated_failure"
    assert chat.records("identity_check") == []  # nothing was tried on the order


def test_a_complaint_goes_on_when_the_shopper_gives_no_contact_number(running_stack: Stack) -> None:
    chat = Conversation(running_stack)

    chat.say("我要投诉，快递员态度太差了，东西直接扔在门口就走了")
    again = chat.say("8800001001")  # an order number, not a phone number
    done = chat.say("电话就不留了")

    assert "不留" in again
    [complaint] = chat.records("complaint")
    assert complaint["details"]["category"] == "logistics"
    assert complaint["details"]["ticket_id"] in done
    assert not repeats_three_times(chat.replies())


def test_a_late_parcel_is_apologised_for_and_chased_with_a_logistics_complaint(running_stack: Stack) -> None:
    chat = Conversation(running_stack)

    chat.say(f"我买的水壶怎么还没到啊 订单号{LATE_PARCEL}")
    late = chat.say("9034")

    assert "超过预计" in late and "抱歉" in late
    assert [b["payload"] for b in chat.buttons()] == ["/affirm", "/request_human", "/deny"]
    assert "电话" in chat.say("/affirm")  # only the contact number is asked
    chat.say("13655559034")

    [complaint] = chat.records("complaint")
    assert (complaint["order_id"], complaint["details"]["category"]) == (LATE_PARCEL, "logistics")
    assert "超时" in chat.complaint_ticket(complaint["details"]["ticket_id"])["description"]


def test_a_rules_question_inside_a_return_is_answered_for_that_order(running_stack: Stack) -> None:
    chat = Conversation(running_stack)

    chat.say("我想退货，订单号8800001001")
    chat.say("8000")
    answer = chat.say("退货运费谁出？")

    assert "8800001001" in answer and "运费由您承担" in answer
    assert "请告诉我订单号" not in answer
    assert "完好" in answer  # and the return goes on: is the T-shirt intact?


def test_the_refund_of_a_cancelled_order_is_looked_up_not_the_order(running_stack: Stack) -> None:
    chat = Conversation(running_stack)

    chat.say(f"下单后就取消了，钱什么时候退回来啊 订单{CANCELLED_ORDER}")
    chat.say("9034")

    [refund] = chat.records("refund_status")
    assert (refund["order_id"], refund["outcome"]) == (CANCELLED_ORDER, "on_time")


def test_a_greeting_that_opens_a_question_gets_the_question_answered(running_stack: Stack) -> None:
    chat = Conversation(running_stack)

    reply = chat.say("您好 我想问一下 我那个退款怎么还没到账啊 在线等 急")

    assert "订单" in reply  # the refund check starts: which order?
    assert "很高兴为您服务" not in reply


def test_stop_always_works_inside_a_form(running_stack: Stack) -> None:
    chat = Conversation(running_stack)

    chat.say("我要退货")
    reply = chat.say("算了")

    assert "取消" in reply
    assert "订单号" not in chat.say("谢谢")


def test_digits_for_one_order_are_not_tried_on_the_next(running_stack: Stack) -> None:
    chat = Conversation(running_stack)

    chat.say("查一下退款 订单8800001001 尾号8000")
    reply = chat.say("还有一单8800001004的退款也帮我查查")

    assert "后四位" in reply  # asked for this order's owner
    assert [r["outcome"] for r in chat.records("identity_check")] == ["verified"]


def test_no_turn_calls_the_action_server_more_often_than_the_lock_allows_for(running_stack: Stack) -> None:
    # A return from the opening line to its filing: every form step, then the decision.
    chat = Conversation(running_stack)
    for text in ("你好 我买的东西想退了", "8800001001", "5555", "1", "没拆过 完好的", "是的", "谢谢"):
        chat.say(text)

    calls = chat.action_server_calls_per_turn()

    assert len(calls) == 7 and max(calls) >= 2
    assert max(calls) <= MAX_REMOTE_ACTIONS_PER_TURN, calls


def test_venting_about_a_parcel_on_its_way_says_where_it_is_and_files_the_complaint(running_stack: Stack) -> None:
    chat = Conversation(running_stack)
    vent = "你们这物流也太慢了吧 磨磨蹭蹭的 气死我了 以后再也不在你们家买了"

    chat.say("我的快递到哪了，订单号8800001007")  # shipped yesterday: on its way, not late
    chat.say("5555")
    told = chat.say(vent)
    if "电话" in told and not chat.records("complaint"):
        told += chat.say("13700005555")

    [complaint] = chat.records("complaint")
    assert (complaint["order_id"], complaint["details"]["category"]) == ("8800001007", "logistics")
    assert "运输中" in "\n".join(chat.replies()[-2:])
    assert vent in chat.complaint_ticket(complaint["details"]["ticket_id"])["description"]


def test_question_marks_alone_offer_a_person_and_no_guessed_task(running_stack: Stack) -> None:
    chat = Conversation(running_stack)

    reply = chat.say("？？？")

    # Taken as "are you there?" or as not understood: either way no task is guessed for
    # it, and a person is on offer.
    titles = [button["title"] for button in chat.buttons()]
    assert "取消订单" not in titles and "订单号" not in reply
    assert "人工" in reply or "转人工客服" in titles
