import { afterEach, beforeEach, describe, expect, it } from "vitest";

import type { Connect } from "../src/connection";
import { ChatWidget, HOST_ID, readConfig } from "../src/widget";

type Handler = (data?: unknown) => void;

/** A socket.io client socket as far as the widget uses it; the test plays the server. */
class FakeSocket {
  connected = false;
  active = true;
  readonly emitted: [string, unknown][] = [];
  readonly auths: unknown[] = [];
  private readonly handlers = new Map<string, Handler[]>();
  readonly io = { engine: { close: () => this.drop() } };

  constructor(private readonly auth: (send: (data: object) => void) => void) {}

  on(event: string, handler: Handler): this {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), handler]);
    return this;
  }

  emit(event: string, data: unknown): this {
    this.emitted.push([event, data]);
    return this;
  }

  connect(): this {
    return this;
  }

  /** The server accepts the connection and confirms the session. */
  accept(conversationId: string, sessionToken = `token-of-${conversationId}`): void {
    this.auth((data) => this.auths.push(data));
    this.connected = true;
    this.fire("session_confirm", { session_token: sessionToken, conversation_id: conversationId, logged_in: false, display_name: null });
  }

  drop(): void {
    this.connected = false;
    this.fire("disconnect", "transport close");
  }

  fire(event: string, data?: unknown): void {
    for (const handler of this.handlers.get(event) ?? []) handler(data);
  }

  userMessages(): unknown[] {
    return this.emitted.filter(([event]) => event === "user_uttered").map(([, data]) => (data as { message: string }).message);
  }
}

let sockets: FakeSocket[];
const connect: Connect = (_url, options) => {
  const socket = new FakeSocket(options.auth as (send: (data: object) => void) => void);
  sockets.push(socket);
  return socket as never;
};

function mountWidget(shopperToken: string | null = null): ChatWidget {
  const widget = new ChatWidget(document, { server: "http://127.0.0.1:5005", shopperToken, title: "在线客服" }, connect);
  widget.mount();
  return widget;
}

function shadow(widget: ChatWidget): ShadowRoot {
  return widget.host.shadowRoot as ShadowRoot;
}

beforeEach(() => {
  sockets = [];
  localStorage.clear();
  sessionStorage.clear();
});

afterEach(() => document.getElementById(HOST_ID)?.remove());

describe("ChatWidget", () => {
  it("connects when opened and shows the conversation it joined", () => {
    const widget = mountWidget();
    expect(sockets).toHaveLength(0);
    (shadow(widget).querySelector(".yx-launcher") as HTMLButtonElement).click();
    sockets[0].accept("conv-1");
    expect(sockets[0].auths).toEqual([{}]);
    expect(widget.host.dataset.conversationId).toBe("conv-1");
    expect(widget.host.dataset.connection).toBe("online");
    expect(shadow(widget).querySelector(".yx-human")?.textContent).toBe("转人工");
  });

  it("queues messages while reconnecting and sends them in the resumed session", () => {
    const widget = mountWidget();
    widget.open();
    const socket = sockets[0];
    socket.accept("conv-1");
    widget.send("我的退款怎么还没到");
    socket.drop();
    expect(shadow(widget).querySelector(".yx-banner")?.hasAttribute("hidden")).toBe(false);
    expect(shadow(widget).querySelector(".yx-status")?.textContent).toBe("正在重新连接…");
    widget.send("8800002003");
    expect(shadow(widget).querySelector('[data-status="pending"]')?.textContent).toContain("8800002003");
    expect(socket.userMessages()).toEqual(["我的退款怎么还没到"]);

    socket.accept("conv-1");
    expect(socket.auths[1]).toEqual({ session_token: "token-of-conv-1" });
    expect(socket.userMessages()).toEqual(["我的退款怎么还没到", "8800002003"]);
    expect(shadow(widget).querySelector('[data-status="pending"]')).toBeNull();
    expect(shadow(widget).querySelector(".yx-banner")?.hasAttribute("hidden")).toBe(true);
  });

  it("sends a quick reply's payload, shows its title, and the typing indicator until the turn ends", () => {
    const widget = mountWidget();
    widget.open();
    const socket = sockets[0];
    socket.accept("conv-1");
    socket.fire("bot_uttered", { text: "请问是哪个订单？", quick_replies: [{ title: "8800002003 · 牛皮纸笔记本", payload: "8800002003" }] });
    (shadow(widget).querySelector(".yx-quick-reply") as HTMLButtonElement).click();
    expect(socket.userMessages()).toEqual(["8800002003"]);
    expect(shadow(widget).querySelector(".yx-bubble-user")?.textContent).toBe("我：8800002003 · 牛皮纸笔记本");
    expect((shadow(widget).querySelector(".yx-quick-reply") as HTMLButtonElement).disabled).toBe(true);
    expect(shadow(widget).querySelector(".yx-typing")).not.toBeNull();
    socket.fire("bot_typing", { typing: false });
    expect(shadow(widget).querySelector(".yx-typing")).toBeNull();
  });

  it("sends 转人工 from the header button", () => {
    const widget = mountWidget();
    widget.open();
    sockets[0].accept("conv-1");
    (shadow(widget).querySelector(".yx-human") as HTMLButtonElement).click();
    expect(sockets[0].userMessages()).toEqual(["转人工"]);
  });

  it("keeps the transcript and the session over a reload", () => {
    const first = mountWidget();
    first.open();
    sockets[0].accept("conv-1");
    first.send("你好");
    sockets[0].fire("bot_uttered", { text: "<b>您好</b>", order_card: { order_id: "8800001001", items: [] } });
    first.host.remove();

    const second = mountWidget();
    expect(second.isOpen).toBe(true);
    sockets[1].accept("conv-1");
    expect(sockets[1].auths).toEqual([{ session_token: "token-of-conv-1" }]);
    const log = shadow(second).querySelector(".yx-log") as HTMLElement;
    expect(log.textContent).toContain("<b>您好</b>");
    expect(log.querySelector("b")).toBeNull();
    expect(log.querySelector(".yx-order-id")?.textContent).toBe("8800001001");
  });

  it("refuses an over-long message without sending it", () => {
    const widget = mountWidget();
    widget.open();
    sockets[0].accept("conv-1");
    widget.send("退".repeat(1001));
    expect(sockets[0].userMessages()).toEqual([]);
    expect(shadow(widget).querySelector(".yx-notice")?.textContent).toBe("消息太长了，请控制在1000个字以内。");
  });

  it("starts a new session when the stored one is refused", () => {
    localStorage.clear();
    const widget = mountWidget();
    widget.open();
    const socket = sockets[0];
    socket.accept("conv-1");
    socket.drop();
    socket.active = false;
    socket.auths.length = 0;
    // The reconnect offers the stored session token, which the server now refuses.
    (socket as unknown as { auth: (send: (data: object) => void) => void }).auth((data) => socket.auths.push(data));
    socket.fire("connect_error", Object.assign(new Error("refused"), { data: { code: "expired_token", message: "会话已过期" } }));
    socket.accept("conv-2");
    expect(socket.auths).toEqual([{ session_token: "token-of-conv-1" }, {}]);
    expect(widget.host.dataset.conversationId).toBe("conv-2");
  });

  it("shows the server's reason when a shopper token is refused", () => {
    const widget = mountWidget("a.b.c");
    widget.open();
    sockets[0].active = false;
    (sockets[0] as unknown as { auth: (send: (data: object) => void) => void }).auth(() => undefined);
    sockets[0].fire("connect_error", Object.assign(new Error("refused"), { data: { code: "invalid_token", message: "登录信息无效，请重新登录后再试。" } }));
    expect(widget.host.dataset.connection).toBe("refused");
    expect(shadow(widget).querySelector(".yx-notice")?.textContent).toBe("登录信息无效，请重新登录后再试。");
  });

  it("toggles and remembers large-text mode", () => {
    const widget = mountWidget();
    const toggle = shadow(widget).querySelector(".yx-large-toggle") as HTMLButtonElement;
    toggle.click();
    expect(shadow(widget).querySelector(".yx-root")?.classList.contains("yx-large")).toBe(true);
    expect(toggle.getAttribute("aria-pressed")).toBe("true");
    widget.host.remove();
    const again = mountWidget();
    expect(again.host.dataset.largeText).toBe("true");
  });
});

describe("readConfig", () => {
  it("reads the script tag, defaulting the server to the script's origin", () => {
    const script = document.createElement("script");
    script.src = "https://kefu.example.com/webhooks/widget/widget.js";
    script.dataset.shopperToken = " jwt ";
    expect(readConfig(script, "https://shop.example.com/")).toEqual({ server: "https://kefu.example.com", shopperToken: "jwt", title: "在线客服" });
    script.dataset.server = "javascript:alert(1)";
    expect(readConfig(script, "https://shop.example.com/").server).toBe("https://kefu.example.com");
    script.dataset.server = "http://127.0.0.1:5005/";
    expect(readConfig(script, "https://shop.example.com/").server).toBe("http://127.0.0.1:5005");
  });
});

describe("widget_error", () => {
  it("shows the server's text and stops waiting for an answer", () => {
    const widget = mountWidget();
    widget.open();
    sockets[0].accept("conv-1");
    widget.send("你好");
    expect(shadow(widget).querySelector(".yx-typing")).not.toBeNull();
    sockets[0].fire("widget_error", { code: "malformed", message: "消息格式不正确，请重新发送。" });
    expect(shadow(widget).querySelector(".yx-typing")).toBeNull();
    expect(shadow(widget).querySelector(".yx-notice")?.textContent).toBe("消息格式不正确，请重新发送。");
  });
});
