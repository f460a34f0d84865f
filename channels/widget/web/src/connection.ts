// The socket.io connection to the Rasa widget channel (notes/widget-contract.md):
// authenticates with the stored session token, else the shop's shopper token, else
// anonymously; reconnects by itself after a network drop and resumes the same session.

import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";

import { parseBotMessage, parseSessionConfirm, parseTyping, parseWidgetError, SOCKET_PATH } from "./protocol";
import type { ConversationStore } from "./storage";
import { TEXTS } from "./texts";
import type { BotMessage, SessionConfirm, WidgetError } from "./types";

/**
 * idle: not started; connecting: first connect; online: session confirmed;
 * reconnecting: connection lost, retrying; refused: the server turned us away.
 */
export type ConnectionState = "idle" | "connecting" | "online" | "reconnecting" | "refused";

export interface ConnectionEvents {
  state(state: ConnectionState, refusal?: WidgetError): void;
  session(confirm: SessionConfirm): void;
  botMessage(message: BotMessage): void;
  typing(typing: boolean): void;
  widgetError(error: WidgetError): void;
}

export type Connect = (url: string, options: Partial<ManagerOptions & SocketOptions>) => Socket;

/** Codes of a refused connect after which a fresh session is worth asking for. */
const STALE_SESSION_CODES = new Set(["invalid_token", "expired_token"]);

export class ChatConnection {
  private socket: Socket | null = null;
  private current: ConnectionState = "idle";
  /** Which credential the latest connect attempt used. */
  private usedSessionToken = false;

  constructor(
    private readonly serverUrl: string,
    private readonly shopperToken: string | null,
    private readonly store: ConversationStore,
    private readonly events: ConnectionEvents,
    private readonly connect: Connect = io,
    private readonly win: Window = window,
  ) {}

  get state(): ConnectionState {
    return this.current;
  }

  /** Connects, once; later calls do nothing. */
  start(): void {
    if (this.socket) return;
    this.setState("connecting");
    const socket = this.connect(this.serverUrl, {
      path: SOCKET_PATH,
      // Called before every (re)connect, so a reconnect resumes the session confirmed last.
      auth: (send) => send(this.credentials()),
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      timeout: 10000,
    });
    this.socket = socket;
    socket.on("session_confirm", (data: unknown) => {
      const confirm = parseSessionConfirm(data);
      if (!confirm) return;
      this.store.sessionToken = confirm.sessionToken;
      this.setState("online");
      this.events.session(confirm);
    });
    socket.on("bot_uttered", (data: unknown) => {
      const message = parseBotMessage(data);
      if (message) this.events.botMessage(message);
    });
    socket.on("bot_typing", (data: unknown) => {
      const typing = parseTyping(data);
      if (typing !== null) this.events.typing(typing);
    });
    socket.on("widget_error", (data: unknown) => {
      const error = parseWidgetError(data);
      if (error) this.events.widgetError(error);
    });
    socket.on("disconnect", (reason) => {
      this.events.typing(false);
      this.setState("reconnecting");
      // The server closed the session itself: socket.io does not retry that on its own.
      if (reason === "io server disconnect") this.win.setTimeout(() => socket.connect(), 2000);
    });
    socket.on("connect_error", (error: Error & { data?: unknown }) => this.connectFailed(socket, error));
    // A dropped network can leave a dead websocket open for the server's ping timeout
    // (45 s); close it at once so the retries (and the "reconnecting" state) start now.
    this.win.addEventListener("offline", () => socket.io.engine?.close());
  }

  /**
   * Sends one shopper message.
   *
   * @returns false when there is no confirmed session now: the caller keeps the message
   *   and sends it again after the next `session` event.
   */
  send(message: string, messageId: string): boolean {
    if (!this.socket?.connected || this.current !== "online") return false;
    this.socket.emit("user_uttered", { message, message_id: messageId });
    return true;
  }

  private credentials(): Record<string, string> {
    const sessionToken = this.store.sessionToken;
    this.usedSessionToken = sessionToken !== null;
    if (sessionToken) return { session_token: sessionToken };
    return this.shopperToken ? { shopper_token: this.shopperToken } : {};
  }

  private connectFailed(socket: Socket, error: Error & { data?: unknown }): void {
    if (socket.active) {
      // A network error: socket.io retries by itself.
      if (this.current !== "connecting") this.setState("reconnecting");
      return;
    }
    const refusal = parseWidgetError(error.data) ?? { code: "refused", message: TEXTS.refused };
    if (this.usedSessionToken && STALE_SESSION_CODES.has(refusal.code)) {
      // The stored session is no longer valid: start a new one with the shop's credentials.
      this.store.sessionToken = null;
      socket.connect();
      return;
    }
    this.setState("refused", refusal);
  }

  private setState(state: ConnectionState, refusal?: WidgetError): void {
    this.current = state;
    this.events.state(state, refusal);
  }
}
