// Pure parsing of what the server sends: anything malformed is dropped, never shown half-way.

import type { BotMessage, OrderCard, OrderItem, QuickReply, SessionConfirm, WidgetError } from "./types";

/** The socket.io path the Rasa widget channel serves. */
export const SOCKET_PATH = "/webhooks/widget/socket.io";
/** The longest message the server accepts, in characters. */
export const MAX_MESSAGE_LENGTH = 1000;

type Fields = Record<string, unknown>;

function isFields(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A string, or a number shown as one; anything else is absent. */
function text(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return null;
}

export function parseQuickReplies(value: unknown): QuickReply[] {
  if (!Array.isArray(value)) return [];
  const replies: QuickReply[] = [];
  for (const reply of value) {
    if (!isFields(reply)) continue;
    const title = text(reply.title);
    const payload = text(reply.payload);
    if (title && payload) replies.push({ title, payload });
  }
  return replies;
}

export function parseOrderCard(value: unknown): OrderCard | null {
  if (!isFields(value)) return null;
  const orderId = text(value.order_id);
  if (!orderId) return null;
  const items: OrderItem[] = [];
  if (Array.isArray(value.items)) {
    for (const item of value.items) {
      if (!isFields(item)) continue;
      const name = text(item.name);
      if (name) items.push({ name, quantity: text(item.quantity) ?? "1" });
    }
  }
  return {
    order_id: orderId,
    status_text: text(value.status_text) ?? "",
    items,
    amount: text(value.amount) ?? "",
    paid_at: text(value.paid_at) ?? "",
  };
}

/** A `bot_uttered` payload, or null when it carries nothing to show. */
export function parseBotMessage(value: unknown): BotMessage | null {
  if (!isFields(value)) return null;
  const message: BotMessage = {
    text: text(value.text) ?? "",
    quickReplies: parseQuickReplies(value.quick_replies),
    orderCard: parseOrderCard(value.order_card),
  };
  const empty = !message.text && message.quickReplies.length === 0 && !message.orderCard;
  return empty ? null : message;
}

export function parseSessionConfirm(value: unknown): SessionConfirm | null {
  if (!isFields(value)) return null;
  const sessionToken = text(value.session_token);
  const conversationId = text(value.conversation_id);
  if (!sessionToken || !conversationId) return null;
  return {
    sessionToken,
    conversationId,
    loggedIn: value.logged_in === true,
    displayName: text(value.display_name),
  };
}

/** A `widget_error` payload or a refused connect's data; null when it is neither. */
export function parseWidgetError(value: unknown): WidgetError | null {
  if (!isFields(value)) return null;
  const code = text(value.code);
  const message = text(value.message);
  return code && message ? { code, message } : null;
}

/** A `bot_typing` payload: true, false, or null when malformed. */
export function parseTyping(value: unknown): boolean | null {
  return isFields(value) && typeof value.typing === "boolean" ? value.typing : null;
}

/** A random RFC 4122 v4 id; `crypto.randomUUID` exists only on https pages, this does not. */
export function newMessageId(random: Crypto = crypto): string {
  const bytes = random.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Who a shopper token names (its unverified `sub`), only to keep one stored session per
 * shopper in a browser; the server verifies the token itself.
 */
export function shopperOfToken(token: string): string | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "="));
    const json = new TextDecoder().decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
    const claims: unknown = JSON.parse(json);
    return isFields(claims) ? text(claims.sub) : null;
  } catch {
    return null;
  }
}
