// Types for hero-client.js (the plain script: a global `HeroClient` in a page, `require()` in Node).
// The ES module build has the same types in hero-client.d.mts.

declare namespace HeroClient {
  interface Options {
    /** WebSocket address; default ws(s)://<the page's host>/ws (required outside a browser). */
    url?: string;
    /** HTTP API address for actions while not connected; default from `url` (ws://host/ws -> http://host/api). */
    httpUrl?: string;
    /** Session fingerprint to share with HTTP requests (sent as ?sessionID= and X-SessionID). */
    sessionID?: string;
    /** WebSocket constructor when there is no global one (Node before 22: `require("ws")`). */
    WebSocket?: WebSocketConstructor;
    /** fetch() for the HTTP fallback when there is no global one. */
    fetch?: (url: string, init?: any) => Promise<any>;
    /** Reconnect with backoff after an unexpected close (default true). */
    reconnect?: boolean;
    /** Backoff bounds in ms (defaults 500 and 30000). */
    minDelay?: number;
    maxDelay?: number;
    /** Milliseconds to wait for a reply (default 30000). */
    timeout?: number;
  }

  interface WebSocketLike {
    onmessage: ((event: { data: any }) => void) | null;
    onerror: ((event: any) => void) | null;
    onclose: ((event: { code: number; reason: string }) => void) | null;
    send(data: string): void;
    close(code?: number): void;
  }

  type WebSocketConstructor = new (url: string) => WebSocketLike;

  type State = "closed" | "connecting" | "open";

  interface Welcome {
    welcome: string;
    context: "api";
  }

  /** An action's reply: its response, plus `context` and `messageId` (the same over HTTP). */
  type ActionReply<T extends object = Record<string, any>> = T & {
    context: "response";
    messageId: string | number;
    error?: undefined;
  };

  interface ChatMessage<M = unknown> {
    context: "user";
    /** The sender's connection id ("0" for the server itself). */
    from: string;
    room: string;
    message: M;
    sentAt: number;
  }

  interface RoomStatus {
    room: string;
    members: Record<string, { id: string; joinedAt: number }>;
    membersCount: number;
  }

  interface Details {
    id: string;
    fingerprint: string;
    type: string;
    remoteIP: string;
    remotePort: number;
    params: Record<string, unknown>;
    connectedAt: number;
    rooms: string[];
    totalActions: number;
    pendingActions: number;
  }

  interface FileReply {
    content: string;
    mime: string;
    length: number;
    lastModified: number;
  }

  interface CloseEvent {
    code: number;
    reason: string;
  }

  /** What a failed action or verb rejects with. */
  interface ReplyError extends Error {
    /** The whole reply. */
    response?: Record<string, any>;
    /** The HTTP status, when the action went over HTTP. */
    status?: number;
  }

  interface Events {
    welcome: Welcome;
    open: Welcome;
    /** Back after an unexpected close, its rooms joined again (a room that refused is dropped). */
    reconnect: Welcome;
    say: ChatMessage;
    close: CloseEvent;
    error: unknown;
    message: Record<string, any>;
  }
}

declare class HeroClient {
  constructor(options?: HeroClient.Options);

  /** The HTTP API address beside a WebSocket address (null when `url` is not ws:// or wss://). */
  static httpUrlFor(url: string): string | null;

  readonly url: string;
  readonly httpUrl: string | null;
  /** The session fingerprint, once given or learned. */
  fingerprint: string | null;
  state: HeroClient.State;
  welcome: HeroClient.Welcome | null;
  /** Rooms joined; rejoined after a reconnect. */
  rooms: string[];
  reconnect: boolean;
  minDelay: number;
  maxDelay: number;
  timeout: number;

  on<E extends keyof HeroClient.Events>(event: E, handler: (value: HeroClient.Events[E]) => void): this;
  off<E extends keyof HeroClient.Events>(event: E, handler: (value: HeroClient.Events[E]) => void): this;

  /** Open the socket; resolves with the welcome message. */
  connect(): Promise<HeroClient.Welcome>;
  /** Close for good (no reconnect). */
  disconnect(): void;

  /** Run an action, over the socket when open, else over HTTP (`/api/<name>`). */
  action<T extends object = Record<string, any>>(name: string, params?: Record<string, unknown>): Promise<HeroClient.ActionReply<T>>;
  /** Send one event and wait for its reply (matched by messageId). */
  send(message: Record<string, unknown>, verb?: boolean): Promise<any>;
  verb(event: string, fields?: Record<string, unknown>): Promise<any>;
  roomAdd(room: string): Promise<boolean>;
  roomLeave(room: string): Promise<boolean>;
  roomView(room: string): Promise<HeroClient.RoomStatus>;
  say(room: string, message: unknown): Promise<boolean>;
  detailsView(): Promise<HeroClient.Details>;
  documentation(): Promise<Record<string, any>>;
  file(path: string): Promise<HeroClient.FileReply>;
}

export = HeroClient;
export as namespace HeroClient;
