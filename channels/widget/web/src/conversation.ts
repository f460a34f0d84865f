// The transcript of one conversation and its rules, kept apart from the DOM and the socket.

import type { ConversationStore } from "./storage";
import type { BotMessage, TranscriptEntry, UserEntry } from "./types";

export class Conversation {
  private items: TranscriptEntry[];
  private id: string | null;

  constructor(private readonly store: ConversationStore) {
    const { conversationId, entries } = store.loadTranscript();
    this.id = conversationId;
    this.items = entries;
  }

  get entries(): readonly TranscriptEntry[] {
    return this.items;
  }

  get conversationId(): string | null {
    return this.id;
  }

  /**
   * Binds the transcript to the conversation the server confirmed. A different
   * conversation (the old session expired) starts a new transcript; messages not sent
   * yet are kept, to be sent in the new one.
   *
   * @returns Whether the conversation is a new one for a transcript that had entries.
   */
  confirm(conversationId: string): boolean {
    const replaced = this.id !== null && this.id !== conversationId && this.items.length > 0;
    if (replaced) this.items = this.items.filter((entry) => entry.kind === "user" && entry.status === "pending");
    this.id = conversationId;
    this.save();
    return replaced;
  }

  addUser(text: string, message: string, messageId: string, sent: boolean): UserEntry {
    const entry: UserEntry = { kind: "user", text, message, messageId, status: sent ? "sent" : "pending" };
    this.items.push(entry);
    this.save();
    return entry;
  }

  /** The shopper's messages still waiting for a connection, oldest first. */
  pending(): UserEntry[] {
    return this.items.filter((entry): entry is UserEntry => entry.kind === "user" && entry.status === "pending");
  }

  markSent(messageId: string): void {
    for (const entry of this.items) {
      if (entry.kind === "user" && entry.messageId === messageId) entry.status = "sent";
    }
    this.save();
  }

  addBot(message: BotMessage): void {
    this.items.push({ kind: "bot", ...message });
    this.save();
  }

  addNotice(text: string): void {
    this.items.push({ kind: "notice", text });
    this.save();
  }

  /** Whether the quick replies of the entry at `index` can still be clicked: no message of the shopper came after it. */
  repliesActive(index: number): boolean {
    return this.items.slice(index + 1).every((entry) => entry.kind !== "user");
  }

  private save(): void {
    this.store.saveTranscript(this.id, this.items);
  }
}
