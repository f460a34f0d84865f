// What the widget remembers in the browser: the server's session token (localStorage, per
// server origin and shopper), the transcript (sessionStorage: this tab only), the
// large-text preference and whether the panel was open. Storage can be disabled or full
// (private browsing): the widget then works without remembering.

import { parseOrderCard, parseQuickReplies } from "./protocol";
import type { TranscriptEntry } from "./types";

const PREFIX = "aftersales-widget";
/** The transcript keeps the latest entries only, so sessionStorage never fills up. */
export const TRANSCRIPT_LIMIT = 200;

/** Storage that never throws: a blocked or full storage reads as empty and ignores writes. */
export class SafeStorage {
  constructor(private readonly storage: () => Storage) {}

  get(key: string): string | null {
    try {
      return this.storage().getItem(key);
    } catch {
      return null;
    }
  }

  set(key: string, value: string): void {
    try {
      this.storage().setItem(key, value);
    } catch {
      // Remembering is a convenience; the conversation goes on without it.
    }
  }

  remove(key: string): void {
    try {
      this.storage().removeItem(key);
    } catch {
      // As above.
    }
  }
}

/** The stored state of one shopper's conversation with one server. */
export class ConversationStore {
  private readonly sessionKey: string;
  private readonly transcriptKey: string;

  /**
   * @param serverOrigin The Rasa server's origin, e.g. `https://kefu.example.com`.
   * @param shopper The shop's account id of a logged-in shopper, null when anonymous.
   */
  constructor(
    serverOrigin: string,
    shopper: string | null,
    private readonly local: SafeStorage,
    private readonly session: SafeStorage,
  ) {
    const scope = `${serverOrigin}|${shopper ?? ""}`;
    this.sessionKey = `${PREFIX}:session:${scope}`;
    this.transcriptKey = `${PREFIX}:transcript:${scope}`;
  }

  get sessionToken(): string | null {
    return this.local.get(this.sessionKey);
  }

  set sessionToken(token: string | null) {
    if (token) this.local.set(this.sessionKey, token);
    else this.local.remove(this.sessionKey);
  }

  /** The transcript and the conversation it belongs to; empty when none or unreadable. */
  loadTranscript(): { conversationId: string | null; entries: TranscriptEntry[] } {
    const raw = this.session.get(this.transcriptKey);
    if (!raw) return { conversationId: null, entries: [] };
    try {
      const stored: unknown = JSON.parse(raw);
      if (typeof stored !== "object" || stored === null) throw new TypeError("not an object");
      const { conversationId, entries } = stored as { conversationId?: unknown; entries?: unknown };
      return {
        conversationId: typeof conversationId === "string" ? conversationId : null,
        entries: Array.isArray(entries) ? entries.flatMap(readEntry) : [],
      };
    } catch {
      return { conversationId: null, entries: [] };
    }
  }

  saveTranscript(conversationId: string | null, entries: readonly TranscriptEntry[]): void {
    const kept = entries.slice(-TRANSCRIPT_LIMIT);
    this.session.set(this.transcriptKey, JSON.stringify({ conversationId, entries: kept }));
  }
}

/** One stored entry checked field by field (sessionStorage is writable by any script). */
export function readEntry(value: unknown): TranscriptEntry[] {
  if (typeof value !== "object" || value === null) return [];
  const entry = value as Record<string, unknown>;
  const str = (field: unknown): field is string => typeof field === "string";
  switch (entry.kind) {
    case "bot":
      return str(entry.text)
        ? [{
            kind: "bot",
            text: entry.text,
            quickReplies: parseQuickReplies(entry.quickReplies),
            orderCard: parseOrderCard(entry.orderCard),
          }]
        : [];
    case "user":
      return str(entry.text) && str(entry.message) && str(entry.messageId)
        ? [{
            kind: "user",
            text: entry.text,
            message: entry.message,
            messageId: entry.messageId,
            status: entry.status === "pending" ? "pending" : "sent",
          }]
        : [];
    case "notice":
      return str(entry.text) ? [{ kind: "notice", text: entry.text }] : [];
    default:
      return [];
  }
}

/** Settings of this browser that are not about one conversation. */
export class Preferences {
  constructor(
    private readonly local: SafeStorage,
    private readonly session: SafeStorage,
  ) {}

  get largeText(): boolean {
    return this.local.get(`${PREFIX}:large-text`) === "1";
  }

  set largeText(on: boolean) {
    this.local.set(`${PREFIX}:large-text`, on ? "1" : "0");
  }

  /** Whether the panel was open in this tab, so a page change keeps it open. */
  get panelOpen(): boolean {
    return this.session.get(`${PREFIX}:open`) === "1";
  }

  set panelOpen(open: boolean) {
    this.session.set(`${PREFIX}:open`, open ? "1" : "0");
  }
}
