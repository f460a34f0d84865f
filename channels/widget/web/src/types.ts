// The socket.io payloads of notes/widget-contract.md, and what the widget keeps of them.

export interface QuickReply {
  title: string;
  payload: string;
}

export interface OrderItem {
  name: string;
  quantity: string;
}

export interface OrderCard {
  order_id: string;
  status_text: string;
  items: OrderItem[];
  amount: string;
  paid_at: string;
}

/** One `bot_uttered` event. */
export interface BotMessage {
  text: string;
  quickReplies: QuickReply[];
  orderCard: OrderCard | null;
}

/** The `session_confirm` event. */
export interface SessionConfirm {
  sessionToken: string;
  conversationId: string;
  loggedIn: boolean;
  displayName: string | null;
}

/** A `widget_error` event, or the data of a refused connect. */
export interface WidgetError {
  code: string;
  message: string;
}

export interface BotEntry extends BotMessage {
  kind: "bot";
}

/** A shopper's message: `text` is what they see (a quick reply's title), `message` what is sent. */
export interface UserEntry {
  kind: "user";
  text: string;
  message: string;
  messageId: string;
  status: "pending" | "sent";
}

/** A line from the widget itself (a refused connection, a too-long message). */
export interface NoticeEntry {
  kind: "notice";
  text: string;
}

export type TranscriptEntry = BotEntry | UserEntry | NoticeEntry;
