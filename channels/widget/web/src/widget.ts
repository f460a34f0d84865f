// The widget on the shop's page: a launcher button and a chat panel inside a shadow root
// (the shop's CSS cannot break it, and its CSS cannot leak into the shop).

import { ChatConnection, type Connect, type ConnectionState } from "./connection";
import { Conversation } from "./conversation";
import { icon } from "./icons";
import { MAX_MESSAGE_LENGTH, newMessageId, shopperOfToken } from "./protocol";
import { element, renderEntry, renderTypingIndicator } from "./render";
import { ConversationStore, Preferences, SafeStorage } from "./storage";
import styles from "./styles.css?inline";
import { TEXTS } from "./texts";
import type { BotMessage, SessionConfirm, WidgetError } from "./types";

/** The id of the element the widget mounts in; it also carries the widget's state as data attributes. */
export const HOST_ID = "aftersales-chat-widget";
/** The message the "转人工" button sends; the bot understands it as a request for a person. */
export const HUMAN_AGENT_MESSAGE = "转人工";
/** The typing indicator hides by itself when a turn takes longer than this. */
const TYPING_TIMEOUT_MS = 60_000;

export interface WidgetConfig {
  /** The Rasa server's origin. */
  server: string;
  /** The shop's signed token for a logged-in shopper, or null. */
  shopperToken: string | null;
  title: string;
}

/**
 * The configuration from the widget's script tag: `data-server` (else the script's own
 * origin), `data-shopper-token`, `data-title`.
 */
export function readConfig(script: HTMLScriptElement | null, pageUrl: string): WidgetConfig {
  const data = script?.dataset ?? {};
  const fallback = script?.src ? new URL(script.src, pageUrl).origin : new URL(pageUrl).origin;
  let server = fallback;
  if (data.server) {
    const url = new URL(data.server, pageUrl);
    if (url.protocol === "http:" || url.protocol === "https:") server = url.origin;
  }
  return {
    server,
    shopperToken: data.shopperToken?.trim() || null,
    title: data.title?.trim() || TEXTS.defaultTitle,
  };
}

interface Parts {
  root: HTMLDivElement;
  launcher: HTMLButtonElement;
  badge: HTMLSpanElement;
  panel: HTMLDivElement;
  status: HTMLSpanElement;
  largeText: HTMLButtonElement;
  banner: HTMLDivElement;
  log: HTMLDivElement;
  input: HTMLTextAreaElement;
  sendButton: HTMLButtonElement;
}

/** The launcher and chat panel; `connect` replaces socket.io's `io` in tests. */
export class ChatWidget {
  readonly host: HTMLElement;
  private readonly parts: Parts;
  private readonly conversation: Conversation;
  private readonly connection: ChatConnection;
  private readonly preferences: Preferences;
  private typing = false;
  private typingTimer: number | undefined;
  private unread = 0;
  private displayName: string | null = null;

  constructor(
    private readonly doc: Document,
    private readonly config: WidgetConfig,
    connect?: Connect,
  ) {
    const win = doc.defaultView ?? window;
    const local = new SafeStorage(() => win.localStorage);
    const session = new SafeStorage(() => win.sessionStorage);
    const shopper = config.shopperToken ? shopperOfToken(config.shopperToken) ?? "token" : null;
    const store = new ConversationStore(config.server, shopper, local, session);
    this.preferences = new Preferences(local, session);
    this.conversation = new Conversation(store);
    this.host = element(doc, "div", { attributes: { id: HOST_ID, "data-connection": "idle" } });
    const shadow = this.host.attachShadow({ mode: "open" });
    shadow.append(element(doc, "style", { text: styles }));
    this.parts = this.build(shadow);
    const events = {
      state: (state: ConnectionState, refusal?: WidgetError) => this.onState(state, refusal),
      session: (confirm: SessionConfirm) => this.onSession(confirm),
      botMessage: (message: BotMessage) => {
        this.conversation.addBot(message);
        if (!this.isOpen) this.unread += 1;
        this.render();
      },
      typing: (typing: boolean) => this.setTyping(typing),
      widgetError: (error: WidgetError) => {
        this.setTyping(false); // a refused message starts no turn
        this.notice(error.message);
      },
    };
    this.connection = new ChatConnection(config.server, config.shopperToken, store, events, connect, win);
    this.setLargeText(this.preferences.largeText);
    this.host.dataset.conversationId = this.conversation.conversationId ?? "";
    this.render();
  }

  /** Adds the widget to the page; opens it (and connects) when it was open before a reload. */
  mount(): void {
    this.doc.body.append(this.host);
    if (this.preferences.panelOpen) this.open();
    else if (this.conversation.pending().length > 0) this.connection.start();
  }

  get isOpen(): boolean {
    return !this.parts.panel.hidden;
  }

  open(): void {
    this.parts.panel.hidden = false;
    this.parts.launcher.setAttribute("aria-expanded", "true");
    this.parts.root.classList.add("yx-open");
    this.preferences.panelOpen = true;
    this.unread = 0;
    this.connection.start();
    this.render();
    this.parts.input.focus();
  }

  close(): void {
    this.parts.panel.hidden = true;
    this.parts.launcher.setAttribute("aria-expanded", "false");
    this.parts.root.classList.remove("yx-open");
    this.preferences.panelOpen = false;
    this.parts.launcher.focus();
  }

  /**
   * Sends a shopper's message, or keeps it to send after the reconnect.
   *
   * @param shown What the transcript shows (a quick reply's title); defaults to the message.
   */
  send(message: string, shown: string = message): void {
    const text = message.trim();
    if (!text) return;
    if (text.length > MAX_MESSAGE_LENGTH) {
      this.notice(TEXTS.tooLong(MAX_MESSAGE_LENGTH));
      return;
    }
    const messageId = newMessageId();
    const sent = this.connection.send(text, messageId);
    this.conversation.addUser(shown.trim() || text, text, messageId, sent);
    if (sent) this.setTyping(true);
    this.connection.start();
    this.render();
  }

  private onSession(confirm: SessionConfirm): void {
    if (this.conversation.confirm(confirm.conversationId)) this.conversation.addNotice(TEXTS.newConversation);
    this.host.dataset.conversationId = confirm.conversationId;
    this.host.dataset.loggedIn = String(confirm.loggedIn);
    this.displayName = confirm.displayName;
    let flushed = false;
    for (const entry of this.conversation.pending()) {
      if (!this.connection.send(entry.message, entry.messageId)) break;
      this.conversation.markSent(entry.messageId);
      flushed = true;
    }
    if (flushed) this.setTyping(true);
    this.render();
  }

  private onState(state: ConnectionState, refusal?: WidgetError): void {
    this.host.dataset.connection = state;
    const { status, banner, root } = this.parts;
    root.dataset.connection = state;
    banner.hidden = state !== "reconnecting";
    const statusText: Record<ConnectionState, string> = {
      idle: TEXTS.subtitle,
      connecting: TEXTS.connecting,
      online: TEXTS.online,
      reconnecting: TEXTS.reconnecting,
      refused: TEXTS.refused,
    };
    status.textContent = statusText[state];
    if (refusal) this.notice(refusal.message);
    this.renderStatus();
  }

  private notice(text: string): void {
    this.conversation.addNotice(text);
    this.render();
  }

  private setTyping(typing: boolean): void {
    this.typing = typing;
    this.doc.defaultView?.clearTimeout(this.typingTimer);
    if (typing) this.typingTimer = this.doc.defaultView?.setTimeout(() => this.setTyping(false), TYPING_TIMEOUT_MS);
    this.render();
  }

  private setLargeText(on: boolean): void {
    this.parts.root.classList.toggle("yx-large", on);
    this.parts.largeText.setAttribute("aria-pressed", String(on));
    this.host.dataset.largeText = String(on);
    this.preferences.largeText = on;
    // Larger type makes the transcript taller: keep the latest message in view.
    this.parts.log.scrollTop = this.parts.log.scrollHeight;
  }

  private renderStatus(): void {
    const { status } = this.parts;
    if (this.connection.state === "online" && this.displayName) {
      status.textContent = `${TEXTS.online} · ${TEXTS.greetingFor(this.displayName)}`;
    }
  }

  /** Redraws the transcript: the welcome, every entry, and the typing indicator. */
  private render(): void {
    const { log, badge } = this.parts;
    const doc = this.doc;
    const entries = this.conversation.entries;
    const nodes: Node[] = [
      element(doc, "div", { className: "yx-row yx-row-bot yx-welcome" },
        element(doc, "div", { className: "yx-avatar", text: "客", attributes: { "aria-hidden": "true" } }),
        element(doc, "div", { className: "yx-bubble yx-bubble-bot", text: TEXTS.welcome })),
    ];
    if (entries.length === 0) {
      const starters = element(doc, "div", {
        className: "yx-quick-replies yx-starters",
        attributes: { role: "group", "aria-label": TEXTS.startersLabel },
      });
      for (const starter of TEXTS.starters) {
        const button = element(doc, "button", { className: "yx-quick-reply", text: starter, attributes: { type: "button" } });
        button.addEventListener("click", () => this.send(starter));
        starters.append(button);
      }
      nodes.push(starters);
    }
    entries.forEach((entry, index) => {
      const active = entry.kind === "bot" && this.conversation.repliesActive(index);
      nodes.push(renderEntry(doc, entry, active ? (reply) => this.send(reply.payload, reply.title) : undefined));
    });
    if (this.typing) nodes.push(renderTypingIndicator(doc));
    log.replaceChildren(...nodes);
    log.scrollTop = log.scrollHeight;
    badge.hidden = this.unread === 0;
    badge.textContent = this.unread > 99 ? "99+" : String(this.unread);
    this.renderStatus();
  }

  private build(shadow: ShadowRoot): Parts {
    const doc = this.doc;
    const button = (className: string, label: string, text?: string) =>
      element(doc, "button", { className, text, attributes: { type: "button", "aria-label": label, title: label } });

    const badge = element(doc, "span", { className: "yx-badge", attributes: { "aria-hidden": "true" } });
    badge.hidden = true;
    const launcher = button("yx-launcher", TEXTS.openLauncher);
    launcher.setAttribute("aria-expanded", "false");
    launcher.append(icon(doc, "chat", "yx-icon yx-launcher-icon"),
      element(doc, "span", { className: "yx-launcher-text", text: TEXTS.launcherLabel }), badge);
    launcher.addEventListener("click", () => (this.isOpen ? this.close() : this.open()));

    const status = element(doc, "span", { className: "yx-status", text: TEXTS.subtitle, attributes: { "aria-live": "polite" } });
    const largeText = button("yx-header-button yx-large-toggle", TEXTS.largeTextLabel, TEXTS.largeText);
    largeText.addEventListener("click", () => this.setLargeText(!this.parts.root.classList.contains("yx-large")));
    const human = button("yx-header-button yx-human", TEXTS.humanAgentLabel);
    human.append(icon(doc, "headset"), element(doc, "span", { text: TEXTS.humanAgent }));
    human.addEventListener("click", () => this.send(HUMAN_AGENT_MESSAGE));
    const minimize = button("yx-header-button yx-close", TEXTS.closePanel);
    minimize.append(icon(doc, "minimize"));
    minimize.addEventListener("click", () => this.close());

    const header = element(doc, "header", { className: "yx-header" },
      element(doc, "div", { className: "yx-header-avatar", attributes: { "aria-hidden": "true" } }, icon(doc, "headset")),
      element(doc, "div", { className: "yx-header-text" },
        element(doc, "h2", { className: "yx-title", text: this.config.title }),
        status),
      element(doc, "div", { className: "yx-header-actions" }, largeText, human, minimize));

    const banner = element(doc, "div", {
      className: "yx-banner",
      text: TEXTS.reconnectingBanner,
      attributes: { role: "status" },
    });
    banner.hidden = true;
    const log = element(doc, "div", {
      className: "yx-log",
      attributes: { role: "log", "aria-live": "polite", "aria-label": TEXTS.messagesLabel, tabindex: "0" },
    });

    const input = element(doc, "textarea", {
      className: "yx-input",
      attributes: {
        rows: "1",
        maxlength: String(MAX_MESSAGE_LENGTH),
        placeholder: TEXTS.inputPlaceholder,
        "aria-label": TEXTS.inputLabel,
        enterkeyhint: "send",
      },
    });
    const sendButton = button("yx-send", TEXTS.sendLabel);
    sendButton.append(icon(doc, "send"), element(doc, "span", { text: TEXTS.send }));
    const form = element(doc, "form", { className: "yx-composer" }, input, sendButton);
    const submit = () => {
      const text = input.value;
      input.value = "";
      this.send(text);
      input.focus();
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit();
    });
    input.addEventListener("keydown", (event) => {
      // Enter picks a candidate while a Chinese input method is composing; it sends only after.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        submit();
      }
    });

    const panel = element(doc, "div", {
      className: "yx-panel",
      attributes: { role: "dialog", "aria-label": TEXTS.panelLabel },
    }, header, banner, log, form);
    panel.hidden = true;
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });

    const root = element(doc, "div", { className: "yx-root", attributes: { lang: "zh-CN" } }, panel, launcher);
    shadow.append(root);
    return { root, launcher, badge, panel, status, largeText, banner, log, input, sendButton };
  }
}
