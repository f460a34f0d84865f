import { describe, expect, it } from "vitest";

import {
  newMessageId,
  parseBotMessage,
  parseOrderCard,
  parseSessionConfirm,
  parseTyping,
  parseWidgetError,
  shopperOfToken,
} from "../src/protocol";

describe("parseBotMessage", () => {
  it("reads text, quick replies and an order card", () => {
    const message = parseBotMessage({
      text: "请选择订单",
      quick_replies: [{ title: "8800001001 · 纯棉圆领T恤", payload: "8800001001" }],
      order_card: { order_id: "8800001001", status_text: "已签收", items: [{ name: "纯棉圆领T恤", quantity: 1 }], amount: "199.00", paid_at: "11月17日" },
    });
    expect(message).toEqual({
      text: "请选择订单",
      quickReplies: [{ title: "8800001001 · 纯棉圆领T恤", payload: "8800001001" }],
      orderCard: { order_id: "8800001001", status_text: "已签收", items: [{ name: "纯棉圆领T恤", quantity: "1" }], amount: "199.00", paid_at: "11月17日" },
    });
  });

  it("drops malformed parts and keeps the rest", () => {
    const message = parseBotMessage({
      text: "好的",
      quick_replies: [{ title: "缺少payload" }, "not an object", { title: "是", payload: "/affirm" }],
      order_card: { status_text: "没有订单号" },
    });
    expect(message).toEqual({ text: "好的", quickReplies: [{ title: "是", payload: "/affirm" }], orderCard: null });
  });

  it("ignores payloads with nothing to show", () => {
    for (const payload of [null, "text", [], {}, { text: "" }, { text: null }]) {
      expect(parseBotMessage(payload)).toBeNull();
    }
  });
});

describe("parseOrderCard", () => {
  it("skips items without a name", () => {
    expect(parseOrderCard({ order_id: "1", items: [{ quantity: "2" }, { name: "杯子" }] })?.items).toEqual([
      { name: "杯子", quantity: "1" },
    ]);
  });
});

describe("session and error events", () => {
  it("reads session_confirm", () => {
    expect(parseSessionConfirm({ session_token: "t", conversation_id: "c", logged_in: true, display_name: "张伟" })).toEqual({
      sessionToken: "t",
      conversationId: "c",
      loggedIn: true,
      displayName: "张伟",
    });
    expect(parseSessionConfirm({ session_token: "t" })).toBeNull();
  });

  it("reads widget_error and bot_typing", () => {
    expect(parseWidgetError({ code: "message_too_long", message: "消息太长" })).toEqual({ code: "message_too_long", message: "消息太长" });
    expect(parseWidgetError({ code: "x" })).toBeNull();
    expect(parseTyping({ typing: false })).toBe(false);
    expect(parseTyping({ typing: "yes" })).toBeNull();
  });
});

describe("newMessageId", () => {
  it("makes distinct version 4 UUIDs", () => {
    const ids = new Set(Array.from({ length: 100 }, () => newMessageId()));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe("shopperOfToken", () => {
  const encode = (value: object) =>
    btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(value))))
      .replace(/=+$/, "")
      .replace(/\+/g, "-")
      .replace(/\//g, "_");

  it("reads the subject of a JWT without verifying it", () => {
    expect(shopperOfToken(`${encode({ alg: "HS256" })}.${encode({ sub: "u_zhangwei", name: "张伟", exp: 1 })}.sig`)).toBe("u_zhangwei");
  });

  it("is null for anything else", () => {
    expect(shopperOfToken("garbage")).toBeNull();
    expect(shopperOfToken("a.!!!.c")).toBeNull();
    expect(shopperOfToken(`x.${encode({ name: "没有sub" })}.y`)).toBeNull();
  });
});
