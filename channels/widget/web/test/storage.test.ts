import { beforeEach, describe, expect, it } from "vitest";

import { Conversation } from "../src/conversation";
import { ConversationStore, Preferences, SafeStorage, TRANSCRIPT_LIMIT } from "../src/storage";

const local = new SafeStorage(() => localStorage);
const session = new SafeStorage(() => sessionStorage);

function store(origin = "https://kefu.example.com", shopper: string | null = null): ConversationStore {
  return new ConversationStore(origin, shopper, local, session);
}

beforeEach(() => {
  localStorage.clear();
  sessionStorage.clear();
});

describe("ConversationStore", () => {
  it("keeps one session token per server origin and shopper, in localStorage", () => {
    store().sessionToken = "anonymous-token";
    store("https://kefu.example.com", "u_zhangwei").sessionToken = "zhangwei-token";
    expect(store().sessionToken).toBe("anonymous-token");
    expect(store("https://kefu.example.com", "u_zhangwei").sessionToken).toBe("zhangwei-token");
    expect(store("https://other.example.com").sessionToken).toBeNull();
    expect(sessionStorage.length).toBe(0);
    store().sessionToken = null;
    expect(store().sessionToken).toBeNull();
  });

  it("keeps the transcript in sessionStorage, the latest entries only", () => {
    const entries = Array.from({ length: TRANSCRIPT_LIMIT + 5 }, (_, i) => ({ kind: "notice" as const, text: `第${i}条` }));
    store().saveTranscript("conv-1", entries);
    const loaded = store().loadTranscript();
    expect(loaded.conversationId).toBe("conv-1");
    expect(loaded.entries).toHaveLength(TRANSCRIPT_LIMIT);
    expect(loaded.entries[0]).toEqual({ kind: "notice", text: "第5条" });
    expect(localStorage.length).toBe(0);
  });

  it("drops tampered or unreadable entries", () => {
    store().saveTranscript("conv-1", []);
    const transcriptKey = sessionStorage.key(0) ?? "";
    sessionStorage.setItem(transcriptKey, JSON.stringify({
      conversationId: 7,
      entries: [
        { kind: "bot", text: "好的", quickReplies: [{ title: "是" }], orderCard: "x" },
        { kind: "user", text: "缺少id", message: "缺少id" },
        { kind: "script", text: "?" },
        null,
      ],
    }));
    expect(store().loadTranscript()).toEqual({
      conversationId: null,
      entries: [{ kind: "bot", text: "好的", quickReplies: [], orderCard: null }],
    });
    sessionStorage.setItem(transcriptKey, "{not json");
    expect(store().loadTranscript()).toEqual({ conversationId: null, entries: [] });
  });

  it("works, without remembering, when storage is blocked", () => {
    const blocked = new SafeStorage(() => {
      throw new DOMException("blocked", "SecurityError");
    });
    const blockedStore = new ConversationStore("https://kefu.example.com", null, blocked, blocked);
    blockedStore.sessionToken = "t";
    blockedStore.saveTranscript("c", [{ kind: "notice", text: "x" }]);
    expect(blockedStore.sessionToken).toBeNull();
    expect(blockedStore.loadTranscript().entries).toEqual([]);
  });
});

describe("Preferences", () => {
  it("remembers large text across tabs and the open panel in this tab", () => {
    const preferences = new Preferences(local, session);
    expect(preferences.largeText).toBe(false);
    preferences.largeText = true;
    preferences.panelOpen = true;
    const later = new Preferences(local, session);
    expect(later.largeText).toBe(true);
    expect(later.panelOpen).toBe(true);
    expect(localStorage.length).toBe(1);
  });
});

describe("Conversation", () => {
  it("queues messages until they are sent and survives a reload", () => {
    const conversation = new Conversation(store());
    conversation.confirm("conv-1");
    conversation.addUser("你好", "你好", "m1", true);
    conversation.addUser("8800002003 · 笔记本", "8800002003", "m2", false);
    expect(conversation.pending().map((entry) => entry.messageId)).toEqual(["m2"]);

    const reloaded = new Conversation(store());
    expect(reloaded.conversationId).toBe("conv-1");
    expect(reloaded.pending().map((entry) => entry.message)).toEqual(["8800002003"]);
    reloaded.markSent("m2");
    expect(new Conversation(store()).pending()).toEqual([]);
  });

  it("starts a new transcript for a new conversation, keeping unsent messages", () => {
    const conversation = new Conversation(store());
    expect(conversation.confirm("conv-1")).toBe(false);
    conversation.addUser("第一句", "第一句", "m1", true);
    conversation.addBot({ text: "您好", quickReplies: [], orderCard: null });
    conversation.addUser("没发出去", "没发出去", "m2", false);
    expect(conversation.confirm("conv-1")).toBe(false);
    expect(conversation.entries).toHaveLength(3);
    expect(conversation.confirm("conv-2")).toBe(true);
    expect(conversation.entries.map((entry) => entry.kind === "user" && entry.messageId)).toEqual(["m2"]);
  });

  it("keeps quick replies clickable until the shopper answers", () => {
    const conversation = new Conversation(store());
    conversation.addBot({ text: "哪个订单？", quickReplies: [{ title: "A", payload: "a" }], orderCard: null });
    conversation.addBot({ text: "也可以直接输入订单号", quickReplies: [], orderCard: null });
    expect(conversation.repliesActive(0)).toBe(true);
    conversation.addUser("A", "a", "m1", true);
    expect(conversation.repliesActive(0)).toBe(false);
  });
});
