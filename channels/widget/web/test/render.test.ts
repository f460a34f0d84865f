import { describe, expect, it, vi } from "vitest";

import {
  formatAmount,
  renderBotEntry,
  renderEntry,
  renderOrderCard,
  renderQuickReplies,
  renderTypingIndicator,
  renderUserEntry,
} from "../src/render";
import type { BotEntry, OrderCard } from "../src/types";

const CARD: OrderCard = {
  order_id: "8800002003",
  status_text: "已签收",
  items: [{ name: "牛皮纸笔记本(3本装)", quantity: "1" }],
  amount: "56.00",
  paid_at: "2025-11-17 10:20",
};

function bot(fields: Partial<BotEntry>): BotEntry {
  return { kind: "bot", text: "", quickReplies: [], orderCard: null, ...fields };
}

describe("renderBotEntry", () => {
  it("shows markup in a bot message as text, never as elements", () => {
    const text = '<img src=x onerror="alert(1)"><script>alert(2)</script>';
    const row = renderBotEntry(document, bot({ text }));
    expect(row.querySelector("img, script")).toBeNull();
    expect(row.querySelector(".yx-bubble-bot")?.textContent).toBe(`客服：${text}`);
  });

  it("keeps the line breaks of a message", () => {
    const row = renderBotEntry(document, bot({ text: "第一行\n第二行" }));
    expect(row.querySelector(".yx-bubble-bot")?.lastChild?.textContent).toBe("第一行\n第二行");
  });

  it("shows a message without text as its card and buttons only", () => {
    const row = renderBotEntry(document, bot({ orderCard: CARD, quickReplies: [{ title: "是", payload: "/affirm" }] }));
    expect(row.querySelector(".yx-bubble-bot")).toBeNull();
    expect(row.querySelector(".yx-order-card")).not.toBeNull();
    expect(row.querySelectorAll(".yx-quick-reply")).toHaveLength(1);
  });
});

describe("renderQuickReplies", () => {
  const replies = [
    { title: "8800002003 · 牛皮纸笔记本", payload: "8800002003" },
    { title: "<b>都不是</b>", payload: "/deny" },
  ];

  it("makes one button per reply that reports the reply clicked", () => {
    const onPick = vi.fn();
    const group = renderQuickReplies(document, replies, onPick);
    const buttons = group.querySelectorAll("button");
    expect(Array.from(buttons, (button) => button.textContent)).toEqual(["8800002003 · 牛皮纸笔记本", "<b>都不是</b>"]);
    expect(group.querySelector("b")).toBeNull();
    buttons[1].click();
    expect(onPick).toHaveBeenCalledWith(replies[1]);
    expect(group.getAttribute("aria-label")).toBe("可选回复");
  });

  it("shows the options of an earlier turn disabled", () => {
    const group = renderQuickReplies(document, replies);
    expect(Array.from(group.querySelectorAll("button"), (button) => button.disabled)).toEqual([true, true]);
  });
});

describe("renderOrderCard", () => {
  it("shows the order's number, status, items, amount and time", () => {
    const card = renderOrderCard(document, { ...CARD, items: [...CARD.items, { name: "中性笔", quantity: "2" }] });
    expect(card.querySelector(".yx-order-id")?.textContent).toBe("8800002003");
    expect(card.querySelector(".yx-order-status")?.textContent).toBe("已签收");
    expect(Array.from(card.querySelectorAll(".yx-order-items li"), (li) => li.textContent)).toEqual([
      "牛皮纸笔记本(3本装)×1",
      "中性笔×2",
    ]);
    expect(card.querySelector(".yx-order-amount")?.textContent).toBe("¥56.00");
    expect(card.querySelector(".yx-order-paid-at")?.textContent).toBe("2025-11-17 10:20");
    expect(card.getAttribute("aria-label")).toBe("订单 8800002003 的信息");
  });

  it("leaves out what the server did not send, and renders names as text", () => {
    const card = renderOrderCard(document, {
      order_id: "8800000001",
      status_text: "",
      items: [{ name: "<img src=x>", quantity: "1" }],
      amount: "",
      paid_at: "",
    });
    expect(card.querySelector(".yx-order-status, .yx-order-amount, .yx-order-paid-at, img")).toBeNull();
    expect(card.querySelector(".yx-order-item-name")?.textContent).toBe("<img src=x>");
  });
});

describe("formatAmount", () => {
  it("adds the yuan sign to a bare number only", () => {
    expect(formatAmount("199.00")).toBe("¥199.00");
    expect(formatAmount("¥199.00")).toBe("¥199.00");
    expect(formatAmount("199元")).toBe("199元");
  });
});

describe("renderUserEntry", () => {
  it("marks a message waiting for the connection", () => {
    const row = renderUserEntry(document, { kind: "user", text: "5555", message: "5555", messageId: "m1", status: "pending" });
    expect(row.dataset.status).toBe("pending");
    expect(row.querySelector(".yx-pending")?.textContent).toBe("待发送");
    expect(row.querySelector(".yx-bubble-user")?.textContent).toBe("我：5555");
  });

  it("shows a sent message without a mark", () => {
    const row = renderEntry(document, { kind: "user", text: "你好", message: "你好", messageId: "m2", status: "sent" });
    expect(row.querySelector(".yx-pending")).toBeNull();
  });
});

describe("renderTypingIndicator", () => {
  it("is a status that screen readers read as typing", () => {
    const indicator = renderTypingIndicator(document);
    expect(indicator.getAttribute("role")).toBe("status");
    expect(indicator.querySelector(".yx-sr-only")?.textContent).toBe("客服正在输入");
    expect(indicator.querySelectorAll(".yx-dot")).toHaveLength(3);
  });
});
