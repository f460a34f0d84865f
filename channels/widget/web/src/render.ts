// Pure rendering of transcript entries to DOM. Text from the bot or the shopper is only
// ever set with textContent (never innerHTML), so markup in a message shows as text.

import { TEXTS } from "./texts";
import type { BotEntry, NoticeEntry, OrderCard, QuickReply, TranscriptEntry, UserEntry } from "./types";

export type QuickReplyHandler = (reply: QuickReply) => void;

interface ElementOptions {
  className?: string;
  text?: string;
  attributes?: Record<string, string>;
}

/** A new element with a class, text content and attributes. */
export function element<K extends keyof HTMLElementTagNameMap>(
  doc: Document,
  tag: K,
  { className, text, attributes }: ElementOptions = {},
  ...children: Node[]
): HTMLElementTagNameMap[K] {
  const node = doc.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes ?? {})) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** Text only screen readers read, e.g. who said a message. */
function screenReaderText(doc: Document, text: string): HTMLSpanElement {
  return element(doc, "span", { className: "yx-sr-only", text });
}

function avatar(doc: Document): HTMLDivElement {
  return element(doc, "div", { className: "yx-avatar", text: "客", attributes: { "aria-hidden": "true" } });
}

/**
 * The buttons of a bot message's options.
 *
 * @param onPick Called with the reply clicked; without it the buttons are shown disabled
 *   (options of an earlier turn, kept in the transcript).
 */
export function renderQuickReplies(
  doc: Document,
  replies: readonly QuickReply[],
  onPick?: QuickReplyHandler,
): HTMLDivElement {
  const group = element(doc, "div", {
    className: "yx-quick-replies",
    attributes: { role: "group", "aria-label": TEXTS.quickRepliesLabel },
  });
  for (const reply of replies) {
    const button = element(doc, "button", {
      className: "yx-quick-reply",
      text: reply.title,
      attributes: { type: "button" },
    });
    if (onPick) button.addEventListener("click", () => onPick(reply));
    else button.disabled = true;
    group.append(button);
  }
  return group;
}

/** An amount as the server sent it, with the yuan sign when it is a bare number. */
export function formatAmount(amount: string): string {
  return /^\d+(\.\d+)?$/.test(amount.trim()) ? `¥${amount.trim()}` : amount;
}

export function renderOrderCard(doc: Document, card: OrderCard): HTMLElement {
  const header = element(
    doc,
    "div",
    { className: "yx-order-header" },
    element(doc, "span", { className: "yx-order-label", text: TEXTS.orderNumber }),
    element(doc, "span", { className: "yx-order-id", text: card.order_id }),
  );
  if (card.status_text) {
    header.append(element(doc, "span", { className: "yx-order-status", text: card.status_text }));
  }
  const items = element(doc, "ul", { className: "yx-order-items" });
  for (const item of card.items) {
    items.append(
      element(
        doc,
        "li",
        {},
        element(doc, "span", { className: "yx-order-item-name", text: item.name }),
        element(doc, "span", { className: "yx-order-item-quantity", text: TEXTS.quantity(item.quantity) }),
      ),
    );
  }
  const facts = element(doc, "dl", { className: "yx-order-facts" });
  const fact = (label: string, value: string, className: string) => {
    if (value) {
      facts.append(
        element(doc, "div", {}, element(doc, "dt", { text: label }), element(doc, "dd", { className, text: value })),
      );
    }
  };
  fact(TEXTS.orderAmount, formatAmount(card.amount), "yx-order-amount");
  fact(TEXTS.orderPaidAt, card.paid_at, "yx-order-paid-at");
  return element(
    doc,
    "section",
    { className: "yx-order-card", attributes: { "aria-label": TEXTS.orderCardLabel(card.order_id) } },
    header,
    items,
    facts,
  );
}

export function renderBotEntry(doc: Document, entry: BotEntry, onQuickReply?: QuickReplyHandler): HTMLDivElement {
  const column = element(doc, "div", { className: "yx-column" });
  if (entry.text) {
    column.append(
      element(
        doc,
        "div",
        { className: "yx-bubble yx-bubble-bot" },
        screenReaderText(doc, `${TEXTS.botSaid}：`),
        doc.createTextNode(entry.text),
      ),
    );
  }
  if (entry.orderCard) column.append(renderOrderCard(doc, entry.orderCard));
  if (entry.quickReplies.length > 0) column.append(renderQuickReplies(doc, entry.quickReplies, onQuickReply));
  return element(doc, "div", { className: "yx-row yx-row-bot" }, avatar(doc), column);
}

export function renderUserEntry(doc: Document, entry: UserEntry): HTMLDivElement {
  const bubble = element(
    doc,
    "div",
    { className: "yx-bubble yx-bubble-user" },
    screenReaderText(doc, `${TEXTS.youSaid}：`),
    doc.createTextNode(entry.text),
  );
  const row = element(doc, "div", {
    className: "yx-row yx-row-user",
    attributes: { "data-message-id": entry.messageId, "data-status": entry.status },
  });
  if (entry.status === "pending") {
    row.append(
      element(doc, "span", {
        className: "yx-pending",
        text: TEXTS.pending,
        attributes: { title: TEXTS.pendingLabel, "aria-label": TEXTS.pendingLabel },
      }),
    );
  }
  row.append(bubble);
  return row;
}

export function renderNotice(doc: Document, entry: NoticeEntry): HTMLDivElement {
  return element(doc, "div", { className: "yx-notice", text: entry.text });
}

/**
 * One transcript entry.
 *
 * @param onQuickReply Makes a bot entry's quick replies clickable (the latest bot turn only).
 */
export function renderEntry(doc: Document, entry: TranscriptEntry, onQuickReply?: QuickReplyHandler): HTMLElement {
  switch (entry.kind) {
    case "bot":
      return renderBotEntry(doc, entry, onQuickReply);
    case "user":
      return renderUserEntry(doc, entry);
    case "notice":
      return renderNotice(doc, entry);
  }
}

/** The bot's "typing…" bubble: three dots, read out as text. */
export function renderTypingIndicator(doc: Document): HTMLDivElement {
  const dots = element(doc, "div", { className: "yx-bubble yx-bubble-bot yx-typing-dots" });
  for (let i = 0; i < 3; i++) dots.append(element(doc, "span", { className: "yx-dot", attributes: { "aria-hidden": "true" } }));
  dots.append(screenReaderText(doc, TEXTS.typing));
  return element(doc, "div", { className: "yx-row yx-row-bot yx-typing", attributes: { role: "status" } }, avatar(doc), dots);
}
