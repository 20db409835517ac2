// herald.d.ts -- hand-written types of herald.js (checked by tsc in ctest: clients.js_types).
//
// Kept next to herald.js and published with it (package.json "types").
// Every name here is documented in clients/js/README.md.

/** A JWT string, or a function returning one (or a promise of one). */
export type TokenSource = string | (() => string | PromiseLike<string>);

/** Where resume positions are kept: sessionStorage, or anything with the same two calls. */
export interface PositionStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** The WebSocket constructor herald.js opens sockets with (browsers: the global one; Node: `ws`). */
export type WebSocketConstructor = new (url: string) => any;

export interface ConnectOptions {
  /** Required. A function is called again before every connect and before `exp` to refresh. */
  token: TokenSource;
  /** Names the application in the stored resume position's key (default: the set of gateway URLs). */
  app?: string;
  /** With a token function: how long before the token's `exp` it is refreshed (ms, default 30000). */
  refreshBefore?: number;
  /** Default `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** Default `sessionStorage`; `null` keeps positions in memory only. */
  storage?: PositionStorage | null;
  /** Reconnect backoff base (ms, default 250). */
  backoffBase?: number;
  /** Reconnect backoff cap (ms, default 10000). */
  backoffCap?: number;
  /** A ping is sent this often; nothing received for a whole interval drops the link with 4101 (ms, default 25000; 0 = no pings). */
  pingInterval?: number;
  /** No welcome this long after opening the socket drops it with 4100 (ms, default 15000). */
  welcomeTimeout?: number;
  /** `false`: an `error` with no handler is not written to console.warn (default true). */
  logErrors?: boolean;
}

/** The second argument of a producer event's handler. */
export interface EventMeta {
  /** The broker-wide offset of the event. */
  offset: number;
  /** The producer's own id, when it gave one. */
  id?: string;
  /** The event name. */
  event: string;
}

/** A channel event's meta: the event's own, plus the channel. */
export interface ChannelEventMeta extends EventMeta {
  channel: string;
}

export interface ConnectInfo {
  /** The gateway replayed everything missed since the resume position. */
  recovered: boolean;
  epoch: string;
  offset: number;
  /** A resume position was sent. */
  resumed: boolean;
  user: string;
  /** The gateway URL this connection went to. */
  url: string;
}

export interface ReconnectingInfo {
  /** 1 for the first retry after a welcome, then 2, 3, ... */
  attempt: number;
  /** The backoff before it (ms). */
  delay: number;
  /** The URL it will try (the next one of the list). */
  url: string;
  /** What ended the last socket (as in DisconnectInfo). */
  code: number;
  reason: string;
}

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

export interface StateInfo {
  state: ConnectionState;
  /** null for the first, `connecting`. */
  previous: ConnectionState | null;
  /** On connecting/connected: the URL. */
  url?: string;
  /** On reconnecting/disconnected: what ended the last socket. */
  code?: number;
  reason?: string;
}

/** What `error` handlers get: an Error, with `reason` and `event` or `channel` where they apply. */
export interface HeraldError extends Error {
  reason?: string;
  event?: string;
  channel?: string;
}

/** An `error` about h.send: the gateway refused it, or it was too large to send. */
export interface SendError extends Error {
  /** `upstream` (event not allowed), `too_large`, `rate`. */
  reason: 'upstream' | 'too_large' | 'rate';
  event?: string;
}

export interface DisconnectInfo {
  /** The close code (a gateway's, 4100/4101 of herald.js's own timers, 0 when no socket opened). */
  code: number;
  reason: string;
  /** Whether herald.js will connect again. */
  reconnect: boolean;
  /** The backoff before that (ms). */
  delay: number;
}

export interface SubscribedInfo {
  channel: string;
  recovered: boolean;
  epoch: string;
  offset: number;
  resumed: boolean;
}

/** The error a refused subscribe reports. */
export interface ChannelError extends Error {
  channel: string;
  /** `forbidden`, `bad_token`, `bad_channel`, `limit`, ... */
  reason: string;
}

export type ChannelHandler = (event: string, data: any, meta: ChannelEventMeta) => void;

export interface SubscribeOptions {
  /** A subscription token (or a function of the channel name) for a channel the connection token does not cover. */
  token?: string | ((channel: string) => string | PromiseLike<string>);
  onSubscribed?: (info: SubscribedInfo) => void;
  onError?: (err: ChannelError) => void;
}

export interface Subscription {
  readonly channel: string;
  unsubscribe(): void;
}

/** The lifecycle events and their handlers' arguments. */
export interface LifecycleEvents {
  /** Every state change. */
  state: (info: StateInfo) => void;
  /** Once, at the start. */
  connecting: (info: { url: string }) => void;
  /** Every welcome that makes the connection connected. */
  connected: (info: ConnectInfo) => void;
  /** Once per lost connection (see the README). */
  disconnected: (info: DisconnectInfo) => void;
  /** Every retry scheduled. */
  reconnecting: (info: ReconnectingInfo) => void;
  /** Every welcome, a broker restart's second one included. */
  connect: (info: ConnectInfo) => void;
  /** Every socket that closed or failed to open, failed retries included. */
  disconnect: (info: DisconnectInfo) => void;
  /** Errors; a SendError for h.send, a ChannelError for a refused subscribe without onError. */
  error: (err: HeraldError) => void;
}

/** A handler of every event of the connection, with its name. */
export type AnyHandler = (event: string, data: any, meta: EventMeta) => void;

/** A producer event's handler. */
export type EventHandler = (data: any, meta: EventMeta) => void;

/** The handler `on(name)` takes: a lifecycle event's, or a producer event's. */
export type HandlerFor<K extends string> = K extends keyof LifecycleEvents ? LifecycleEvents[K] : EventHandler;

export interface Connection {
  /** The gateway URL in use (or tried next). */
  readonly url: string;
  /** Every gateway URL given, in the order tried. */
  readonly urls: readonly string[];
  readonly state: ConnectionState;
  /** The user of the last welcome, or null. */
  readonly user: string | null;
  /** The last position seen (the welcome's, then each event's). */
  readonly epoch: string | null;
  readonly offset: number | null;
  /** The current token's `exp` (seconds), or null. */
  readonly tokenExp: number | null;

  /** Registers a handler for a lifecycle event or a producer event name; returns a function that removes it. */
  on<K extends string>(name: K, fn: HandlerFor<K>): () => void;
  off<K extends string>(name: K, fn: HandlerFor<K>): void;
  /** Registers fn for every event of the connection (its user's and broadcasts); returns its remover. */
  onAny(fn: AnyHandler): () => void;
  offAny(fn: AnyHandler): void;

  /**
   * Sends `{"type":"send","event":event,"data":data}` to the backend. True when handed to the
   * open socket; false when not connected or over 8 KiB. Throws TypeError for a bad event name.
   */
  send(event: string, data?: unknown): boolean;

  /** Follows a channel; resubscribed with its own position after every reconnect. */
  subscribe(channel: string, handler: ChannelHandler, options?: SubscribeOptions): Subscription;

  /** Closes the connection and stops reconnecting; the stored position stays. */
  close(): void;
}

/** Opens a connection that keeps itself connected until close(). */
export function connect(url: string | readonly string[], options: ConnectOptions): Connection;

declare const herald: { connect: typeof connect };
export default herald;
